// The one error type that reaches clients, and the closed catalogue of its kinds. Thrown where a
// problem is found, rendered once by the HTTP error handler as application/problem+json (RFC 9457).
// Plain: nothing here knows about Hono.

export interface FieldError {
  /** JSON pointer-ish path of the offending field, e.g. `intent.actions.0`. */
  field: string;
  message: string;
}

/** Every kind of problem the API returns: its slug (the `type` URI's last part), status and title. */
export const PROBLEM_CATALOGUE = {
  'bad-request': { status: 400, title: 'Bad request' },
  validation: { status: 400, title: 'Request validation failed' },
  'request-refused': { status: 400, title: 'Request refused' },
  /** An error of an endpoint OAuth clients call (introspection), rendered in RFC 6749 §5.2's shape. */
  'oauth-error': { status: 400, title: 'OAuth error' },
  'invalid-token': { status: 401, title: 'Unauthorized' },
  'missing-token': { status: 401, title: 'Unauthorized' },
  'invalid-signature': { status: 401, title: 'Unauthorized' },
  'replayed-delivery': { status: 401, title: 'Unauthorized' },
  'sign-in-failed': { status: 401, title: 'Sign-in failed' },
  'no-session': { status: 401, title: 'Not signed in' },
  forbidden: { status: 403, title: 'Forbidden' },
  'cross-origin': { status: 403, title: 'Forbidden' },
  csrf: { status: 403, title: 'Forbidden' },
  denied: { status: 403, title: 'Request denied by policy' },
  'approval-denied': { status: 403, title: 'Approval denied' },
  'approval-expired': { status: 403, title: 'Approval expired' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  unprocessable: { status: 422, title: 'Unprocessable request' },
  'too-many-requests': { status: 429, title: 'Too many requests' },
  /** 499 as nginx logs it: the client hung up; nobody reads the answer, it is for metrics and logs. */
  'client-closed-request': { status: 499, title: 'Client closed request' },
  /** Over a broker.yaml `limits:` quota; the problem names the limit. */
  'limit-exceeded': { status: 429, title: 'Limit exceeded' },
  internal: { status: 500, title: 'Internal server error' },
  'upstream-error': { status: 502, title: 'Bad gateway' },
  unavailable: { status: 503, title: 'Service unavailable' },
  'console-not-configured': { status: 503, title: 'Console sign-in is not configured' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemType = keyof typeof PROBLEM_CATALOGUE;

export const PROBLEM_TYPE_PREFIX = 'urn:jit-broker:problem:';

export interface ProblemOptions {
  errors?: FieldError[] | undefined;
  /** Extra members of the problem document (e.g. `policies`, `reasons` on a 403). */
  extensions?: Record<string, unknown> | undefined;
  /** Response headers (WWW-Authenticate, Retry-After). */
  headers?: Record<string, string> | undefined;
  /** The underlying error: logged, never sent. */
  cause?: unknown;
  /** Only for `request-refused` and `oauth-error`, which carry the status they were refused with. */
  status?: number | undefined;
  /** A machine-readable refinement for callers inside the broker (e.g. `ceiling`); not rendered. */
  code?: string | undefined;
  /**
   * Log level of a 5xx (default error). An expected state of the deployment (a feature left
   * unconfigured, a shutdown in progress) is a warning or info, not an error someone is paged for.
   */
  logLevel?: 'warn' | 'info' | undefined;
}

export class Problem extends Error {
  readonly status: number;
  readonly type: ProblemType;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly code: string | undefined;
  readonly logLevel: 'error' | 'warn' | 'info';

  constructor(type: ProblemType, detail: string, options: ProblemOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'Problem';
    this.type = type;
    this.status = options.status ?? PROBLEM_CATALOGUE[type].status;
    this.title = PROBLEM_CATALOGUE[type].title;
    this.detail = detail;
    this.errors = options.errors;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
    this.code = options.code;
    this.logLevel = options.logLevel ?? 'error';
  }
}

type Options<K extends keyof ProblemOptions = never> = Pick<ProblemOptions, K>;

function retryAfter(seconds: number | undefined, fallback: number): Record<string, string> {
  return { 'Retry-After': String(seconds ?? fallback) };
}

/** The factories: every problem the broker raises is made here. */
export const problems = {
  badRequest: (detail: string, o: Options<'errors'> = {}) => new Problem('bad-request', detail, o),
  validation: (detail: string, o: Options<'errors'>) => new Problem('validation', detail, o),
  requestRefused: (status: number, detail: string) => new Problem('request-refused', detail, { status }),
  unprocessable: (detail: string, o: Options<'errors' | 'extensions'> = {}) =>
    new Problem('unprocessable', detail, o),
  unauthorized: (detail: string, o: Options<'cause'> = {}) =>
    new Problem('invalid-token', detail, {
      ...o,
      headers: {
        'WWW-Authenticate': `Bearer error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`,
      },
    }),
  missingCredentials: (detail = 'an Authorization: Bearer token is required') =>
    new Problem('missing-token', detail, { headers: { 'WWW-Authenticate': 'Bearer' } }),
  invalidSignature: (detail: string) => new Problem('invalid-signature', detail),
  replayedDelivery: (detail: string) => new Problem('replayed-delivery', detail),
  signInFailed: (detail: string, o: Options<'cause'> = {}) => new Problem('sign-in-failed', detail, o),
  noSession: (detail: string) => new Problem('no-session', detail),
  forbidden: (detail: string, o: Options<'extensions'> = {}) => new Problem('forbidden', detail, o),
  crossOrigin: (detail: string) => new Problem('cross-origin', detail),
  csrf: (detail: string) => new Problem('csrf', detail),
  /** `stage`: refused before Cedar ran (the template ceiling, the delegation depth cap). */
  denied: (
    detail: string,
    o: { policies: string[]; reasons: string[]; stage?: 'ceiling' | 'delegation' | undefined },
  ) =>
    new Problem('denied', detail, {
      extensions: { policies: o.policies, reasons: o.reasons },
      code: o.stage,
    }),
  approvalDenied: (detail: string, o: { approvalId: string; reasons: string[] }) =>
    new Problem('approval-denied', detail, {
      extensions: { approval_id: o.approvalId, policies: [], reasons: o.reasons },
    }),
  approvalExpired: (detail: string, o: { approvalId: string }) =>
    new Problem('approval-expired', detail, {
      extensions: { approval_id: o.approvalId, policies: [], reasons: [detail] },
    }),
  notFound: (detail: string) => new Problem('not-found', detail),
  methodNotAllowed: (detail: string) => new Problem('method-not-allowed', detail),
  conflict: (detail: string) => new Problem('conflict', detail),
  payloadTooLarge: (detail: string) =>
    // The rest of an oversized body is never read, so the connection cannot carry another
    // request: say so (RFC 9110 §15.5.14) rather than let a keep-alive client reuse a dead socket.
    new Problem('payload-too-large', detail, { headers: { Connection: 'close' } }),
  unsupportedMediaType: (accepted: readonly string[]) =>
    new Problem('unsupported-media-type', `send the body with Content-Type ${accepted.join(' or ')}`, {
      headers: { 'Accept-Post': accepted.join(', ') },
    }),
  tooManyRequests: (detail: string, o: Options<'extensions'> & { retryAfterSeconds: number }) =>
    new Problem('too-many-requests', detail, {
      extensions: o.extensions,
      headers: retryAfter(o.retryAfterSeconds, 1),
    }),
  clientClosedRequest: (o: Options<'cause'> = {}) =>
    new Problem('client-closed-request', 'the client closed the connection before the answer', o),
  /** Over a broker.yaml `limits:` quota: the problem names the limit; Retry-After says when to try again. */
  limitExceeded: (o: {
    limit: string;
    value: number;
    retryAfterSeconds: number;
    template?: string | undefined;
  }) =>
    new Problem(
      'limit-exceeded',
      `${o.template === undefined ? '' : `template "${o.template}": `}${o.limit} is ${o.value}; try again in ${o.retryAfterSeconds} s`,
      {
        extensions: {
          limit: o.limit,
          limit_value: o.value,
          ...(o.template === undefined ? {} : { template: o.template }),
        },
        headers: retryAfter(o.retryAfterSeconds, 1),
      },
    ),
  internal: (cause: unknown) => new Problem('internal', 'an unexpected error occurred', { cause }),
  badGateway: (detail: string, o: Options<'extensions' | 'cause'> = {}) =>
    new Problem('upstream-error', detail, o),
  unavailable: (
    detail: string,
    o: Options<'extensions' | 'cause' | 'logLevel'> & { retryAfterSeconds?: number } = {},
  ) =>
    new Problem('unavailable', detail, {
      extensions: o.extensions,
      cause: o.cause,
      logLevel: o.logLevel,
      headers: retryAfter(o.retryAfterSeconds, 5),
    }),
  // An unconfigured console is a state of the deployment, not a fault: logged as a warning.
  consoleNotConfigured: (detail: string) =>
    new Problem('console-not-configured', detail, { logLevel: 'warn' }),
};
