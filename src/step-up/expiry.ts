// The sweeper's approval task: requests nobody decided in time expire and their leases are
// denied (`approval expired`); an approved request the agent never collected expires after a
// second window as long as the first. Claimed with FOR UPDATE SKIP LOCKED, so replicas share it.
import { and, eq, inArray, lte, or, sql } from 'drizzle-orm';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { Db, DbOrTx } from '../db/client.js';
import { type Approval, approvals, leases } from '../db/schema/index.js';
import { approvalAudit } from './approval-audit.js';
import { type ApprovalRecord, closeApproval } from './approval-store.js';

const BATCH = 100;
export const APPROVAL_EXPIRED = 'approval expired';
export const APPROVAL_NOT_COLLECTED = 'approved credential was not collected in time';

/** Whether an approved request's collection window (as long again as its approval window) has passed. */
export function collectionOverdue(approval: Approval, now: Date): boolean {
  if (approval.status !== 'approved' || approval.decidedAt === null) return false;
  const window = approval.expiresAt.getTime() - approval.createdAt.getTime();
  return approval.decidedAt.getTime() + window <= now.getTime();
}

/** Closes a locked, overdue request as expired and denies its lease; returns the audit rows to write. */
export async function expireRecord(
  tx: DbOrTx,
  record: ApprovalRecord,
  now: Date,
  actor: string,
  requestId: string | undefined,
): Promise<AuditEntry[]> {
  const { approval, lease } = record;
  const reason = approval.status === 'pending' ? APPROVAL_EXPIRED : APPROVAL_NOT_COLLECTED;
  await closeApproval(tx, record, {
    status: 'expired',
    at: now,
    reason,
    decidedBy: null,
    denyLeaseReason: reason,
  });
  const base = { at: now, actor, requestId, decision: 'deny', reasons: [reason] };
  return [
    approvalAudit(approval, lease, { ...base, event: 'approval.expired' }),
    approvalAudit(approval, lease, { ...base, event: 'lease.denied' }),
  ];
}

/** One pass; returns how many requests expired. */
export async function expireApprovals(db: Db, now: Date): Promise<number> {
  let expired = 0;
  for (;;) {
    const { claimed, handled, closed } = await expireBatch(db, now);
    expired += closed;
    if (claimed < BATCH || handled < claimed) return expired;
  }
}

async function expireBatch(db: Db, now: Date): Promise<{ claimed: number; handled: number; closed: number }> {
  const at = now.toISOString();
  return db.transaction(async (tx) => {
    const due = await tx
      .select()
      .from(approvals)
      .where(
        or(
          and(eq(approvals.status, 'pending'), lte(approvals.expiresAt, now)),
          and(
            eq(approvals.status, 'approved'),
            sql`${approvals.decidedAt} + (${approvals.expiresAt} - ${approvals.createdAt}) <= ${at}::timestamptz`,
          ),
        ),
      )
      .orderBy(approvals.expiresAt)
      .limit(BATCH)
      .for('update', { skipLocked: true });
    if (due.length === 0) return { claimed: 0, handled: 0, closed: 0 };
    const rows = await tx
      .select()
      .from(leases)
      .where(
        inArray(
          leases.id,
          due.map((a) => a.leaseId),
        ),
      )
      .for('update');
    const leaseById = new Map(rows.map((l) => [l.id, l]));
    const audits: AuditEntry[] = [];
    let handled = 0;
    let closed = 0;
    for (const approval of due) {
      const lease = leaseById.get(approval.leaseId);
      if (!lease) continue;
      handled++;
      const base = { at: now, actor: 'sweeper', requestId: undefined };
      if (lease.state !== 'pending_approval') {
        // The agent collected but its replica stopped before recording it: bookkeeping only.
        await closeApproval(
          tx,
          { approval, lease },
          { status: 'collected', at: now, reason: null, decidedBy: null },
        );
        audits.push(
          approvalAudit(approval, lease, {
            ...base,
            event: 'approval.collected',
            detail: { lease_state: lease.state },
          }),
        );
        continue;
      }
      audits.push(...(await expireRecord(tx, { approval, lease }, now, 'sweeper', undefined)));
      closed++;
    }
    await recordAudit(tx, audits);
    return { claimed: due.length, handled, closed };
  });
}
