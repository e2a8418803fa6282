// Reads and writes of approval rows. Every state change locks the approval row first and its
// lease second (the same order everywhere, so two replicas never deadlock) and commits together
// with a pg_notify that wakes collectors on every replica.
import { and, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { decodeCursor, encodeCursor } from '../core/cursor.js';
import type { Db, DbOrTx } from '../db/client.js';
import {
  type Approval,
  type ApprovalStatus,
  type ApprovalVote,
  approvals,
  approvalVotes,
  type Lease,
  leases,
} from '../db/schema/index.js';
import { problems } from '../problem.js';
import { notifyApprovalChanged } from './approval-events.js';

export interface ApprovalRecord {
  approval: Approval;
  lease: Lease;
}

export const APPROVAL_PAGE_MAX = 500;

/** Locks the approval, then its lease (FOR UPDATE): the start of every decision. */
export async function lockApproval(tx: DbOrTx, approvalId: string): Promise<ApprovalRecord | undefined> {
  const [approval] = await tx.select().from(approvals).where(eq(approvals.id, approvalId)).for('update');
  if (!approval) return undefined;
  const [lease] = await tx.select().from(leases).where(eq(leases.id, approval.leaseId)).for('update');
  return lease ? { approval, lease } : undefined;
}

/** One approval with its lease; with `owner`, only if that agent asked for it. */
export async function readApproval(
  db: DbOrTx,
  approvalId: string,
  owner?: { agent: string; agentIssuer: string },
): Promise<ApprovalRecord | undefined> {
  const where: SQL[] = [eq(approvals.id, approvalId)];
  if (owner) where.push(eq(leases.agent, owner.agent), eq(leases.agentIssuer, owner.agentIssuer));
  const [row] = await db
    .select({ approval: approvals, lease: leases })
    .from(approvals)
    .innerJoin(leases, eq(leases.id, approvals.leaseId))
    .where(and(...where))
    .limit(1);
  return row;
}

export async function votesFor(
  db: DbOrTx,
  approvalIds: readonly string[],
): Promise<Map<string, ApprovalVote[]>> {
  const byApproval = new Map<string, ApprovalVote[]>(approvalIds.map((id) => [id, []]));
  if (approvalIds.length === 0) return byApproval;
  const rows = await db
    .select()
    .from(approvalVotes)
    .where(inArray(approvalVotes.approvalId, [...approvalIds]));
  for (const vote of rows) byApproval.get(vote.approvalId)?.push(vote);
  return byApproval;
}

/** Newest first. */
export async function listApprovals(
  db: Db,
  filter: { status?: ApprovalStatus; cursor?: string; limit: number },
): Promise<{ records: ApprovalRecord[]; nextCursor: string | null }> {
  const where: SQL[] = [];
  if (filter.status) where.push(eq(approvals.status, filter.status));
  if (filter.cursor) {
    const cursor = decodeCursor(filter.cursor);
    if (!cursor) {
      throw problems.badRequest('invalid cursor', {
        errors: [{ field: 'cursor', message: 'not a cursor this API returned' }],
      });
    }
    where.push(
      sql`(${approvals.createdAt}, ${approvals.id}) < (${cursor.at.toISOString()}::timestamptz, ${cursor.id}::uuid)`,
    );
  }
  const rows = await db
    .select({ approval: approvals, lease: leases })
    .from(approvals)
    .innerJoin(leases, eq(leases.id, approvals.leaseId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(approvals.createdAt), desc(approvals.id))
    .limit(filter.limit + 1);
  const records = rows.slice(0, filter.limit);
  const last = records.at(-1);
  return { records, nextCursor: rows.length > filter.limit && last ? encodeCursor(last.approval) : null };
}

export interface CloseApproval {
  status: Exclude<ApprovalStatus, 'pending'>;
  at: Date;
  reason: string | null;
  decidedBy: string | null;
  /** Set when the request ends without a credential: the lease becomes `denied` with this reason. */
  denyLeaseReason?: string;
  context?: Record<string, unknown>;
}

/** Moves a locked approval out of `pending` (or `approved`), denying its lease if asked. */
export async function closeApproval(
  tx: DbOrTx,
  record: ApprovalRecord,
  close: CloseApproval,
): Promise<ApprovalRecord> {
  // The first decision is kept: an approved request that later expires or is denied by policy
  // still shows who approved it.
  const first = record.approval.decidedAt === null;
  const [approval] = await tx
    .update(approvals)
    .set({
      status: close.status,
      reason: close.reason ?? record.approval.reason,
      ...(first ? { decidedAt: close.at, decidedBy: close.decidedBy } : {}),
      ...(close.status === 'collected' ? { collectedAt: close.at } : {}),
      ...(close.context ? { context: { ...record.approval.context, ...close.context } } : {}),
    })
    .where(eq(approvals.id, record.approval.id))
    .returning();
  let lease = record.lease;
  if (close.denyLeaseReason !== undefined) {
    const [denied] = await tx
      .update(leases)
      .set({ state: 'denied', revokeReason: close.denyLeaseReason, updatedAt: close.at })
      .where(and(eq(leases.id, record.lease.id), eq(leases.state, 'pending_approval')))
      .returning();
    lease = denied ?? lease;
  }
  await notifyApprovalChanged(tx, record.approval.id);
  return { approval: approval!, lease };
}
