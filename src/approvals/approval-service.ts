// Reviewers' decisions on step-up requests: approve (then policy decides again with approved =
// true), deny, list and read them; and the agent's collect(), which mints the credential exactly
// once through the issuance path. Opening and withdrawing requests is src/step-up/'s job.

import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { canonicalUuid } from '../core/ids.js';
import type { Database, DbOrTx } from '../db/client.js';
import { approvalVotes } from '../db/schema/index.js';
import type { AttributeValue, HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Issuance } from '../issuance/issuance.js';
import { denialReason } from '../issuance/reevaluate.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { problems } from '../problem.js';
import { approvalAudit } from '../step-up/approval-audit.js';
import { notifyApprovalChanged } from '../step-up/approval-events.js';
import {
  APPROVAL_PAGE_MAX,
  type ApprovalRecord,
  closeApproval,
  listApprovals,
  lockApproval,
  readApproval,
  votesFor,
} from '../step-up/approval-store.js';
import { type ApprovalView, approvalContext, toApprovalView } from '../step-up/approval-view.js';
import { expireRecord } from '../step-up/expiry.js';
import type { StepUpRequests } from '../step-up/step-up-requests.js';
import { collectApproval } from './collect.js';
import { approvalRefusal, denialRefusal, refusalAudit } from './eligibility.js';
import type { ApprovalListFilter, ApprovalService, CollectResult } from './types.js';

export interface ApprovalsDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  issuance: Issuance;
  stepUp: StepUpRequests;
}

/** A malformed id is a 404 like any unknown one: callers must not learn which ids exist. */
export function approvalIdOrNotFound(id: string): string {
  const approvalId = canonicalUuid(id);
  if (approvalId === undefined) throw problems.notFound(`no approval ${id.slice(0, 64)}`);
  return approvalId;
}

export class Approvals implements ApprovalService {
  constructor(private readonly deps: ApprovalsDeps) {}

  async list(filter: ApprovalListFilter): Promise<{ items: ApprovalView[]; nextCursor: string | null }> {
    const limit = filter.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > APPROVAL_PAGE_MAX) {
      throw problems.validation('invalid query', {
        errors: [{ field: 'limit', message: `must be an integer from 1 to ${APPROVAL_PAGE_MAX}` }],
      });
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
    const id = canonicalUuid(approvalId);
    if (id === undefined) return undefined;
    const record = await readApproval(this.deps.database.db, id);
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
    if ('expired' in outcome)
      throw problems.conflict(`approval ${approvalId} expired before it was approved`);
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
    const result = this.deps.issuance.decideApproved(record.lease, identity);
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

  collect(
    identity: WorkloadIdentity,
    id: string,
    waitSeconds: number,
    requestId: string,
    signal?: AbortSignal,
  ): Promise<CollectResult> {
    return collectApproval(
      {
        ...this.deps,
        events: this.deps.stepUp.events,
        view: (record) => this.view(this.deps.database.db, record),
      },
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
