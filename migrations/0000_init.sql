CREATE TABLE "approval_votes" (
	"approval_id" uuid NOT NULL,
	"approver" text NOT NULL,
	"approver_issuer" text NOT NULL,
	"reason" text,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "approval_votes_approval_id_approver_pk" PRIMARY KEY("approval_id","approver")
);
--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" uuid PRIMARY KEY NOT NULL,
	"lease_id" uuid NOT NULL,
	"status" text NOT NULL,
	"group" text NOT NULL,
	"required_approvals" integer NOT NULL,
	"context" jsonb NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone,
	"decided_by" text,
	"reason" text,
	"collected_at" timestamp with time zone,
	CONSTRAINT "approvals_status_check" CHECK ("approvals"."status" in ('pending','approved','denied','expired','collected'))
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"event" text NOT NULL,
	"request_id" text,
	"agent" text,
	"agent_issuer" text,
	"on_behalf_of" jsonb,
	"actor" text,
	"lease_id" uuid,
	"template" text,
	"intent" jsonb,
	"decision" text,
	"policies" jsonb,
	"reasons" jsonb,
	"policy_version" text,
	"detail" jsonb,
	"seq" bigint,
	"prev_hash" text,
	"hash" text
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"id" uuid PRIMARY KEY NOT NULL,
	"state" text NOT NULL,
	"template" text NOT NULL,
	"provider" text NOT NULL,
	"agent" text NOT NULL,
	"agent_issuer" text NOT NULL,
	"on_behalf_of" jsonb,
	"task_id" text NOT NULL,
	"intent" jsonb NOT NULL,
	"grant" jsonb NOT NULL,
	"revocation" jsonb,
	"policy_version" text NOT NULL,
	"policies" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"requested_ttl_seconds" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"issued_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"max_expires_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoke_reason" text,
	"revoke_outcome" text,
	"revoke_attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone,
	"last_error" text,
	"idempotency_key" text,
	"request_hash" text,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "leases_state_check" CHECK ("leases"."state" in ('pending_approval','issuing','active','revoking','revoked','expired','denied','issue_failed'))
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_key_enc" "bytea" NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"retired_at" timestamp with time zone,
	"publish_until" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"delivery_id" text PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "approvals_status_idx" ON "approvals" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "approvals_lease_idx" ON "approvals" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "audit_lease_idx" ON "audit_events" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "audit_agent_idx" ON "audit_events" USING btree ("agent","id");--> statement-breakpoint
CREATE INDEX "audit_at_idx" ON "audit_events" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_seq_idx" ON "audit_events" USING btree ("seq");--> statement-breakpoint
CREATE INDEX "audit_unsealed_idx" ON "audit_events" USING btree ("id") WHERE "audit_events"."seq" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "leases_idempotency_idx" ON "leases" USING btree ("agent_issuer","agent","idempotency_key") WHERE "leases"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "leases_agent_task_idx" ON "leases" USING btree ("agent","task_id");--> statement-breakpoint
CREATE INDEX "leases_task_idx" ON "leases" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "leases_template_idx" ON "leases" USING btree ("template");--> statement-breakpoint
CREATE INDEX "leases_due_idx" ON "leases" USING btree ("expires_at") WHERE "leases"."state" in ('active','issuing');--> statement-breakpoint
CREATE INDEX "leases_revoking_idx" ON "leases" USING btree ("next_attempt_at") WHERE "leases"."state" = 'revoking';