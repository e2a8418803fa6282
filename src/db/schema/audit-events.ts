// Append-only audit log. Rows are inserted without a hash so concurrent requests never serialise
// on the chain head; the sealer later assigns `seq` and links each row to the previous one.
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    /** e.g. `decision`, `lease.issued`, `lease.revoked`, `approval.approved`. */
    event: text('event').notNull(),
    requestId: text('request_id'),
    agent: text('agent'),
    agentIssuer: text('agent_issuer'),
    onBehalfOf: jsonb('on_behalf_of').$type<{ sub: string; issuer: string }>(),
    /** Staff member or system component that acted (`sweeper`, `webhook:anomaly`). */
    actor: text('actor'),
    leaseId: uuid('lease_id'),
    template: text('template'),
    intent: jsonb('intent').$type<Record<string, unknown>>(),
    decision: text('decision'),
    policies: jsonb('policies').$type<string[]>(),
    reasons: jsonb('reasons').$type<string[]>(),
    policyVersion: text('policy_version'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
    /** HMAC of the content under a key derived from BROKER_MASTER_KEY, written with the row (src/audit/audit-hash.ts). */
    mac: text('mac'),
    /** Set by the sealer on a row whose MAC does not verify: it is never sealed into the chain. */
    refusedAt: timestamp('refused_at', { withTimezone: true }),
    /** Position in the hash chain, assigned by the sealer. */
    seq: bigint('seq', { mode: 'number' }),
    prevHash: text('prev_hash'),
    hash: text('hash'),
  },
  (t) => [
    index('audit_lease_idx').on(t.leaseId),
    index('audit_agent_idx').on(t.agent, t.id),
    index('audit_at_idx').on(t.at),
    uniqueIndex('audit_seq_idx').on(t.seq),
    index('audit_unsealed_idx').on(t.id).where(sql`${t.seq} is null and ${t.refusedAt} is null`),
    // Every genuine MAC is unique (it covers a random nonce): a copied row is refused at insert.
    uniqueIndex('audit_mac_idx').on(t.mac),
  ],
);

export type AuditEvent = typeof auditEvents.$inferSelect;
export type NewAuditEvent = typeof auditEvents.$inferInsert;
