// Revocation reaches step-up requests too: the open requests that a revocation matches (a staff
// bulk revoke, an anomaly webhook, a completed task, an agent revoking its own lease) are denied in
// the revocation's transaction, so an agent that was cut off cannot receive a credential from a
// request it made before — not even one already approved.
import { and, asc, eq, inArray, type SQL } from 'drizzle-orm';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { DbOrTx } from '../db/client.js';
import { approvals, leases } from '../db/schema/index.js';
import { approvalAudit } from './approval-audit.js';
import { closeApproval, lockApproval } from './approval-store.js';

/** Which open requests a bulk revocation closes (at least one field). */
export interface ApprovalWithdrawFilter {
  leaseIds?: string[];
  agent?: string;
  agentIssuer?: string;
  taskId?: string;
  template?: string;
}

export interface WithdrawInput {
  /** Audit actor of the revocation: `staff:<sub>`, `webhook:anomaly`, `agent:<sub>`. */
  actor: string;
  filter: ApprovalWithdrawFilter;
  reason: string;
  requestId: string | undefined;
  now: Date;
}

/** Denies every open request matching the filter; returns their approval ids. */
export async function withdrawMatching(tx: DbOrTx, input: WithdrawInput): Promise<string[]> {
  const { actor, filter, reason, requestId, now } = input;
  const match: SQL[] = [];
  if (filter.leaseIds !== undefined) {
    if (filter.leaseIds.length === 0) return [];
    match.push(inArray(leases.id, filter.leaseIds));
  }
  if (filter.agentIssuer !== undefined) match.push(eq(leases.agentIssuer, filter.agentIssuer));
  if (filter.agent !== undefined) match.push(eq(leases.agent, filter.agent));
  if (filter.taskId !== undefined) match.push(eq(leases.taskId, filter.taskId));
  if (filter.template !== undefined) match.push(eq(leases.template, filter.template));
  if (match.length === 0) throw new Error('refusing to withdraw approvals without a filter');
  const open = await tx
    .select({ id: approvals.id })
    .from(approvals)
    .innerJoin(leases, eq(leases.id, approvals.leaseId))
    .where(
      and(inArray(approvals.status, ['pending', 'approved']), eq(leases.state, 'pending_approval'), ...match),
    )
    .orderBy(asc(approvals.id));
  const withdrawn: string[] = [];
  const audits: AuditEntry[] = [];
  // One at a time, in id order, each approval before its lease: the lock order of every decision,
  // and the state is checked again under the lock (a collect may have won the race).
  for (const { id } of open) {
    const record = await lockApproval(tx, id);
    if (record?.lease.state !== 'pending_approval') continue;
    if (record.approval.status !== 'pending' && record.approval.status !== 'approved') continue;
    await closeApproval(tx, record, {
      status: 'denied',
      at: now,
      reason,
      decidedBy: actor.replace(/^staff:/, ''),
      denyLeaseReason: actor.startsWith('staff:')
        ? `denied by a reviewer: ${reason}`
        : `withdrawn: ${reason}`,
    });
    const base = {
      at: now,
      actor,
      requestId,
      decision: 'deny',
      reasons: [reason],
      detail: { withdrawn_by_revocation: true },
    };
    audits.push(
      approvalAudit(record.approval, record.lease, { ...base, event: 'approval.denied' }),
      approvalAudit(record.approval, record.lease, { ...base, event: 'lease.denied' }),
    );
    withdrawn.push(id);
  }
  await recordAudit(tx, audits);
  return withdrawn;
}
