// A throw-away target database for the postgres provider: a few tables (one with a hostile name),
// a non-superuser admin holding only what docs/postgres-provider.md asks for, and a role prefix of
// its own, so suites running in parallel on one server never see each other's roles.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { ADMIN_URL } from './db.js';

/** The table a hostile name tries to drop, and the hostile names themselves (schema public). */
export const VICTIM_TABLE = 'y';
export const HOSTILE_TABLE = 'x; DROP TABLE y';
export const QUOTE_DOT_TABLE = 'odd".name';

export interface TargetDatabase {
  name: string;
  /** Superuser admin URL of the database (what TARGET_<NAME>_URL holds in most tests). */
  url: string;
  /** Admin URL of a non-superuser with CREATEROLE and grant options only. */
  restrictedAdminUrl: string;
  restrictedAdmin: string;
  /** Unique to this database: pass it as the provider's rolePrefix. */
  rolePrefix: string;
  /** A superuser connection to the database, for assertions. */
  sql: postgres.Sql;
  drop(): Promise<void>;
}

function withDatabase(
  serverUrl: string,
  database: string,
  user?: { name: string; password: string },
): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  if (user) {
    url.username = user.name;
    url.password = user.password;
  }
  return url.toString();
}

/** `serverUrl` is a superuser URL of any database on the server (default: the machine's PostgreSQL). */
export async function createTargetDatabase(serverUrl = ADMIN_URL): Promise<TargetDatabase> {
  const tag = randomBytes(4).toString('hex');
  const name = `jit_target_${tag}`;
  const rolePrefix = `jt_${tag}_`;
  const restrictedAdmin = `${rolePrefix}admin`;
  const adminPassword = randomBytes(16).toString('hex');

  const server = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await server.unsafe(`create database "${name}"`);
    await server.unsafe(`create role "${restrictedAdmin}" login createrole password '${adminPassword}'`);
  } finally {
    await server.end();
  }

  const url = withDatabase(serverUrl, name);
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  await sql.unsafe(`
    create table public.customers (id int primary key, name text not null);
    create table public.orders (id serial primary key, customer_id int not null references public.customers, total numeric(10, 2) not null);
    create table public.secrets (id int primary key, secret text not null);
    create table public.${VICTIM_TABLE} (id int);
    create table public."${HOSTILE_TABLE}" (id int);
    create table public."${QUOTE_DOT_TABLE.replaceAll('"', '""')}" (id int);
    insert into public.customers values (1, 'Ada'), (2, 'Grace');
    insert into public.orders (customer_id, total) values (1, 10.50), (2, 99.00);
    insert into public.secrets values (1, 'the launch codes');
    insert into public.${VICTIM_TABLE} values (1);
    insert into public."${HOSTILE_TABLE}" values (7);
    grant usage on schema public to "${restrictedAdmin}" with grant option;
    grant select, insert, update, delete on all tables in schema public to "${restrictedAdmin}" with grant option;
    grant usage on all sequences in schema public to "${restrictedAdmin}" with grant option;
  `);

  return {
    name,
    url,
    restrictedAdminUrl: withDatabase(serverUrl, name, { name: restrictedAdmin, password: adminPassword }),
    restrictedAdmin,
    rolePrefix,
    sql,
    drop: async () => {
      await sql.end({ timeout: 5 });
      const s = postgres(serverUrl, { max: 1, onnotice: () => {} });
      try {
        await s.unsafe(`drop database if exists "${name}" with (force)`);
        // Roles are cluster-wide: drop what this suite's provider left behind, the admin last.
        const roles = await s<{ rolname: string }[]>`
          select rolname from pg_roles where left(rolname, ${rolePrefix.length}::int) = ${rolePrefix}
          order by rolname = ${restrictedAdmin}, rolname`;
        for (const { rolname } of roles) await s.unsafe(`drop role if exists "${rolname}"`);
      } finally {
        await s.end();
      }
    },
  };
}
