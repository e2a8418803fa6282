// The one way a lease row is written: a postgres.js fragment (`insert into leases …`) that callers
// embed with the audit rows (and, for a step-up request, the approval row) in one data-modifying
// CTE, so new leases and their records commit in one statement. That statement's final SELECT
// takes the agents' slots (limits.ts), so a new lease is never written past a limit.
import { getTableColumns } from 'drizzle-orm';
import type postgres from 'postgres';
import { type AuditEntry, auditInsert } from '../audit/audit-log.js';
import { type Lease, leases, type NewLease } from '../db/schema/index.js';
import { type AgentLimits, takeLeaseSlots, withinRateLimit, writeWithinLimits } from './limits.js';

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
  if (write.limits.issuancesPerMinutePerAgent > 0) {
    return withinRateLimit(sql, write.lease, write.limits, (tx) => newLeasesStatement(tx, [write]));
  }
  return writeWithinLimits(sql, write.lease.createdAt, () => newLeasesStatement(sql, [write]).execute());
}
