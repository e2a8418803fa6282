// The agent's client: mint a credential for a task (waiting through a step-up approval if asked),
// renew, revoke, complete the task, read a lease, introspect a token, and the OAuth token exchange.
import { ApprovalRequiredError } from './errors.js';
import { type ExchangeRequest, exchangeToken, type TokenResponse } from './exchange.js';
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
  Introspection,
  IssuedCredential,
  Lease,
  PendingApproval,
  RenewedLease,
  TaskCompleted,
  TaskSpec,
} from './types.js';

export interface JitBrokerOptions extends TransportOptions {
  /** The workload identity token, or a function returning the current one (see workloadToken()). */
  token?: TokenSource;
}

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called once with the pending approval, then after every long-poll round that is still pending. */
  onPending?: (approval: PendingApproval, elapsedMs: number) => void;
  /** Seconds per long-poll round (the broker allows 0–60); default 30. */
  pollSeconds?: number;
}

export interface MintOptions extends WaitOptions {
  /** Wait for a step-up approval instead of throwing ApprovalRequiredError; default false. */
  wait?: boolean;
  idempotencyKey?: string;
}

export class JitBroker {
  readonly url: string;
  private readonly api: ApiClient;
  private readonly token: TokenSource | undefined;
  private readonly fetchImpl: typeof fetch;

  constructor(options: JitBrokerOptions = {}) {
    const { api, baseUrl, fetch } = createApiClient(options);
    this.api = api;
    this.url = baseUrl;
    this.fetchImpl = fetch;
    this.token = options.token;
  }

  private auth() {
    return bearer(this.token, 'workload');
  }

  /** POST /v1/credentials as is: the credential (201) or the pending approval (202). */
  async request(
    spec: TaskSpec,
    options: { idempotencyKey?: string } = {},
  ): Promise<IssuedCredential | PendingApproval> {
    const headers: Record<string, string> = { ...(await this.auth()) };
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    const result = await reach(this.url, () =>
      this.api.POST('/v1/credentials', {
        headers,
        body: {
          template: spec.template,
          intent: {
            task_id: spec.taskId,
            purpose: spec.purpose,
            actions: spec.actions,
            resources: spec.resources ?? [],
          },
          ...(spec.ttlSeconds === undefined ? {} : { ttl_seconds: spec.ttlSeconds }),
          ...(spec.onBehalfOf === undefined ? {} : { on_behalf_of: spec.onBehalfOf }),
        },
      }),
    );
    return unwrap(result) as IssuedCredential | PendingApproval;
  }

  /**
   * A credential for the task. A step-up is waited for with `wait: true` (long-polling, with
   * `onPending` told as it goes); otherwise it throws ApprovalRequiredError with the approval id.
   */
  async mint(spec: TaskSpec, options: MintOptions = {}): Promise<IssuedCredential> {
    const answer = await this.request(spec, options);
    if (!isPending(answer)) return answer;
    if (!options.wait) throw new ApprovalRequiredError(answer.approval_id, answer.lease_id);
    return this.waitForApproval(answer.approval_id, { ...options, pending: answer });
  }

  /** Long-polls the approval until it is decided: the credential, or ApprovalDeniedError. */
  async waitForApproval(
    approvalId: string,
    options: WaitOptions & { pending?: PendingApproval } = {},
  ): Promise<IssuedCredential> {
    const started = Date.now();
    const wait = Math.max(0, Math.min(60, options.pollSeconds ?? 30));
    const pending: PendingApproval = options.pending ?? {
      approval_id: approvalId,
      status: 'pending',
      lease_id: '',
    };
    options.onPending?.(pending, 0);
    for (;;) {
      options.signal?.throwIfAborted();
      const result = await reach(this.url, async () =>
        this.api.GET('/v1/approvals/{id}', {
          params: { path: { id: approvalId }, query: { wait } },
          headers: await this.auth(),
          signal: options.signal,
        }),
      );
      const body = unwrap(result) as IssuedCredential | { status: string };
      if (result.response.status === 201) return body as IssuedCredential;
      options.onPending?.(pending, Date.now() - started);
    }
  }

  /** Extends the lease (policy re-evaluated); `credential` is set where the provider re-mints. */
  async renew(leaseId: string, options: { ttlSeconds?: number } = {}): Promise<RenewedLease> {
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/leases/{id}/renew', {
        params: { path: { id: leaseId } },
        headers: await this.auth(),
        body: options.ttlSeconds === undefined ? {} : { ttl_seconds: options.ttlSeconds },
      }),
    );
    return unwrap(result);
  }

  async revoke(leaseId: string): Promise<Lease> {
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/leases/{id}/revoke', {
        params: { path: { id: leaseId } },
        headers: await this.auth(),
      }),
    );
    return unwrap(result);
  }

  async lease(leaseId: string): Promise<Lease> {
    const result = await reach(this.url, async () =>
      this.api.GET('/v1/leases/{id}', { params: { path: { id: leaseId } }, headers: await this.auth() }),
    );
    return unwrap(result);
  }

  /** Revokes every live lease of the task for this agent; returns the ids revoked. */
  async completeTask(taskId: string): Promise<TaskCompleted> {
    const result = await reach(this.url, async () =>
      this.api.POST('/v1/tasks/{task_id}/complete', {
        params: { path: { task_id: taskId } },
        headers: await this.auth(),
      }),
    );
    return unwrap(result);
  }

  /** RFC 7662; `client` authenticates as a resource server (HTTP Basic) to see its audience's tokens. */
  async introspect(token: string, client?: { id: string; secret: string }): Promise<Introspection> {
    const headers: Record<string, string> = {};
    if (client) {
      const basic = `${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`;
      headers.authorization = `Basic ${Buffer.from(basic).toString('base64')}`;
    }
    const result = await reach(this.url, () => this.api.POST('/v1/introspect', { headers, body: { token } }));
    return unwrap(result);
  }

  /** OAuth token exchange at POST /v1/token with this workload's token as the subject token. */
  async exchange(
    request: ExchangeRequest,
    options: WaitOptions & { wait?: boolean } = {},
  ): Promise<TokenResponse> {
    // bearer() throws the same "no workload token configured" error as every other call.
    if (this.token === undefined) await this.auth();
    return exchangeToken({ url: this.url, fetch: this.fetchImpl, token: this.token! }, request, options);
  }
}

export function isPending(answer: IssuedCredential | PendingApproval): answer is PendingApproval {
  return (
    (answer as PendingApproval).approval_id !== undefined &&
    (answer as IssuedCredential).credential === undefined
  );
}
