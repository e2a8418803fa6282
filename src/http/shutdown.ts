// Bounded shutdown of the HTTP server. On SIGTERM a load balancer must see the broker leave and
// stop sending it work: /readyz fails, every response from then on carries `Connection: close`
// (so keep-alive clients move to another replica instead of reusing this socket), idle sockets are
// closed, no new connection is accepted, and whatever is still running after the timeout is cut.
import type { Server } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './env.js';
import { setResponseHeader } from './response-headers.js';

export class ShutdownState {
  #draining = false;
  get draining(): boolean {
    return this.#draining;
  }
  begin(): void {
    this.#draining = true;
  }
}

/** Marks every response of a draining broker `Connection: close` (RFC 9112 §9.6). */
export function closeConnectionsWhenDraining(state: ShutdownState): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (state.draining) setResponseHeader(c, 'Connection', 'close');
  };
}

export type DrainOutcome = 'drained' | 'timed-out';

/**
 * Stops accepting, closes idle keep-alive sockets at once, lets in-flight requests finish (each
 * answered with Connection: close, which ends its socket) and, after `timeoutMs`, destroys what is
 * left. Resolves once the server is closed.
 */
export async function drainServer(server: Server, timeoutMs: number): Promise<DrainOutcome> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // A socket that was mid-request when close() ran becomes idle once answered: sweep again until
  // the server has closed (keep-alive clients may also open a request just before seeing close).
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DrainOutcome>((resolve) => {
    timer = setTimeout(() => resolve('timed-out'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
    if (outcome === 'timed-out') {
      server.closeAllConnections();
      await closed;
    }
    return outcome;
  } finally {
    clearInterval(sweeper);
    clearTimeout(timer);
  }
}
