// The one error type that reaches clients. Thrown where a problem is found, rendered once by the
// HTTP error handler as application/problem+json (RFC 9457). Plain: nothing here knows about Hono.

export interface FieldError {
  /** JSON pointer-ish path of the offending field, e.g. `intent.actions.0`. */
  field: string;
  message: string;
}

export interface ProblemInit {
  status: number;
  /** Short slug; rendered as the `type` URI `urn:jit-broker:problem:<type>`. */
  type: string;
  title: string;
  detail?: string;
  errors?: FieldError[];
  /** Extra members of the problem document (e.g. `policies`, `reasons` on a 403). */
  extensions?: Record<string, unknown>;
  /** Response headers (WWW-Authenticate, Retry-After). */
  headers?: Record<string, string>;
  /** The underlying error: logged, never sent. */
  cause?: unknown;
}

export class Problem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(init: ProblemInit) {
    super(init.detail ?? init.title, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'Problem';
    this.status = init.status;
    this.type = init.type;
    this.title = init.title;
    this.detail = init.detail;
    this.errors = init.errors;
    this.extensions = init.extensions ?? {};
    this.headers = init.headers ?? {};
  }
}

export const PROBLEM_TYPE_PREFIX = 'urn:jit-broker:problem:';

export const problems = {
  badRequest: (detail: string, errors?: FieldError[]) =>
    new Problem({ status: 400, type: 'bad-request', title: 'Bad request', detail, errors }),
  validation: (detail: string, errors: FieldError[]) =>
    new Problem({ status: 400, type: 'validation', title: 'Request validation failed', detail, errors }),
  unprocessable: (detail: string, errors?: FieldError[], extensions?: Record<string, unknown>) =>
    new Problem({ status: 422, type: 'unprocessable', title: 'Unprocessable request', detail, errors, extensions }),
  unauthorized: (detail: string, cause?: unknown) =>
    new Problem({
      status: 401,
      type: 'invalid-token',
      title: 'Unauthorized',
      detail,
      cause,
      headers: {
        'WWW-Authenticate': `Bearer error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`,
      },
    }),
  missingCredentials: (detail = 'an Authorization: Bearer token is required') =>
    new Problem({
      status: 401,
      type: 'missing-token',
      title: 'Unauthorized',
      detail,
      headers: { 'WWW-Authenticate': 'Bearer' },
    }),
  forbidden: (detail: string, extensions?: Record<string, unknown>) =>
    new Problem({ status: 403, type: 'forbidden', title: 'Forbidden', detail, extensions }),
  denied: (detail: string, policies: string[], reasons: string[]) =>
    new Problem({
      status: 403,
      type: 'denied',
      title: 'Request denied by policy',
      detail,
      extensions: { policies, reasons },
    }),
  notFound: (detail: string) => new Problem({ status: 404, type: 'not-found', title: 'Not found', detail }),
  conflict: (detail: string) => new Problem({ status: 409, type: 'conflict', title: 'Conflict', detail }),
  /** Over a broker.yaml `limits:` quota: the problem names the limit; Retry-After says when to try again. */
  limitExceeded: (limit: string, value: number, retryAfterSeconds: number, template?: string) =>
    new Problem({
      status: 429,
      type: 'limit-exceeded',
      title: 'Limit exceeded',
      detail: `${template === undefined ? '' : `template "${template}": `}${limit} is ${value}; try again in ${retryAfterSeconds} s`,
      extensions: { limit, limit_value: value, ...(template === undefined ? {} : { template }) },
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  unavailable: (detail: string, retryAfterSeconds = 5, cause?: unknown) =>
    new Problem({
      status: 503,
      type: 'unavailable',
      title: 'Service unavailable',
      detail,
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    }),
  badGateway: (detail: string, extensions?: Record<string, unknown>, cause?: unknown) =>
    new Problem({ status: 502, type: 'upstream-error', title: 'Bad gateway', detail, extensions, cause }),
};
