// CIBA poll mode's `interval` (CIBA §7.3, §11): a client polling one auth_req_id faster than that
// gets `slow_down`. The last poll time lives on the approval row, and the check-and-set is one
// conditional UPDATE, so two polls that reach two replicas at once cannot both pass.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';

export type PollClaim = 'ok' | 'slow_down';

/**
 * Records a poll of `approvalId` at `now` unless the previous one was less than `intervalSeconds`
 * ago. The caller has already checked that the approval exists and is the caller's own.
 */
export async function claimPoll(db: DbOrTx, approvalId: string, now: Date, intervalSeconds: number): Promise<PollClaim> {
  const earliest = new Date(now.getTime() - intervalSeconds * 1000);
  const rows = await db.execute<{ id: string }>(sql`
    update approvals set last_polled_at = ${now.toISOString()}::timestamptz
    where id = ${approvalId}::uuid
      and (last_polled_at is null or last_polled_at <= ${earliest.toISOString()}::timestamptz)
    returning id`);
  return rows.length > 0 ? 'ok' : 'slow_down';
}

/** The request that opened the step-up counts as the first poll. */
export async function markPolled(db: DbOrTx, approvalId: string, now: Date): Promise<void> {
  await db.execute(sql`update approvals set last_polled_at = ${now.toISOString()}::timestamptz where id = ${approvalId}::uuid`);
}
