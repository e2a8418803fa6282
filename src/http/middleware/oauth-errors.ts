// Marks a route whose errors OAuth clients read: renderProblem answers them in RFC 6749 §5.2's
// JSON shape instead of problem+json. Installed before the body limit, so a 413 is OAuth-shaped too.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env.js';

export function oauthErrorShape(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // Only the OAuth request itself: a 405 for another method is the API's problem+json like any.
    if (c.req.method === 'POST') c.set('errorShape', 'oauth');
    await next();
  };
}
