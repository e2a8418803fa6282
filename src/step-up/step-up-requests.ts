// Step-up requests as issuance and revocation see them: open one (the pending lease, its approval
// and their audit rows in one statement), find the approval of a lease, withdraw the open requests
// a revocation matches, expire the overdue ones. Depends on the database only; the reviewers'
// decisions (approve, deny, collect) live in src/approvals/.
import { randomUUID } from 'node:crypto';
import { and, eq, getTableColumns, notInArray } from 'drizzle-orm';
import type postgres from 'postgres';
import { type AuditEntry, auditInsert } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database, DbOrTx } from '../db/client.js';
import { type Approval, approvals, type Lease } from '../db/schema/index.js';
import type { AttributeValue } from '../identity/types.js';
import { leaseInsert } from '../leases/lease-writes.js';
import { type AgentLimits, takeLeaseSlots, writeNewLease } from '../leases/limits.js';
import type { Logger } from '../logger.js';
import type { StepUp } from '../policy/decision.js';
import { approvalAudit } from './approval-audit.js';
import { APPROVAL_CHANNEL, ApprovalEvents } from './approval-events.js';
import { toApprovalView } from './approval-view.js';
import { expireApprovals } from './expiry.js';
import type { ApprovalNotifier } from './notifier.js';
import { type ApprovalWithdrawFilter, withdrawMatching } from './withdraw.js';

export interface StepUpRequestsDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  /** Unset when APPROVAL_WEBHOOK_URL is not configured. */
  notifier?: ApprovalNotifier | undefined;
}

export interface OpenRequest {
  /** The lease to hold back, in state `pending_approval`, with every column (see completeLease). */
  lease: Lease;
  stepUp: StepUp;
  /** Cedar principal attributes at request time: approval re-evaluates policy with them. */
  principalAttributes: Record<string, AttributeValue>;
  /** The decision row that asked for step-up. */
  decisionAudit: AuditEntry;
  policies: string[];
  policyVersion: string;
  /** The agent's quotas: a pending request counts as a live lease. */
  limits: AgentLimits;
}

const APPROVAL_COLUMNS = Object.entries(getTableColumns(approvals)).map(([key, column]) => ({
  key,
  name: column.name,
}));

function approvalInsert(
  sql: postgres.Sql | postgres.TransactionSql,
  approval: Approval,
): postgres.PendingQuery<postgres.Row[]> {
  const row: Record<string, unknown> = {};
  for (const { key, name } of APPROVAL_COLUMNS)
    row[name] = (approval as Record<string, unknown>)[key] ?? null;
  return sql`insert into approvals select * from jsonb_populate_record(null::approvals, ${JSON.stringify(row)}::jsonb)`;
}

export class StepUpRequests {
  readonly events: ApprovalEvents;

  constructor(private readonly deps: StepUpRequestsDeps) {
    this.events = new ApprovalEvents(deps.database.sql, deps.logger);
  }

  /** Writes the pending lease, its approval and the audit rows together; wakes every collector. */
  async open(request: OpenRequest): Promise<{ approvalId: string; lease: Lease }> {
    const { lease, stepUp, decisionAudit } = request;
    const approval: Approval = {
      id: randomUUID(),
      leaseId: lease.id,
      status: 'pending',
      group: stepUp.group,
      requiredApprovals: stepUp.approvals,
      context: { principal_attributes: request.principalAttributes },
      createdAt: lease.createdAt,
      expiresAt: new Date(lease.createdAt.getTime() + stepUp.approvalTtlSeconds * 1000),
      decidedAt: null,
      decidedBy: null,
      reason: null,
      collectedAt: null,
      // The request that opened the step-up counts as the first CIBA poll (the client waits `interval`).
      lastPolledAt: lease.createdAt,
    };
    const audits = [
      decisionAudit,
      approvalAudit(approval, lease, {
        event: 'approval.requested',
        at: lease.createdAt,
        actor: `agent:${lease.agent}`,
        requestId: decisionAudit.requestId ?? undefined,
        decision: 'step_up',
        policies: request.policies,
        policyVersion: request.policyVersion,
        detail: { expires_at: approval.expiresAt.toISOString() },
      }),
    ];
    // A pending request counts against the agent's live-lease limits: once approved it is one.
    // pg_notify in the final SELECT: an unreferenced SELECT in a CTE would never run.
    const write = (tx: postgres.Sql | postgres.TransactionSql) => tx`
      with lease as (${leaseInsert(tx, [lease])}),
           approval as (${approvalInsert(tx, approval)}),
           audit as (${auditInsert(tx, audits)}),
           notified as (select pg_notify(${APPROVAL_CHANNEL}, ${approval.id}))
      ${takeLeaseSlots(tx, [{ lease, limits: request.limits }])} from notified`;
    await writeNewLease(this.deps.database.sql, lease, request.limits, write);
    this.deps.notifier?.pending(toApprovalView(approval, lease, []));
    return { approvalId: approval.id, lease };
  }

  /** The approval of a lease that is (or was) allowed through step-up; not of a closed-out one. */
  async approvalIdOf(leaseId: string): Promise<string | undefined> {
    const [row] = await this.deps.database.db
      .select({ id: approvals.id })
      .from(approvals)
      .where(and(eq(approvals.leaseId, leaseId), notInArray(approvals.status, ['denied', 'expired'])))
      .limit(1);
    return row?.id;
  }

  /** Denies the open requests a revocation matches, inside its transaction; see withdraw.ts. */
  withdraw(
    tx: DbOrTx,
    filter: ApprovalWithdrawFilter,
    reason: string,
    actor: string,
    requestId: string | undefined,
  ): Promise<string[]> {
    return withdrawMatching(tx, { actor, filter, reason, requestId, now: this.deps.clock.now() });
  }

  /** The sweeper task: see expiry.ts. */
  expire(now: Date): Promise<number> {
    return expireApprovals(this.deps.database.db, now);
  }
}
