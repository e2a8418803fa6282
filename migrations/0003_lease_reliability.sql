ALTER TABLE "leases" DROP CONSTRAINT "leases_state_check";--> statement-breakpoint
DROP INDEX "leases_revoking_idx";--> statement-breakpoint
ALTER TABLE "leases" ADD COLUMN "claimed_by" integer;--> statement-breakpoint
CREATE INDEX "leases_finished_idx" ON "leases" USING btree ("updated_at") WHERE "leases"."state" in ('revoked','expired','denied','issue_failed');--> statement-breakpoint
CREATE INDEX "leases_revoking_idx" ON "leases" USING btree ("next_attempt_at") WHERE "leases"."state" in ('revoking','revoke_failed');--> statement-breakpoint
ALTER TABLE "leases" ADD CONSTRAINT "leases_state_check" CHECK ("leases"."state" in ('pending_approval','issuing','active','revoking','revoke_failed','revoked','expired','denied','issue_failed'));