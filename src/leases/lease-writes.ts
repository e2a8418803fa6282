// The one way a lease row is written: a postgres.js fragment (`insert into leases …`) that callers
// embed with the audit rows (and, for a step-up request, the approval row) in one data-modifying
// CTE, so new leases and their records commit in one statement. That statement's final SELECT
// takes the agents' slots (limits.ts), so a new lease is never written past a limit.
import { getTableColumns } from 'drizzle-orm';
import type postgres from 'postgres';
import { type AuditEntry, auditInsert } from '../audit/audit-log.js';
import { type Lease, type LeaseState, leases, type NewLease } from '../db/schema/index.js';
import { type AgentLimits, takeLeaseSlots, writeNewLease } from './limits.js';

type Sql = postgres.Sql | postgres.TransactionSql;
type Fragment = postgres.PendingQuery<postgres.Row[]>;

const COLUMNS = Object.entries(getTableColumns(leases)).map(([key, column]) => ({ key, name: column.name }));

/** Every column of a lease about to be inserted; what the caller left out gets the table's default. */
export function completeLease(row: NewLease): Lease {
  const lease: Record<string, unknown> = {};
  for (const { key } of COLUMNS) lease[key] = (row as Record<string, unknown>)[key] ?? null;
  lease.policies ??= [];
  lease.revokeAttempts ??= 0;
  return lease as Lease;
}

/**
 * `insert into leases …` for `rows` (every column: see completeLease). The rows travel as one
 * jsonb array typed by the table's own row type, so the statement text never changes, whatever
 * the number of rows, and postgres.js prepares it once per connection. A duplicate
 * Idempotency-Key fails with 23505.
 */
export function leaseInsert(sql: Sql, rows: readonly Lease[]): Fragment {
  const json = rows.map((lease) => {
    const row: Record<string, unknown> = {};
    for (const { key, name } of COLUMNS) row[name] = (lease as Record<string, unknown>)[key];
    return row;
  });
  return sql`insert into leases select * from jsonb_populate_recordset(null::leases, ${JSON.stringify(json)}::jsonb)`;
}

/** A new lease to write, with its audit rows, inside the agent's limits. */
export interface NewLeaseWrite {
  lease: Lease;
  audits: readonly AuditEntry[];
  limits: AgentLimits;
}

/** The statement that writes `writes` (one or many) atomically: leases, audit rows, slots. */
export function newLeasesStatement(sql: Sql, writes: readonly NewLeaseWrite[]): Fragment {
  const rows = writes.map((w) => w.lease);
  const audits = writes.flatMap((w) => w.audits);
  return sql`with lease as (${leaseInsert(sql, rows)}), audit as (${auditInsert(sql, audits)})
    ${takeLeaseSlots(sql, writes)}`;
}

/** Writes one new lease with its audit rows, atomically, inside the agent's limits (else a 429). */
export function insertLeaseWithAudit(sql: postgres.Sql, write: NewLeaseWrite): Promise<void> {
  return writeNewLease(sql, write.lease, write.limits, (tx) => newLeasesStatement(tx, [write]));
}

/** The end of an issue at a provider with side effects: what it created, and the lease.issued row. */
export interface FinishIssue {
  /** The lease as written `issuing` (every column). */
  lease: Lease;
  issuedAt: Date;
  revocation: Record<string, unknown> | undefined;
  now: Date;
  audit: AuditEntry;
}

/**
 * Records each lease's revocation data and, where the lease is still `issuing`, makes it `active`
 * and writes its audit row: one statement for any number of leases. A lease revoked meanwhile
 * keeps its state and gains the revocation data the sweeper needs. Returns each lease's state.
 */
export function finishIssueStatement(
  sql: postgres.Sql,
  items: readonly FinishIssue[],
): postgres.PendingQuery<{ id: string; state: LeaseState }[]> {
  const input = items.map((i) => ({
    id: i.lease.id,
    revocation: i.revocation ?? null,
    updated_at: i.now.toISOString(),
    issued_at: i.issuedAt.toISOString(),
  }));
  // In SET, `l.state` is the row's state before this update.
  return sql<{ id: string; state: LeaseState }[]>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(input)}::jsonb)
        as x(id uuid, revocation jsonb, updated_at timestamptz, issued_at timestamptz)),
    lease as (
      update leases l set revocation = i.revocation, updated_at = i.updated_at,
        state = case when l.state = 'issuing' then 'active' else l.state end,
        issued_at = case when l.state = 'issuing' then i.issued_at else l.issued_at end,
        claimed_by = case when l.state = 'issuing' then null else l.claimed_by end
      from input i where l.id = i.id
      returning l.id, l.state),
    audit as (${auditInsert(
      sql,
      items.map((i) => i.audit),
      sql`exists (select 1 from lease where lease.id = r.lease_id and lease.state = 'active')`,
    )})
    select id::text as id, state from lease`;
}

/** The lease as finishIssueStatement left it in `state`. */
export function finishedLease(item: FinishIssue, state: LeaseState): Lease {
  const active = state === 'active';
  return {
    ...item.lease,
    state,
    issuedAt: active ? item.issuedAt : item.lease.issuedAt,
    revocation: item.revocation ?? null,
    updatedAt: item.now,
    claimedBy: active ? null : item.lease.claimedBy,
  };
}
