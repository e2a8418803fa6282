// The approvals service as the HTTP API and the console see it. Implemented in
// approval-service.ts; the console only uses this interface.
export type { ApprovalView, ApprovalVoteView } from '../step-up/approval-view.js';

import type { ApprovalStatus } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Credential } from '../providers/types.js';
import type { ApprovalView } from '../step-up/approval-view.js';

export type CollectResult =
  | { status: 'pending'; approval: ApprovalView }
  | { status: 'issued'; lease_id: string; template: string; expires_at: string; credential: Credential };

export interface ApprovalListFilter {
  status?: ApprovalStatus;
  cursor?: string;
  limit?: number;
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
