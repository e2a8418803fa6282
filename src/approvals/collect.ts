// The agent's side of step-up: long-poll until the request is decided, then mint the credential
// exactly once. The lease's own pending_approval → issuing/active transition is the guard (a
// conditional UPDATE in issueLease), so two collects on two replicas can never both mint.
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { decisionAudit } from '../issuance/decision-audit.js';
import type { Issuance } from '../issuance/issuance.js';
import { approvedLease, denialReason } from '../issuance/reevaluate.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { type Problem, problems } from '../problem.js';
import { approvalAudit } from '../step-up/approval-audit.js';
import type { ApprovalEvents } from '../step-up/approval-events.js';
import { type ApprovalRecord, closeApproval, lockApproval, readApproval } from '../step-up/approval-store.js';
import { type ApprovalView, approvalContext } from '../step-up/approval-view.js';
import { APPROVAL_EXPIRED, collectionOverdue, expireRecord } from '../step-up/expiry.js';
import type { CollectResult } from './types.js';

export interface CollectDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  issuance: Issuance;
  events: ApprovalEvents;
  view(record: ApprovalRecord): Promise<ApprovalView>;
}

export interface CollectInput {
  identity: WorkloadIdentity;
  approvalId: string;
  waitSeconds: number;
  requestId: string;
  signal: AbortSignal | undefined;
}

export async function collectApproval(deps: CollectDeps, input: CollectInput): Promise<CollectResult> {
  const owner = { agent: input.identity.subject, agentIssuer: input.identity.issuer };
  const deadline = Date.now() + input.waitSeconds * 1000;
  const subscription = input.waitSeconds > 0 ? deps.events.subscribe(input.approvalId) : undefined;
  try {
    // LISTEN is in place before the first read, and each read is armed before it happens: a
    // decision that commits at any point from here on wakes this request.
    if (subscription) {
      await deps.events.listen().catch((error: unknown) => {
        throw problems.unavailable('cannot wait for the approval right now; retry without wait', {
          retryAfterSeconds: 5,
          cause: error,
        });
      });
    }
    for (;;) {
      subscription?.arm();
      const record = await readApproval(deps.database.db, input.approvalId, owner);
      if (!record) throw problems.notFound(`no approval ${input.approvalId}`);
      const settled = await settle(deps, input, record);
      if (settled === 'changed') continue;
      if (settled !== 'pending') return settled;
      const untilExpiry = record.approval.expiresAt.getTime() - deps.clock.now().getTime();
      const remaining = Math.min(deadline - Date.now(), untilExpiry);
      if (!subscription || remaining <= 0) return { status: 'pending', approval: await deps.view(record) };
      // Woken, timed out (one more read decides) or the client left (answer what we know).
      if ((await subscription.wait(remaining, input.signal)) === 'aborted') {
        return { status: 'pending', approval: await deps.view(record) };
      }
    }
  } finally {
    subscription?.close();
  }
}

/** What the current state means for the agent: a result, a problem, still pending, or read again. */
async function settle(
  deps: CollectDeps,
  input: CollectInput,
  record: ApprovalRecord,
): Promise<CollectResult | 'pending' | 'changed'> {
  const { approval } = record;
  const now = deps.clock.now();
  switch (approval.status) {
    case 'pending':
      if (approval.expiresAt > now) return 'pending';
      await expireOverdue(deps, input, now);
      return 'changed';
    case 'approved':
      if (collectionOverdue(approval, now)) {
        await expireOverdue(deps, input, now);
        return 'changed';
      }
      return issue(deps, input, record);
    case 'denied':
      throw deniedProblem(record);
    case 'expired':
      throw problems.approvalExpired(approval.reason ?? APPROVAL_EXPIRED, { approvalId: approval.id });
    case 'collected':
      throw alreadyCollected(approval.id);
  }
}

function alreadyCollected(approvalId: string): Problem {
  return problems.conflict(`the credential of approval ${approvalId} was already collected`);
}

