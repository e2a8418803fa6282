// Audit rows for the life of a step-up request: requested, each vote, each refused review,
// approved, denied, expired, collected. Each is written in the transaction of the state change it records.
import type { AuditEntry } from '../audit/audit-log.js';
import type { Approval, Lease } from '../db/schema/index.js';

export type ApprovalEvent =
  | 'approval.requested'
  | 'approval.vote'
  | 'approval.refused'
  | 'approval.approved'
  | 'approval.denied'
  | 'approval.expired'
  | 'approval.collected'
  | 'lease.denied';

export interface ApprovalAuditInput {
  event: ApprovalEvent;
  at: Date;
  actor: string;
  requestId: string | undefined;
  decision?: string;
  policies?: string[];
  reasons?: string[];
  policyVersion?: string;
  detail?: Record<string, unknown>;
}

export function approvalAudit(
  approval: Pick<Approval, 'id' | 'group' | 'requiredApprovals'>,
  lease: Pick<Lease, 'id' | 'agent' | 'agentIssuer' | 'onBehalfOf' | 'template'>,
  input: ApprovalAuditInput,
): AuditEntry {
  return {
    at: input.at,
    event: input.event,
    requestId: input.requestId ?? null,
    agent: lease.agent,
    agentIssuer: lease.agentIssuer,
    onBehalfOf: lease.onBehalfOf ?? null,
    actor: input.actor,
    leaseId: lease.id,
    template: lease.template,
    decision: input.decision ?? null,
    policies: input.policies ?? null,
    reasons: input.reasons ?? null,
    policyVersion: input.policyVersion ?? null,
    detail: {
      approval_id: approval.id,
      group: approval.group,
      required_approvals: approval.requiredApprovals,
      ...input.detail,
    },
  };
}
