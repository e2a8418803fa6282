// Step-up approvals: one row per pending request, one vote per distinct approver.
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'expired', 'collected'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const approvals = pgTable(
  'approvals',
  {
    id: uuid('id').primaryKey(),
    leaseId: uuid('lease_id').notNull(),
    status: text('status').$type<ApprovalStatus>().notNull(),
    group: text('group').notNull(),
    requiredApprovals: integer('required_approvals').notNull(),
    /** Why step-up was asked: the policies and any risk notes, for the reviewer. */
    context: jsonb('context').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    decidedAt: timestamp('decided_at', { withTimezone: true }),
    decidedBy: text('decided_by'),
    reason: text('reason'),
    collectedAt: timestamp('collected_at', { withTimezone: true }),
    /** Last CIBA poll of the token endpoint: the poll interval holds across replicas. */
    lastPolledAt: timestamp('last_polled_at', { withTimezone: true }),
  },
  (t) => [
    check(
      'approvals_status_check',
      sql`${t.status} in ('pending','approved','denied','expired','collected')`,
    ),
    index('approvals_status_idx').on(t.status, t.createdAt),
    index('approvals_lease_idx').on(t.leaseId),
  ],
);

export const approvalVotes = pgTable(
  'approval_votes',
  {
    approvalId: uuid('approval_id').notNull(),
    approver: text('approver').notNull(),
    approverIssuer: text('approver_issuer').notNull(),
    reason: text('reason'),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.approvalId, t.approver] })],
);

export type Approval = typeof approvals.$inferSelect;
export type ApprovalVote = typeof approvalVotes.$inferSelect;
