// The security staff's client: list and bulk-revoke leases, review step-up requests (approve,
// deny), and verify the audit log's hash chain. Authenticates with the staff OIDC token.
import type { TokenSource } from './token-sources.js';
import {
  type ApiClient,
  bearer,
  createApiClient,
  reach,
  type TransportOptions,
  unwrap,
} from './transport.js';
import type {
  Approval,
  ApprovalList,
  ApprovalStatus,
  AuditVerification,
  BulkRevokeResult,
  LeaseList,
  LeaseState,
} from './types.js';

export interface JitBrokerStaffOptions extends TransportOptions {
  staffToken?: TokenSource;
}

export interface LeaseFilter {
  agent?: string;
  taskId?: string;
  state?: LeaseState;
  template?: string;
  limit?: number;
  cursor?: string;
}

/** Exactly one of agent, taskId or template. */
export type BulkRevokeTarget = { agent: string } | { taskId: string } | { template: string };

export class JitBrokerStaff {
  readonly url: string;
  private readonly api: ApiClient;
  private readonly token: TokenSource | undefined;

  constructor(options: JitBrokerStaffOptions = {}) {
    const { api, baseUrl } = createApiClient(options);
    this.api = api;
    this.url = baseUrl;
    this.token = options.staffToken;
  }

  private auth() {
    return bearer(this.token, 'staff');
  }

  async listLeases(filter: LeaseFilter = {}): Promise<LeaseList> {
    const query = {
      agent: filter.agent,
      task_id: filter.taskId,
      state: filter.state,
      template: filter.template,
      limit: filter.limit,
      cursor: filter.cursor,
    };
    const result = await reach(this.url, async () =>
      this.api.GET('/v1/leases', { params: { query }, headers: await this.auth() }),
    );
    return unwrap(result);
  }

  async bulkRevoke(target: BulkRevokeTarget, reason: string): Promise<BulkRevokeResult> {
    const body =
      'agent' in target
        ? { agent: target.agent, reason }
        : 'taskId' in target
          ? { task_id: target.taskId, reason }
          : { template: target.template, reason };
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/leases/revoke', { body, headers: await this.auth() }),
    );
    return unwrap(result);
  }

  async listApprovals(
    filter: { status?: ApprovalStatus; limit?: number; cursor?: string } = {},
  ): Promise<ApprovalList> {
    const result = await reach(this.url, async () =>
      this.api.GET('/v1/approvals', { params: { query: filter }, headers: await this.auth() }),
    );
    return unwrap(result);
  }

  async approve(approvalId: string, reason?: string): Promise<Approval> {
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/approvals/{id}/approve', {
        params: { path: { id: approvalId } },
        body: reason === undefined ? {} : { reason },
        headers: await this.auth(),
      }),
    );
    return unwrap(result);
  }

  async deny(approvalId: string, reason: string): Promise<Approval> {
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/approvals/{id}/deny', {
        params: { path: { id: approvalId } },
        body: { reason },
        headers: await this.auth(),
      }),
    );
    return unwrap(result);
  }

  async verifyAudit(): Promise<AuditVerification> {
    const result = await reach(this.url, async () =>
      this.api.GET('/v1/audit/verify', { headers: await this.auth() }),
    );
    return unwrap(result);
  }
}
