DROP INDEX "audit_unsealed_idx";--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "mac" text;--> statement-breakpoint
ALTER TABLE "audit_events" ADD COLUMN "refused_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "audit_mac_idx" ON "audit_events" USING btree ("mac");--> statement-breakpoint
CREATE INDEX "audit_unsealed_idx" ON "audit_events" USING btree ("id") WHERE "audit_events"."seq" is null and "audit_events"."refused_at" is null;