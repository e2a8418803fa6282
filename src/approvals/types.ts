// The approvals service as the HTTP API and the console see it. Implemented in
// approval-service.ts; the console only uses this interface.

import type { DbOrTx } from '../db/client.js';
import type { ApprovalStatus, LeaseState } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Credential } from '../providers/types.js';

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

export type CollectResult =
  | { status: 'pending'; approval: ApprovalView }
  | { status: 'issued'; lease_id: string; template: string; expires_at: string; credential: Credential };

export interface ApprovalListFilter {
  status?: ApprovalStatus;
  cursor?: string;
  limit?: number;
}

/** Which open requests a bulk revocation closes (at least one field). */
export interface ApprovalWithdrawFilter {
  leaseIds?: string[];
  agent?: string;
  agentIssuer?: string;
  taskId?: string;
  template?: string;
}

export interface ApprovalService {
  list(filter: ApprovalListFilter): Promise<{ items: ApprovalView[]; nextCursor: string | null }>;
  /** Staff view of one request, or undefined. */
  get(approvalId: string): Promise<ApprovalView | undefined>;
  /** Throws Problem 403 (not in group, own request, agent), 404, 409 (not pending). */
  approve(
    staff: HumanIdentity,
    approvalId: string,
    reason: string | undefined,
    requestId: string,
  ): Promise<ApprovalView>;
  deny(staff: HumanIdentity, approvalId: string, reason: string, requestId: string): Promise<ApprovalView>;
  /** Denies the open requests matching `filter` inside `tx` (a revocation); returns their ids. */
  withdrawMatching(
    tx: DbOrTx,
    actor: string,
    filter: ApprovalWithdrawFilter,
    reason: string,
    requestId: string,
  ): Promise<string[]>;
  /**
   * The requesting agent's long-poll; 404 for anyone else's approval. Throws Problem 403 when
   * denied or expired, 409 once the credential was collected. `signal` ends the wait early
   * (the client went away).
   */
  collect(
    identity: WorkloadIdentity,
    approvalId: string,
    waitSeconds: number,
    requestId: string,
    signal?: AbortSignal,
  ): Promise<CollectResult>;
}
