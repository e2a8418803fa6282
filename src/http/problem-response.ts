// Renders every error as application/problem+json (RFC 9457), once, in the app's error handler
// (on OAuth endpoints in OAuth's own JSON error shape).
// Unknown errors become a 500 with the request id and nothing else; they are logged in full.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ZodError } from 'zod';
import { oauthErrorCode } from '../oauth-error.js';
import { type FieldError, PROBLEM_TYPE_PREFIX, Problem, problems } from '../problem.js';
import type { AppEnv } from './env.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

// postgres.js error codes for a connection that could not be made or was lost, and the SQLSTATE
// classes of an unavailable server: a database outage is a 503 that heals by itself.
const DB_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

// lock_timeout and statement_timeout (src/db/client.ts): the database is up but could not answer
// in time (a held lock, an overloaded server). Also a 503 the client may retry.
const DB_BUSY_CODES = new Set(['55P03', '57014']);

function hasCode(error: unknown, codes: (code: string) => boolean): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes(code)) return true;
    if (e instanceof AggregateError && e.errors.some((inner) => hasCode(inner, codes))) return true;
  }
  return false;
}

export function isDatabaseBusy(error: unknown): boolean {
  return hasCode(error, (code) => DB_BUSY_CODES.has(code));
}

export function isDatabaseUnavailable(error: unknown): boolean {
  return hasCode(error, (code) => DB_UNAVAILABLE_CODES.has(code) || code.startsWith('08'));
}

export function zodFieldErrors(error: ZodError, prefix?: string): FieldError[] {
  return error.issues.flatMap((issue) => {
    const base = [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: base ? `${base}.${key}` : key, message: 'unknown field' }));
    }
    return [{ field: base || '(body)', message: issue.message }];
  });
}

function fromHttpException(error: HTTPException): Problem {
  const message = error.message || 'request refused';
  if (error.status === 400 && /json/i.test(message))
    return problems.badRequest('the request body is not valid JSON');
  if (error.status === 413) return payloadTooLarge();
  // @hono/zod-openapi refuses a body whose media type the route does not declare; every such
  // route of this API reads JSON.
  if (error.status === 415) return unsupportedMediaType(['application/json']);
  return problems.requestRefused(error.status, message);
}

export function payloadTooLarge(): Problem {
  return problems.payloadTooLarge('request bodies are limited to 64 KiB');
}

export function unsupportedMediaType(accepted: readonly string[]): Problem {
  return problems.unsupportedMediaType(accepted);
}

export function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  if (error instanceof HTTPException) return fromHttpException(error);
  if (isDatabaseUnavailable(error))
    return problems.unavailable('the database is unreachable; retry shortly', {
      retryAfterSeconds: 5,
      cause: error,
    });
  if (isDatabaseBusy(error))
    return problems.unavailable('the database is busy (a lock or statement timed out); retry shortly', {
      retryAfterSeconds: 5,
      cause: error,
    });
  return problems.internal(error);
}

export function problemBody(problem: Problem, requestId: string | undefined): Record<string, unknown> {
  return {
    ...problem.extensions,
    type: `${PROBLEM_TYPE_PREFIX}${problem.type}`,
    title: problem.title,
    status: problem.status,
    detail: problem.detail ?? problem.title,
    ...(problem.errors ? { errors: problem.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

export function renderProblem(c: Context<AppEnv>, error: unknown): Response {
  const problem = toProblem(error);
  const requestId = c.get('requestId');
  const log = c.get('log');
  if (problem.status >= 500)
    log?.error({ err: error, status: problem.status }, problem.detail ?? problem.title);
  else if (problem.cause !== undefined)
    log?.info({ status: problem.status, cause: problem.cause }, problem.detail);
  for (const [name, value] of Object.entries(problem.headers)) c.header(name, value);
  if (c.get('errorShape') === 'oauth') {
    // RFC 6749 §5.2; an unknown error's detail is already generic ("an unexpected error occurred").
    return c.json(
      { error: oauthErrorCode(problem), error_description: problem.detail ?? problem.title },
      problem.status as 400,
    );
  }
  c.header('Content-Type', PROBLEM_CONTENT_TYPE);
  return c.body(JSON.stringify(problemBody(problem, requestId)), problem.status as 400);
}
