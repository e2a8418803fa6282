// CIBA poll mode's `interval` (CIBA §7.3, §11): a client polling one auth_req_id faster than that
// gets `slow_down`. The last poll time lives on the approval row, and the check-and-set is one
// conditional UPDATE, so two polls that reach two replicas at once cannot both pass.
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';

export type PollClaim = 'ok' | 'slow_down' | 'unknown';

export interface PollOwner {
  agent: string;
  agentIssuer: string;
}

/**
 * Records a poll of `approvalId` at `now` unless the previous one was less than `intervalSeconds`
 * ago. `unknown`: no such approval of this agent (someone else's is indistinguishable from none).
 */
export async function claimPoll(
  db: DbOrTx,
  approvalId: string,
  owner: PollOwner,
  now: Date,
  intervalSeconds: number,
): Promise<PollClaim> {
  const earliest = new Date(now.getTime() - intervalSeconds * 1000);
  const mine = sql`a.id = ${approvalId}::uuid and l.id = a.lease_id and l.agent = ${owner.agent}
    and l.agent_issuer = ${owner.agentIssuer}`;
  // A concurrent poll holding the row makes this UPDATE wait, then re-check the condition on the
  // row it wrote: of two polls at once, exactly one is recorded.
  const claimed = await db.execute<{ id: string }>(sql`
    update approvals a set last_polled_at = ${now.toISOString()}::timestamptz
    from leases l
    where ${mine} and (a.last_polled_at is null or a.last_polled_at <= ${earliest.toISOString()}::timestamptz)
    returning a.id`);
  if (claimed.length > 0) return 'ok';
  const found = await db.execute<{ id: string }>(sql`select a.id from approvals a, leases l where ${mine}`);
  return found.length > 0 ? 'slow_down' : 'unknown';
}
