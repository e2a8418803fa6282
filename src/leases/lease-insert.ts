// The issuance write on the hot path: a new lease row and its audit rows in one statement (a
// data-modifying CTE), so one round trip and one implicit transaction, with no ORM query building.
import { getTableColumns } from 'drizzle-orm';
import type postgres from 'postgres';
import { type AuditEntry, auditInsert } from '../audit/audit-log.js';
import { type Lease, leases, type NewLease } from '../db/schema/index.js';

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
 * Inserts `lease` (every column: see completeLease) with `audits`, atomically. The row travels as
 * one jsonb object typed by the table's own row type, so the statement text never changes and
 * postgres.js prepares it once per connection. A duplicate Idempotency-Key fails with 23505.
 */
export async function insertLeaseWithAudit(
  sql: postgres.Sql,
  lease: Lease,
  audits: readonly AuditEntry[],
): Promise<void> {
  const row: Record<string, unknown> = {};
  for (const { key, name } of COLUMNS) row[name] = (lease as Record<string, unknown>)[key];
  await sql`
    with lease as (
      insert into leases select * from jsonb_populate_record(null::leases, ${JSON.stringify(row)}::jsonb)
    ), audit as (${auditInsert(sql, audits)})
    select 1`;
}
