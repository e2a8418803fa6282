// Renders every error of the token endpoint in OAuth's shape (RFC 6749 §5.2) instead of
// problem+json: `{ error, error_description }` (+ `policies`, `auth_req_id`…), never cached.
import type { Context } from 'hono';
import { OAuthError, oauthErrorFrom } from '../oauth/errors.js';
import type { AppEnv } from './env.js';
import { toProblem } from './problem-response.js';

export function renderOAuthError(c: Context<AppEnv>, error: unknown): Response {
  // toProblem() already knows which thrown things are a 413, a database outage and so on.
  const oauth = error instanceof OAuthError ? error : oauthErrorFrom(toProblem(error));
  const log = c.get('log');
  const requestId = c.get('requestId');
  const cause = oauth.cause ?? error;
  if (oauth.status >= 500) log?.error({ err: cause, error: oauth.error }, oauth.detail ?? oauth.description);
  else log?.info({ error: oauth.error, detail: oauth.detail, cause: oauth.cause }, 'token request refused');
  for (const [name, value] of Object.entries(oauth.headers)) c.header(name, value);
  // RFC 6749 §5.1/§5.2: token responses, errors included, must not be cached.
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  if (oauth.status === 413) c.header('Connection', 'close');
  const body = { ...oauth.body(), ...(requestId ? { request_id: requestId } : {}) };
  return c.json(body, oauth.status as 400);
}