function deniedProblem({ approval }: ApprovalRecord): Problem {
  const byPolicy = approvalContext(approval).denied_by;
  if (byPolicy)
    return problems.denied(approval.reason ?? 'denied by policy', {
      policies: byPolicy.policies,
      reasons: byPolicy.reasons,
    });
  const reason = approval.reason ?? 'denied';
  // A revocation that withdrew the request records its actor (`agent:<sub>`, `webhook:anomaly`,
  // see withdraw.ts); a reviewer's denial records the staff subject alone.
  const by = approval.decidedBy ?? '';
  const detail = by.startsWith('agent:')
    ? `withdrawn by the agent: ${reason}`
    : by.startsWith('webhook:')
      ? `withdrawn (${by}): ${reason}`
      : `denied by a reviewer: ${reason}`;
  return problems.approvalDenied(detail, { approvalId: approval.id, reasons: [reason] });
}

async function expireOverdue(deps: CollectDeps, input: CollectInput, now: Date): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const locked = await lockApproval(tx, input.approvalId);
    if (!locked) return;
    const overdue =
      (locked.approval.status === 'pending' && locked.approval.expiresAt <= now) ||
      collectionOverdue(locked.approval, now);
    if (overdue && locked.lease.state === 'pending_approval') {
      await recordAudit(tx, await expireRecord(tx, locked, now, 'broker', input.requestId));
    }
  });
}

async function issue(deps: CollectDeps, input: CollectInput, record: ApprovalRecord): Promise<CollectResult> {
  const { approval, lease } = record;
  if (lease.state !== 'pending_approval') throw alreadyCollected(approval.id);
  const now = deps.clock.now();
  const result = deps.issuance.decideApproved(lease, input.identity);
  const { verdict } = result;
  deps.metrics.decisions.inc({ template: lease.template, outcome: verdict.outcome });
  const audit = decisionAudit({
    at: now,
    requestId: input.requestId,
    agent: { subject: lease.agent, issuer: lease.agentIssuer },
    onBehalfOf: lease.onBehalfOf,
    actor: `agent:${input.identity.subject}`,
    leaseId: lease.id,
    template: lease.template,
    intent: lease.intent,
    verdict,
    detail: { action: 'mint', approval_id: approval.id, approved: true },
  });

  if (result.outcome === 'deny') {
    const why = `denied by policy after approval: ${denialReason(result.verdict)}`;
    await deps.database.db.transaction(async (tx) => {
      const locked = await lockApproval(tx, approval.id);
      if (locked?.approval.status !== 'approved' || locked.lease.state !== 'pending_approval') {
        await recordAudit(tx, audit);
        return;
      }
      await closeApproval(tx, locked, {
        status: 'denied',
        at: now,
        reason: why,
        decidedBy: null,
        denyLeaseReason: why,
        context: { denied_by: { policies: verdict.policies, reasons: result.verdict.reasons } },
      });
      const deny = {
        at: now,
        actor: 'policy',
        requestId: input.requestId,
        decision: 'deny',
        policies: verdict.policies,
        reasons: result.verdict.reasons,
      };
      await recordAudit(tx, [
        audit,
        approvalAudit(approval, lease, { ...deny, event: 'approval.denied' }),
        approvalAudit(approval, lease, { ...deny, event: 'lease.denied' }),
      ]);
    });
    throw problems.denied(why, { policies: verdict.policies, reasons: result.verdict.reasons });
  }

  const issued = await deps.issuance.issue({
    lease: approvedLease(lease, result.verdict),
    template: result.template,
    provider: result.provider,
    decisionAudit: audit,
    requestId: input.requestId,
  });
  // Bookkeeping only: the credential exists and is handed over whatever happens here; the sweeper
  // marks an approval collected if this step is lost.
  await markCollected(deps, input, issued.lease.id).catch((error: unknown) =>
    deps.logger.warn(
      { err: error, approvalId: approval.id },
      'could not mark the approval collected; the sweeper will',
    ),
  );
  return {
    status: 'issued',
    lease_id: issued.lease.id,
    template: issued.lease.template,
    expires_at: issued.lease.expiresAt.toISOString(),
    credential: issued.credential,
  };
}

async function markCollected(deps: CollectDeps, input: CollectInput, leaseId: string): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const locked = await lockApproval(tx, input.approvalId);
    if (locked?.approval.status !== 'approved') return;
    const now = deps.clock.now();
    await closeApproval(tx, locked, { status: 'collected', at: now, reason: null, decidedBy: null });
    await recordAudit(
      tx,
      approvalAudit(locked.approval, locked.lease, {
        event: 'approval.collected',
        at: now,
        actor: `agent:${input.identity.subject}`,
        requestId: input.requestId,
        detail: { lease_id: leaseId },
      }),
    );
  });
}
