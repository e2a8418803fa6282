-- The example target database for the orders-db-read template.
CREATE DATABASE orders;
\connect orders
CREATE TABLE public.orders (id serial PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2) NOT NULL);
CREATE TABLE public.customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.payment_secrets (id serial PRIMARY KEY, card text NOT NULL);
INSERT INTO public.customers (name) VALUES ('Ada'), ('Grace');
INSERT INTO public.orders (customer_id, total) VALUES (1, 42.00), (2, 17.50);
