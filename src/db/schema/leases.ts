// A lease is one credential's whole life. The row is written before any provider is called and
// keeps only what revocation needs (`revocation`), never the secret itself.
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const LEASE_STATES = [
  'pending_approval',
  'issuing',
  'active',
  'revoking',
  /** Revocation failed REVOKE_MAX_ATTEMPTS times: still retried, slowly, and reported loudly. */
  'revoke_failed',
  'revoked',
  'expired',
  'denied',
  'issue_failed',
] as const;
export type LeaseState = (typeof LEASE_STATES)[number];

/** States that count against an agent's live-lease limits: a credential exists or may be collected. */
export const PENDING_OR_LIVE_STATES = [
  'pending_approval',
  'issuing',
  'active',
] as const satisfies readonly LeaseState[];

/** Final states: nothing exists at a provider any more, and retention may delete the row. */
export const FINISHED_STATES = [
  'revoked',
  'expired',
  'denied',
  'issue_failed',
] as const satisfies readonly LeaseState[];

/** The state a revocation ends in: `issue_failed` is a half-issued lease cleaned up by the sweeper. */
export type RevokeOutcome = 'revoked' | 'expired' | 'issue_failed';

/** States in which a credential may exist at a provider and must still be cleaned up. */
export const LIVE_STATES = [
  'issuing',
  'active',
  'revoking',
  'revoke_failed',
] as const satisfies readonly LeaseState[];

export interface LeaseIntent {
  taskId: string;
  purpose: string;
  actions: string[];
  resources: string[];
}

export interface OnBehalfOf {
  sub: string;
  issuer: string;
}

/** RFC 8693 §4.1 actor claim: the current actor, and nested inside it the ones before. */
export interface ActClaim {
  sub: string;
  act?: ActClaim;
}

/** A lease minted from another broker token (a delegation chain link). Never secret. */
export interface LeaseDelegation {
  /** 1 for a token exchanged from a workload's own token, +1 per further exchange. */
  depth: number;
  /** Every agent subject in the chain, the first delegator first and this lease's agent last. */
  chain: string[];
  /** `sub` of the minted token: the subject of the chain's first token. */
  subject: string;
  act: ActClaim;
  /** ISO time: the parent's expiry when this link was minted; the lease never outlives it. */
  notAfter: string;
}

/** What the jwt provider signs: an access token, or a transaction token for the trust domain. */
export type LeaseTokenType = 'access_token' | 'txn_token';

export const leases = pgTable(
  'leases',
  {
    id: uuid('id').primaryKey(),
    state: text('state').$type<LeaseState>().notNull(),
    template: text('template').notNull(),
    provider: text('provider').notNull(),
    /** Workload subject (`sub`) and the configured name of the issuer that vouched for it. */
    agent: text('agent').notNull(),
    agentIssuer: text('agent_issuer').notNull(),
    onBehalfOf: jsonb('on_behalf_of').$type<OnBehalfOf>(),
    taskId: text('task_id').notNull(),
    intent: jsonb('intent').$type<LeaseIntent>().notNull(),
    /** What the provider granted (scopes, privileges, session policy): never secret. */
    grant: jsonb('grant').$type<Record<string, unknown>>().notNull(),
    /** What the provider needs to revoke (role name, session name, jti). Never a secret. */
    revocation: jsonb('revocation').$type<Record<string, unknown>>(),
    policyVersion: text('policy_version').notNull(),
    policies: jsonb('policies').$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    requestedTtlSeconds: integer('requested_ttl_seconds').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    issuedAt: timestamp('issued_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** issued_at + the smallest max TTL that applied: renewals never pass it. */
    maxExpiresAt: timestamp('max_expires_at', { withTimezone: true }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    revokeReason: text('revoke_reason'),
    /** Final state once the provider confirms revocation. */
    revokeOutcome: text('revoke_outcome').$type<RevokeOutcome>(),
    revokeAttempts: integer('revoke_attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    lastError: text('last_error'),
    /**
     * The broker instance (its advisory lock key) creating or revoking this lease right now; null
     * when nobody is. A dead instance's claims are taken over at once (src/db/broker-instance.ts).
     */
    claimedBy: integer('claimed_by'),
    /** The lease whose token this one was exchanged from; its end ends this one (cascade). */
    parentLeaseId: uuid('parent_lease_id'),
    delegation: jsonb('delegation').$type<LeaseDelegation>(),
    /** Null for an access token (every lease before the token endpoint). */
    tokenType: text('token_type').$type<LeaseTokenType>(),
    /** The OAuth `client_id` a token request named: audited, not authenticated. */
    clientId: text('client_id'),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    check(
      'leases_state_check',
      sql`${t.state} in ('pending_approval','issuing','active','revoking','revoke_failed','revoked','expired','denied','issue_failed')`,
    ),
    uniqueIndex('leases_idempotency_idx')
      .on(t.agentIssuer, t.agent, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    index('leases_agent_task_idx').on(t.agent, t.taskId),
    index('leases_task_idx').on(t.taskId),
    index('leases_template_idx').on(t.template),
    index('leases_parent_idx').on(t.parentLeaseId).where(sql`${t.parentLeaseId} is not null`),
    // The sweeper's two queues: live leases past expiry, and revocations waiting for a retry.
    index('leases_due_idx').on(t.expiresAt).where(sql`${t.state} in ('active','issuing')`),
    index('leases_revoking_idx').on(t.nextAttemptAt).where(sql`${t.state} in ('revoking','revoke_failed')`),
    // Retention's queue: finished leases, oldest first.
    index('leases_finished_idx')
      .on(t.updatedAt)
      .where(sql`${t.state} in ('revoked','expired','denied','issue_failed')`),
  ],
);

export type Lease = typeof leases.$inferSelect;
export type NewLease = typeof leases.$inferInsert;
