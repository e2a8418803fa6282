// The token endpoint's errors (RFC 6749 §5.2 and the codes RFC 8693, RFC 8707, RFC 9396 and CIBA
// add): one error class, a closed list of codes, each with a fixed description. Specifics go to
// the log (`cause`, `detail`), never into a response an unauthenticated caller reads.
import { Problem } from '../problem.js';

export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_authorization_details',
  'access_denied',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'temporarily_unavailable',
  'server_error',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_authorization_details: 400,
  // A policy denial is a 403, as on POST /v1/credentials; the body names the deciding policies.
  access_denied: 403,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  temporarily_unavailable: 503,
  server_error: 500,
};

export interface OAuthErrorInit {
  /** What the client reads in `error_description`: fixed wording, nothing secret. */
  description: string;
  /** Extra members of the error body (`policies`, `auth_req_id`, `interval`). */
  extensions?: Record<string, unknown>;
  headers?: Record<string, string>;
  /** For the log only: which check failed and why. */
  detail?: string;
  cause?: unknown;
  /** Only where HTTP has a more precise status than the code's own (413 for a body too large). */
  status?: number;
}

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly detail: string | undefined;

  constructor(error: OAuthErrorCode, init: OAuthErrorInit) {
    super(init.detail ?? init.description, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'OAuthError';
    this.error = error;
    this.status = init.status ?? STATUS[error];
    this.description = init.description;
    this.extensions = init.extensions ?? {};
    this.headers = init.headers ?? {};
    this.detail = init.detail;
  }

  body(): Record<string, unknown> {
    return { error: this.error, error_description: this.description, ...this.extensions };
  }
}

const make =
  (code: OAuthErrorCode, fallback: string) =>
  (description: string = fallback, detail?: string, cause?: unknown) =>
    new OAuthError(code, { description, detail, cause });

export const oauthErrors = {
  invalidRequest: make('invalid_request', 'the request is invalid'),
  invalidGrant: make('invalid_grant', 'the grant is invalid'),
  unsupportedGrantType: make('unsupported_grant_type', 'unsupported grant_type'),
  invalidScope: make('invalid_scope', 'the requested scope is invalid'),
  invalidTarget: make('invalid_target', 'no single resource matches the requested resource or audience'),
  invalidAuthorizationDetails: make('invalid_authorization_details', 'authorization_details is invalid'),
  expiredToken: make('expired_token', 'the authorization request has expired'),
  accessDenied: (description: string, policies: string[], reasons: string[]) =>
    new OAuthError('access_denied', { description, extensions: { policies, reasons } }),
  authorizationPending: (authReqId: string, interval: number, expiresIn?: number) =>
    new OAuthError('authorization_pending', {
      description: 'a member of the approving group has not decided yet',
      extensions: {
        auth_req_id: authReqId,
        interval,
        ...(expiresIn === undefined ? {} : { expires_in: expiresIn }),
      },
    }),
  slowDown: (authReqId: string, interval: number) =>
    new OAuthError('slow_down', {
      description: `polled faster than every ${interval} seconds`,
      extensions: { auth_req_id: authReqId, interval },
      headers: { 'Retry-After': String(interval) },
    }),
  unavailable: (retryAfterSeconds: number, cause?: unknown) =>
    new OAuthError('temporarily_unavailable', {
      description: 'the broker cannot answer right now; retry later',
      headers: { 'Retry-After': String(retryAfterSeconds) },
      cause,
    }),
};

/** Problems that the shared issuance path throws, said in OAuth's words. */
export function oauthErrorFrom(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  if (!(error instanceof Problem)) {
    return new OAuthError('server_error', { description: 'internal error', cause: error });
  }
  const reasons = Array.isArray(error.extensions.reasons) ? (error.extensions.reasons as string[]) : [];
  const policies = Array.isArray(error.extensions.policies) ? (error.extensions.policies as string[]) : [];
  switch (error.status) {
    case 400:
    case 415:
    case 422:
      return new OAuthError('invalid_request', { description: error.detail ?? error.title, cause: error });
    case 401:
      return new OAuthError('invalid_grant', {
        description: 'the presented token is not valid',
        detail: error.detail,
        cause: error,
      });
    case 403:
      return new OAuthError('access_denied', {
        description: error.detail ?? 'denied by policy',
        extensions: { policies, reasons },
        cause: error,
      });
    case 404:
    case 409:
      return new OAuthError('invalid_grant', { description: error.detail ?? error.title, cause: error });
    case 413:
      return new OAuthError('invalid_request', {
        description: 'the request body is over 64 KiB',
        status: 413,
        cause: error,
      });
    case 429:
    case 503:
      return new OAuthError('temporarily_unavailable', {
        description: error.detail ?? 'the broker cannot answer right now; retry later',
        headers: error.headers['Retry-After'] ? { 'Retry-After': error.headers['Retry-After'] } : {},
        // Over a broker.yaml limit: 429 as on POST /v1/credentials, the body naming the limit.
        ...(error.type === 'limit-exceeded' ? { status: 429, extensions: error.extensions } : {}),
        cause: error,
      });
    case 502:
      return new OAuthError('temporarily_unavailable', {
        description: 'the credential provider failed; retry later',
        cause: error,
      });
    default:
      return new OAuthError('server_error', { description: 'internal error', cause: error });
  }
}
