// Step-up approvals: a request that a @step_up permit holds back waits here until enough members
// of the group approve (then policy decides again with approved = true), someone denies it, or it
// expires. The agent long-polls collect(), which mints the credential exactly once.
import { randomUUID } from 'node:crypto';
import { and, eq, notInArray } from 'drizzle-orm';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database, DbOrTx } from '../db/client.js';
import { approvals, approvalVotes } from '../db/schema/index.js';
import type { AttributeValue, HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { LeaseService, StepUpRequest } from '../leases/lease-service.js';
import type { Revoker } from '../leases/revocation.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { problems } from '../problem.js';
import { approvalAudit, refusalAudit } from './approval-audit.js';
import { ApprovalEvents, notifyApprovalChanged } from './approval-events.js';
import {
  APPROVAL_PAGE_MAX,
  type ApprovalRecord,
  closeApproval,
  insertPending,
  listApprovals,
  lockApproval,
  readApproval,
  votesFor,
} from './approval-store.js';
import { approvalContext, toApprovalView } from './approval-view.js';
import { collectApproval } from './collect.js';
import { approvalRefusal, denialRefusal } from './eligibility.js';
import { expireApprovals, expireRecord } from './expiry.js';
import type { ApprovalNotifier } from './notifier.js';
import { decideApproved, denialReason } from './reevaluate.js';
import { withdrawMatching } from './withdraw.js';
import type {
  ApprovalListFilter,
  ApprovalService,
  ApprovalView,
  ApprovalWithdrawFilter,
  CollectResult,
} from './types.js';

export interface ApprovalsDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  leases: LeaseService;
  revoker: Revoker;
  /** Unset when APPROVAL_WEBHOOK_URL is not configured. */
  notifier?: ApprovalNotifier;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id is a 404 like any unknown one: callers must not learn which ids exist. */
export function approvalIdOrNotFound(id: string): string {
  if (!UUID.test(id)) throw problems.notFound(`no approval ${id.slice(0, 64)}`);
  return id.toLowerCase();
}

export class Approvals implements ApprovalService {
  readonly events: ApprovalEvents;

  constructor(private readonly deps: ApprovalsDeps) {
    this.events = new ApprovalEvents(deps.database.sql, deps.logger);
  }

  /** Takes over step-up decisions, idempotent replays of pending requests and approved renewals. */
  install(): void {
    this.deps.leases.setStepUpHandler((request) => this.request(request));
    this.deps.leases.approvalIdOf = (leaseId) => this.approvalIdOf(leaseId);
    this.deps.revoker.setRequestWithdrawer((tx, filter, reason, actor, requestId) =>
      this.withdrawMatching(tx, actor, filter, reason, requestId),
    );
  }

  /** The sweeper task: see expiry.ts. */
  expire(now: Date): Promise<number> {
    return expireApprovals(this.deps.database.db, now);
  }

  /** The lease (pending_approval), the approval and the decision are written in one transaction. */
  async request(step: StepUpRequest): Promise<{ approvalId: string; lease: ApprovalRecord['lease'] }> {
    const { lease, stepUp, verdict, decisionAudit, identity } = step;
    const createdAt = lease.createdAt ?? this.deps.clock.now();
    const approval = {
      id: randomUUID(),
      leaseId: lease.id,
      status: 'pending' as const,
      group: stepUp.group,
      requiredApprovals: stepUp.approvals,
      context: { principal_attributes: identity.attributes },
      createdAt,
      expiresAt: new Date(createdAt.getTime() + stepUp.approvalTtlSeconds * 1000),
    };
    const record = await this.deps.database.db.transaction(async (tx) => {
      const written = await insertPending(tx, { ...lease, createdAt }, approval);
      await recordAudit(tx, [
        decisionAudit,
        approvalAudit(written.approval, written.lease, {
          event: 'approval.requested',
          at: createdAt,
          actor: `agent:${lease.agent}`,
          requestId: decisionAudit.requestId ?? undefined,
          decision: 'step_up',
          policies: verdict.policies,
          policyVersion: verdict.policyVersion,
          detail: { expires_at: approval.expiresAt.toISOString() },
        }),
      ]);
      return written;
    });
    this.deps.notifier?.pending(toApprovalView(record.approval, record.lease, []));
    return { approvalId: record.approval.id, lease: record.lease };
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

  async list(filter: ApprovalListFilter): Promise<{ items: ApprovalView[]; nextCursor: string | null }> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > APPROVAL_PAGE_MAX) {
      throw problems.validation('invalid query', [
        { field: 'limit', message: `must be an integer from 1 to ${APPROVAL_PAGE_MAX}` },
      ]);
    }
    const { db } = this.deps.database;
    const page = await listApprovals(db, { status: filter.status, cursor: filter.cursor, limit });
    const votes = await votesFor(
      db,
      page.records.map((r) => r.approval.id),
    );
    return {
      items: page.records.map((r) => toApprovalView(r.approval, r.lease, votes.get(r.approval.id) ?? [])),
      nextCursor: page.nextCursor,
    };
  }

  async get(approvalId: string): Promise<ApprovalView | undefined> {
    if (!UUID.test(approvalId)) return undefined;
    const record = await readApproval(this.deps.database.db, approvalId.toLowerCase());
    return record ? this.view(this.deps.database.db, record) : undefined;
  }

  async approve(
    staff: HumanIdentity,
    id: string,
    reason: string | undefined,
    requestId: string,
  ): Promise<ApprovalView> {
    const approvalId = approvalIdOrNotFound(id);
    const now = this.deps.clock.now();
    const actor = `staff:${staff.subject}`;
    const outcome = await this.deps.database.db.transaction(async (tx) => {
      const record = await lockApproval(tx, approvalId);
      if (!record) throw problems.notFound(`no approval ${approvalId}`);
      const refused = approvalRefusal(staff, record.approval, record.lease);
      if (refused) {
        await recordAudit(tx, refusalAudit(record, staff, 'approve', refused, now, requestId));
        return { refused };
      }
      if (record.approval.status !== 'pending')
        throw problems.conflict(`approval ${approvalId} is ${record.approval.status}`);
      if (record.approval.expiresAt <= now) {
        await recordAudit(tx, await expireRecord(tx, record, now, 'broker', requestId));
        return { expired: true as const };
      }
      const votes = (await votesFor(tx, [approvalId])).get(approvalId) ?? [];
      // One person counts once; the primary key (approval, approver) enforces it across replicas too.
      if (votes.some((v) => v.approver === staff.subject)) {
        throw problems.conflict(
          `you already approved this request; another member of "${record.approval.group}" must approve`,
        );
      }
      await tx.insert(approvalVotes).values({
        approvalId,
        approver: staff.subject,
        approverIssuer: staff.issuer,
        reason: reason ?? null,
        at: now,
      });
      const count = votes.length + 1;
      const audits: AuditEntry[] = [
        approvalAudit(record.approval, record.lease, {
          event: 'approval.vote',
          at: now,
          actor,
          requestId,
          decision: 'approve',
          reasons: reason ? [reason] : [],
          detail: { approvals: count },
        }),
      ];
      let closed = record;
      if (count < record.approval.requiredApprovals) {
        await notifyApprovalChanged(tx, approvalId);
      } else {
        ({ record: closed } = await this.decideOnQuorum(tx, record, staff, reason, now, requestId, audits));
      }
      await recordAudit(tx, audits);
      return { record: closed };
    });
    if ('refused' in outcome) throw outcome.refused;
    if ('expired' in outcome) throw problems.conflict(`approval ${approvalId} expired before it was approved`);
    return this.view(this.deps.database.db, outcome.record);
  }

  /** Quorum reached: policy decides again with approved = true, and a forbid still wins. */
  private async decideOnQuorum(
    tx: DbOrTx,
    record: ApprovalRecord,
    staff: HumanIdentity,
    reason: string | undefined,
    now: Date,
    requestId: string,
    audits: AuditEntry[],
  ): Promise<{ record: ApprovalRecord }> {
    const identity = requesterIdentity(record);
    const result = decideApproved(this.deps.policies, this.deps.leases, record.lease, identity);
    this.deps.metrics.decisions.inc({ template: record.lease.template, outcome: result.verdict.outcome });
    const { policies, policyVersion } = result.verdict;
    const base = {
      at: now,
      requestId,
      policies,
      policyVersion,
      detail: { approved: true, approved_by: staff.subject },
    };
    if (result.outcome === 'deny') {
      const why = `denied by policy after approval: ${denialReason(result.verdict)}`;
      const closed = await closeApproval(tx, record, {
        status: 'denied',
        at: now,
        reason: why,
        decidedBy: null,
        denyLeaseReason: why,
        context: { denied_by: { policies, reasons: result.verdict.reasons } },
      });
      const deny = { ...base, actor: 'policy', decision: 'deny', reasons: result.verdict.reasons };
      audits.push(
        approvalAudit(record.approval, record.lease, { ...deny, event: 'approval.denied' }),
        approvalAudit(record.approval, record.lease, { ...deny, event: 'lease.denied' }),
      );
      return { record: closed };
    }
    const closed = await closeApproval(tx, record, {
      status: 'approved',
      at: now,
      reason: reason ?? null,
      decidedBy: staff.subject,
    });
    audits.push(
      approvalAudit(record.approval, record.lease, {
        ...base,
        event: 'approval.approved',
        actor: `staff:${staff.subject}`,
        decision: 'allow',
      }),
    );
    return { record: closed };
  }

  async deny(staff: HumanIdentity, id: string, reason: string, requestId: string): Promise<ApprovalView> {
    const approvalId = approvalIdOrNotFound(id);
    const now = this.deps.clock.now();
    const actor = `staff:${staff.subject}`;
    const outcome = await this.deps.database.db.transaction(async (tx) => {
      const record = await lockApproval(tx, approvalId);
      if (!record) throw problems.notFound(`no approval ${approvalId}`);
      const refused = denialRefusal(staff, record.approval);
      if (refused) {
        await recordAudit(tx, refusalAudit(record, staff, 'deny', refused, now, requestId));
        return { refused };
      }
      // An approval not yet collected may still be withdrawn: until the credential exists, deny is safe.
      const open =
        record.approval.status === 'pending' ||
        (record.approval.status === 'approved' && record.lease.state === 'pending_approval');
      if (!open) throw problems.conflict(`approval ${approvalId} is ${record.approval.status}`);
      if (record.approval.expiresAt <= now && record.approval.status === 'pending') {
        await recordAudit(tx, await expireRecord(tx, record, now, 'broker', requestId));
        return { expired: true as const };
      }
      const closed = await closeApproval(tx, record, {
        status: 'denied',
        at: now,
        reason,
        decidedBy: staff.subject,
        denyLeaseReason: `denied by a reviewer: ${reason}`,
      });
      const base = { at: now, actor, requestId, decision: 'deny', reasons: [reason] };
      await recordAudit(tx, [
        approvalAudit(record.approval, record.lease, { ...base, event: 'approval.denied' }),
        approvalAudit(record.approval, record.lease, { ...base, event: 'lease.denied' }),
      ]);
      return { record: closed };
    });
    if ('refused' in outcome) throw outcome.refused;
    if ('expired' in outcome) throw problems.conflict(`approval ${approvalId} expired before it was denied`);
    return this.view(this.deps.database.db, outcome.record);
  }

  /** Revocation reaches open step-up requests: see withdraw.ts. */
  withdrawMatching(
    tx: DbOrTx,
    actor: string,
    filter: ApprovalWithdrawFilter,
    reason: string,
    requestId: string | undefined,
  ): Promise<string[]> {
    return withdrawMatching(tx, { actor, filter, reason, requestId, now: this.deps.clock.now() });
  }

  collect(
    identity: WorkloadIdentity,
    id: string,
    waitSeconds: number,
    requestId: string,
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    return collectApproval(
      { ...this.deps, events: this.events, view: (record) => this.view(this.deps.database.db, record) },
      { identity, approvalId: approvalIdOrNotFound(id), waitSeconds, requestId, signal },
    );
  }

  private async view(db: DbOrTx, record: ApprovalRecord): Promise<ApprovalView> {
    const votes = await votesFor(db, [record.approval.id]);
    return toApprovalView(record.approval, record.lease, votes.get(record.approval.id) ?? []);
  }
}

/** The requesting agent as it was when it asked: approval happens without its token. */
function requesterIdentity(record: ApprovalRecord): WorkloadIdentity {
  return {
    subject: record.lease.agent,
    issuer: record.lease.agentIssuer,
    attributes: approvalContext(record.approval).principal_attributes as Record<string, AttributeValue>,
    expiresAt: record.approval.expiresAt,
  };
}
