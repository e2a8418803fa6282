// The one way a lease row is written: a postgres.js fragment (`insert into leases …`) that callers
// embed with the audit rows (and, for a step-up request, the approval row) in one data-modifying
// CTE, so a new lease and its records commit in one statement. A new lease is written only inside
// the agent's quota (limits.ts), checked in the same transaction under the agent's lock.
import { getTableColumns } from 'drizzle-orm';
import type postgres from 'postgres';
import { type AuditEntry, auditInsert } from '../audit/audit-log.js';
import { type Lease, leases, type NewLease } from '../db/schema/index.js';
import { type AgentLimits, withinAgentLimits } from './limits.js';

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
 * `insert into leases …` for `lease` (every column: see completeLease). The row travels as one
 * jsonb object typed by the table's own row type, so the statement text never changes and
 * postgres.js prepares it once per connection. A duplicate Idempotency-Key fails with 23505.
 */
export function leaseInsert(sql: Sql, lease: Lease): Fragment {
  const row: Record<string, unknown> = {};
  for (const { key, name } of COLUMNS) row[name] = (lease as Record<string, unknown>)[key];
  return sql`insert into leases select * from jsonb_populate_record(null::leases, ${JSON.stringify(row)}::jsonb)`;
}

/** Inserts `lease` with `audits`, atomically, inside the agent's limits (else a 429 Problem). */
export async function insertLeaseWithAudit(
  sql: postgres.Sql,
  lease: Lease,
  audits: readonly AuditEntry[],
  limits: AgentLimits,
): Promise<void> {
  await withinAgentLimits(
    sql,
    lease,
    limits,
    (tx) => tx`with lease as (${leaseInsert(tx, lease)}), audit as (${auditInsert(tx, audits)}) select 1`,
  );
}
