// Per-request id (X-Request-Id: the caller's if it is sane, else a new one), a child logger that
// carries it, an access log line, and request counting. Tokens never reach the log: only the
// method, the route path and the status are recorded.
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import type { AppEnv } from '../env.js';
import { setResponseHeader } from '../response-headers.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestContext(logger: Logger, metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('log', log);
    const started = performance.now();
    await next();
    setResponseHeader(c, 'X-Request-Id', requestId);
    metrics.httpRequests.inc({ method: c.req.method, status: String(c.res.status) });
    log.debug(
      {
        method: c.req.method,
        path: c.req.routePath ?? c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  };
}
