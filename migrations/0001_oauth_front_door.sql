ALTER TABLE "approvals" ADD COLUMN "last_polled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "leases" ADD COLUMN "parent_lease_id" uuid;--> statement-breakpoint
ALTER TABLE "leases" ADD COLUMN "delegation" jsonb;--> statement-breakpoint
ALTER TABLE "leases" ADD COLUMN "token_type" text;--> statement-breakpoint
ALTER TABLE "leases" ADD COLUMN "client_id" text;--> statement-breakpoint
CREATE INDEX "leases_parent_idx" ON "leases" USING btree ("parent_lease_id") WHERE "leases"."parent_lease_id" is not null;