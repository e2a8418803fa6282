// OAuth 2.0 errors (RFC 6749 §5.2: `{ "error", "error_description" }`) as Problems, for the
// endpoints OAuth clients call. The error code rides in the problem; the renderer picks the shape.
import { Problem } from './problem.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable';

/** The OAuth code of an error, from the Problem that carries it or from its HTTP status. */
export function oauthErrorCode(problem: Problem): OAuthErrorCode {
  const carried = problem.extensions.oauth_error;
  if (typeof carried === 'string') return carried as OAuthErrorCode;
  if (problem.status === 401) return 'invalid_client';
  if (problem.status === 503) return 'temporarily_unavailable';
  if (problem.status >= 500) return 'server_error';
  return 'invalid_request';
}

/**
 * `description` is fixed text the caller may read (node-oidc-provider's rule: nothing about
 * which client ids exist or why a secret did not match); specifics go to the log via `cause`.
 */
export function oauthError(
  status: number,
  code: OAuthErrorCode,
  description: string,
  opts: { headers?: Record<string, string>; cause?: unknown } = {},
): Problem {
  return new Problem('oauth-error', description, {
    status,
    extensions: { oauth_error: code },
    headers: opts.headers,
    cause: opts.cause,
  });
}
