// The JSON shape of a step-up request as staff see it (API and console). Built from the approval,
// its lease and its votes; never holds a secret (leases hold none).
import { toIntentWire } from '../core/intent.js';
import type { Approval, ApprovalStatus, ApprovalVote, Lease, LeaseState } from '../db/schema/index.js';

export interface ApprovalVoteView {
  approver: string;
  reason: string | null;
  at: string;
}

/** What staff see of a step-up request (API JSON and console). Never a secret. */
export interface ApprovalView {
  approval_id: string;
  status: ApprovalStatus;
  lease_id: string;
  /** `pending_approval` until the credential is collected: an approved request can still be withdrawn. */
  lease_state: LeaseState;
  template: string;
  agent: string;
  agent_issuer: string;
  on_behalf_of: { sub: string; issuer: string } | null;
  intent: { task_id: string; purpose: string; actions: string[]; resources: string[] };
  ttl_seconds: number;
  /** Policies that decided, and why step-up was asked (the group and the number of approvers). */
  policies: string[];
  policy_version: string;
  group: string;
  required_approvals: number;
  approvals: ApprovalVoteView[];
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  /** The staff subject whose vote or denial decided; null when policy or expiry decided. */
  decided_by: string | null;
  /** The reviewer's reason, or why policy or expiry closed the request. */
  reason: string | null;
}

/** What the approval row's `context` records when the request is made. */
export interface ApprovalContext {
  /** Cedar principal attributes at request time, to re-evaluate when the reviewers approve. */
  principal_attributes: Record<string, unknown>;
  /** Policies that decided the final outcome when policy (not a reviewer) denied after approval. */
  denied_by?: { policies: string[]; reasons: string[] };
}

export function approvalContext(approval: Approval): ApprovalContext {
  const context = approval.context as Partial<ApprovalContext>;
  return { principal_attributes: context.principal_attributes ?? {}, denied_by: context.denied_by };
}

export function toApprovalView(
  approval: Approval,
  lease: Lease,
  votes: readonly ApprovalVote[],
): ApprovalView {
  return {
    approval_id: approval.id,
    status: approval.status,
    lease_id: lease.id,
    lease_state: lease.state,
    template: lease.template,
    agent: lease.agent,
    agent_issuer: lease.agentIssuer,
    on_behalf_of: lease.onBehalfOf ?? null,
    intent: toIntentWire(lease.intent),
    // The granted TTL: the lease keeps expiry relative to creation until issued, then to issue.
    ttl_seconds: Math.round(
      (lease.expiresAt.getTime() - (lease.issuedAt ?? lease.createdAt).getTime()) / 1000,
    ),
    policies: lease.policies,
    policy_version: lease.policyVersion,
    group: approval.group,
    required_approvals: approval.requiredApprovals,
    approvals: [...votes]
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map((v) => ({ approver: v.approver, reason: v.reason, at: v.at.toISOString() })),
    created_at: approval.createdAt.toISOString(),
    expires_at: approval.expiresAt.toISOString(),
    decided_at: approval.decidedAt?.toISOString() ?? null,
    decided_by: approval.decidedBy,
    reason: approval.reason,
  };
}
