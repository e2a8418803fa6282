// Typed errors for every way the broker says no: an RFC 9457 problem becomes a subclass of
// BrokerError chosen by its status and type, so callers catch what they can act on.

/** An RFC 9457 problem as the broker sends it (`application/problem+json`). */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  request_id?: string;
  errors?: { field: string; message: string }[];
  policies?: string[];
  reasons?: string[];
  [extension: string]: unknown;
}

export class BrokerError extends Error {
  override name = 'BrokerError';
  readonly status: number;
  /** The problem type URI (`urn:jit-broker:problem:denied`), or a client-side reason. */
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  readonly requestId: string | undefined;
  readonly problem: ProblemBody | undefined;

  constructor(problem: ProblemBody, options?: { cause?: unknown }) {
    super(`${problem.title}: ${problem.detail}`, options);
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.requestId = problem.request_id;
    this.problem = problem;
  }
}

/** 401: the workload or staff token is missing, expired, or not from a trusted issuer. */
export class UnauthorizedError extends BrokerError {
  override name = 'UnauthorizedError';
}

/** 403 from policy: `policies` are the ids of the policies that decided, `reasons` why. */
export class DeniedError extends BrokerError {
  override name = 'DeniedError';
  readonly policies: string[];
  readonly reasons: string[];
  constructor(problem: ProblemBody) {
    super(problem);
    this.policies = Array.isArray(problem.policies) ? problem.policies : [];
    this.reasons = Array.isArray(problem.reasons) ? problem.reasons : [];
  }
}

/** A reviewer denied the step-up request, or it expired before anyone decided. */
export class ApprovalDeniedError extends DeniedError {
  override name = 'ApprovalDeniedError';
  readonly approvalId: string | undefined;
  constructor(problem: ProblemBody) {
    super(problem);
    this.approvalId = typeof problem.approval_id === 'string' ? problem.approval_id : undefined;
  }
}

/** 403 that is not a policy decision (e.g. a staff member outside the approving group). */
export class ForbiddenError extends BrokerError {
  override name = 'ForbiddenError';
}

/** The request needs a human's approval first; wait with `waitForApproval(approvalId)`. */
export class ApprovalRequiredError extends BrokerError {
  override name = 'ApprovalRequiredError';
  readonly approvalId: string;
  readonly leaseId: string | undefined;
  constructor(approvalId: string, leaseId?: string) {
    super({
      type: 'urn:jit-broker:problem:approval-required',
      title: 'Approval required',
      status: 202,
      detail: `step-up approval ${approvalId} is pending`,
    });
    this.approvalId = approvalId;
    this.leaseId = leaseId;
  }
}

/** 404: no such lease or approval, or not the caller's (the broker does not say which). */
export class NotFoundError extends BrokerError {
  override name = 'NotFoundError';
}

/** 409: e.g. renewing a lease that is no longer active, collecting an approval twice. */
export class ConflictError extends BrokerError {
  override name = 'ConflictError';
}

/** 400/413/415/422: the request itself is wrong; `errors` names each bad field. */
export class InvalidRequestError extends BrokerError {
  override name = 'InvalidRequestError';
  readonly errors: { field: string; message: string }[];
  constructor(problem: ProblemBody) {
    super(problem);
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

/** 429: a limit (live leases, issuances per minute) was reached; retry after `retryAfterSeconds`. */
export class RateLimitedError extends BrokerError {
  override name = 'RateLimitedError';
  readonly retryAfterSeconds: number | undefined;
  constructor(problem: ProblemBody, retryAfterSeconds?: number) {
    super(problem);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** 502/503: the broker's database or a provider is failing; the request may be retried. */
export class UnavailableError extends BrokerError {
  override name = 'UnavailableError';
  readonly retryAfterSeconds: number | undefined;
  constructor(problem: ProblemBody, retryAfterSeconds?: number) {
    super(problem);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** An OAuth error from the token endpoint (RFC 6749 §5.2), with `policies` on a policy denial. */
export class OAuthError extends BrokerError {
  override name = 'OAuthError';
  readonly error: string;
  readonly errorDescription: string | undefined;
  readonly policies: string[];
  constructor(status: number, body: { error: string; error_description?: string; policies?: unknown }) {
    super({
      type: `urn:ietf:params:oauth:error:${body.error}`,
      title: body.error,
      status,
      detail: body.error_description ?? body.error,
    });
    this.error = body.error;
    this.errorDescription = body.error_description;
    this.policies = Array.isArray(body.policies) ? body.policies.filter((p) => typeof p === 'string') : [];
  }
}

/** No workload token could be found: names every source that was tried. */
export class NoWorkloadTokenError extends Error {
  override name = 'NoWorkloadTokenError';
}

/** The problem+json body, or a problem made up from the status when the body is not one. */
export function problemFrom(status: number, statusText: string, body: unknown): ProblemBody {
  if (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as ProblemBody).title === 'string' &&
    typeof (body as ProblemBody).detail === 'string'
  ) {
    return { ...(body as ProblemBody), status };
  }
  const text = typeof body === 'string' && body.length > 0 ? body.slice(0, 200) : statusText;
  return {
    type: 'about:blank',
    title: statusText || `HTTP ${status}`,
    status,
    detail: text || `HTTP ${status}`,
  };
}

/** The typed error for a problem the broker answered with. */
export function errorFor(problem: ProblemBody, headers?: Headers): BrokerError {
  const retryAfter = headers?.get('retry-after');
  const seconds =
    retryAfter !== null && retryAfter !== undefined && /^\d+$/.test(retryAfter)
      ? Number(retryAfter)
      : undefined;
  const slug = problem.type.startsWith('urn:jit-broker:problem:')
    ? problem.type.slice('urn:jit-broker:problem:'.length)
    : problem.type;
  switch (problem.status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return new InvalidRequestError(problem);
    case 401:
      return new UnauthorizedError(problem);
    case 403:
      if (slug === 'approval-denied' || slug === 'approval-expired') return new ApprovalDeniedError(problem);
      if (slug === 'denied') return new DeniedError(problem);
      return new ForbiddenError(problem);
    case 404:
      return new NotFoundError(problem);
    case 409:
      return new ConflictError(problem);
    case 429:
      return new RateLimitedError(problem, seconds);
    case 502:
    case 503:
    case 504:
      return new UnavailableError(problem, seconds);
    default:
      return new BrokerError(problem);
  }
}
