// Retention: lease rows that reached a final state long ago are deleted in batches by the sweeper,
// so the table (and every index on it) stays the size of recent work. Audit rows are never deleted
// here: they are the record, and name the lease by id.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { FINISHED_STATES } from '../db/schema/index.js';

/**
 * Deletes at most `batch` leases that finished (revoked, expired, denied, issue_failed) before
 * `olderThan`, and their step-up request rows. SKIP LOCKED: replicas pruning at once share the work.
 */
export async function pruneFinishedLeases(db: Db, olderThan: Date, batch: number): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    with old as (
      select id from leases
      where state in ${FINISHED_STATES} and updated_at < ${olderThan.toISOString()}::timestamptz
      order by updated_at limit ${batch} for update skip locked
    ), gone as (
      delete from leases l using old where l.id = old.id returning l.id
    ), approvals_gone as (
      delete from approvals a using gone where a.lease_id = gone.id
    )
    select count(*)::int as n from gone`);
  return rows[0]?.n ?? 0;
}
