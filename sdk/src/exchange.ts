// The OAuth front door: RFC 8693 token exchange (or RFC 7523 jwt-bearer) at POST /v1/token,
// form-encoded, with the task intent as RFC 9396 authorization_details; a step-up is polled in
// CIBA poll mode (authorization_pending / slow_down) when the caller asks to wait.

import type { WaitOptions } from './client.js';
import { ApprovalRequiredError, BrokerError, OAuthError } from './errors.js';
import { type TokenSource, tokenOf } from './token-sources.js';

export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const GRANT_CIBA = 'urn:openid:params:grant-type:ciba';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export interface ExchangeRequest {
  /** RFC 8707 resource: selects the jwt template whose audience it is. */
  resource?: string;
  audience?: string;
  scope?: string | string[];
  /** The task intent (authorization_details of type task_intent). Without it the exchange is a task of its own. */
  intent?: { taskId: string; purpose: string; actions: string[]; resources?: string[]; template?: string };
  /** RFC 7523 jwt-bearer instead of token exchange (the MCP workload-identity profile). */
  grant?: 'token-exchange' | 'jwt-bearer';
  /** Delegation: a broker-minted token to narrow; this workload's token becomes the actor token. */
  subjectToken?: string;
  requestedTokenType?: string;
  clientId?: string;
}

export interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  task_id: string;
  lease_id: string;
  authorization_details?: unknown[];
  [member: string]: unknown;
}

interface Endpoint {
  url: string;
  fetch: typeof fetch;
  token: TokenSource;
}

export async function exchangeToken(
  endpoint: Endpoint,
  request: ExchangeRequest,
  options: WaitOptions & { wait?: boolean } = {},
): Promise<TokenResponse> {
  const own = await tokenOf(endpoint.token);
  const form = new URLSearchParams();
  const subject = subjectParams(request, own);
  if (request.grant === 'jwt-bearer') {
    form.set('grant_type', GRANT_JWT_BEARER);
    form.set('assertion', own);
  } else {
    form.set('grant_type', GRANT_TOKEN_EXCHANGE);
    for (const [k, v] of Object.entries(subject)) form.set(k, v);
    if (request.subjectToken !== undefined) {
      form.set('actor_token', own);
      form.set('actor_token_type', TOKEN_TYPE_JWT);
    }
  }
  if (request.resource !== undefined) form.set('resource', request.resource);
  if (request.audience !== undefined) form.set('audience', request.audience);
  if (request.scope !== undefined) {
    form.set('scope', Array.isArray(request.scope) ? request.scope.join(' ') : request.scope);
  }
  if (request.intent !== undefined) {
    const { taskId, purpose, actions, resources, template } = request.intent;
    form.set(
      'authorization_details',
      JSON.stringify([
        {
          type: 'task_intent',
          task_id: taskId,
          purpose,
          actions,
          resources: resources ?? [],
          ...(template === undefined ? {} : { template }),
        },
      ]),
    );
  }
  if (request.requestedTokenType !== undefined) form.set('requested_token_type', request.requestedTokenType);
  if (request.clientId !== undefined) form.set('client_id', request.clientId);

  const first = await post(endpoint, form, options.signal);
  if (first.ok) return first.body as TokenResponse;
  const error = first.body as { error: string; auth_req_id?: string; interval?: number };
  if (error.error !== 'authorization_pending' || typeof error.auth_req_id !== 'string') {
    throw new OAuthError(first.status, error);
  }
  if (!options.wait) throw new ApprovalRequiredError(error.auth_req_id);

  // CIBA poll mode: the same workload authenticates each poll; an auth_req_id is not a bearer secret.
  const authReqId = error.auth_req_id;
  const pending = { approval_id: authReqId, status: 'pending' as const, lease_id: '' };
  const started = Date.now();
  let interval = typeof error.interval === 'number' && error.interval > 0 ? error.interval : 5;
  options.onPending?.(pending, 0);
  for (;;) {
    await delay(interval * 1000, options.signal);
    const poll = new URLSearchParams({ grant_type: GRANT_CIBA, auth_req_id: authReqId });
    for (const [k, v] of Object.entries(subjectParams({}, await tokenOf(endpoint.token)))) poll.set(k, v);
    const answer = await post(endpoint, poll, options.signal);
    if (answer.ok) return answer.body as TokenResponse;
    const e = answer.body as { error: string };
    if (e.error === 'slow_down') interval += 5;
    else if (e.error !== 'authorization_pending') throw new OAuthError(answer.status, e);
    options.onPending?.(pending, Date.now() - started);
  }
}

function subjectParams(request: Pick<ExchangeRequest, 'subjectToken'>, own: string): Record<string, string> {
  return request.subjectToken === undefined
    ? { subject_token: own, subject_token_type: TOKEN_TYPE_JWT }
    : { subject_token: request.subjectToken, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN };
}

async function post(
  endpoint: Endpoint,
  form: URLSearchParams,
  signal: AbortSignal | undefined,
): Promise<{ ok: boolean; status: number; body: unknown }> {
  let res: Response;
  try {
    res = await endpoint.fetch(`${endpoint.url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
      signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new BrokerError(
      {
        type: 'urn:jit-broker:problem:unreachable',
        title: 'Broker unreachable',
        status: 0,
        detail: `${endpoint.url}: ${(error as Error).message}`,
      },
      { cause: error },
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: 'invalid_response', error_description: `HTTP ${res.status}: ${text.slice(0, 200)}` };
  }
  if (
    !res.ok &&
    (typeof body !== 'object' || body === null || typeof (body as { error?: unknown }).error !== 'string')
  ) {
    body = { error: 'invalid_response', error_description: `HTTP ${res.status}` };
  }
  return { ok: res.ok, status: res.status, body };
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
