// The staff console: server-rendered pages under /console. Every response carries a strict
// Content-Security-Policy (no script at all, the one stylesheet by hash, forms only to itself);
// every page but sign-in needs a session; every POST must come from this origin and carry the
// session's CSRF token; problems render as an HTML page, never a stack.

import type { MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { type Problem, problems } from '../../problem.js';
import { toProblem } from '../problem-response.js';
import {
  type ConsoleApp,
  ConsoleCookies,
  type ConsoleDeps,
  type ConsoleEnv,
  renderPage,
  SESSION_COOKIE,
} from './console-context.js';
import { registerApprovalPages } from './pages/approvals.js';
import { registerAuditPage } from './pages/audit.js';
import { registerLeasePages } from './pages/leases.js';
import { registerSignInPages } from './pages/sign-in.js';
import { type ConsoleSession, openSession } from './session.js';
import { STYLESHEET_HASH } from './views/layout.js';
import { problemPage } from './views/messages.js';

/** Reachable without a session: the sign-in round trip and the page after sign-out. */
const PUBLIC_PATHS = new Set(['/console/login', '/console/callback', '/console/signed-out']);

function securityHeaders(): MiddlewareHandler<ConsoleEnv> {
  const csp = [
    "default-src 'none'",
    `style-src '${STYLESHEET_HASH}'`,
    "img-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return async (c, next) => {
    await next();
    c.header('Content-Security-Policy', csp);
    c.header('X-Frame-Options', 'DENY');
    // same-origin keeps Origin on our own POSTs (no-referrer would make it "null") and tells
    // other sites nothing.
    c.header('Referrer-Policy', 'same-origin');
  };
}

/**
 * A state-changing request must come from a page of this console: the Origin header (or, when a
 * browser leaves it out, the Referer) must be PUBLIC_URL's origin.
 */
function sameOriginPosts(deps: ConsoleDeps): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const expected = new URL(deps.config.publicUrl).origin;
    const origin = c.req.header('origin');
    const referer = c.req.header('referer');
    const from = origin ?? (referer && URL.canParse(referer) ? new URL(referer).origin : undefined);
    if (from !== expected) {
      throw problems.crossOrigin(`this form was not submitted from the console at ${expected}`);
    }
    return next();
  };
}

function requireSession(deps: ConsoleDeps, cookies: ConsoleCookies): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path)) return next();
    const session = openSession(cookies.key, cookies.read(c, SESSION_COOKIE), deps.clock.now());
    if (session === undefined) {
      if (c.req.method === 'GET') {
        const back = new URL(c.req.url);
        return c.redirect(
          `/console/login?return_to=${encodeURIComponent(`${back.pathname}${back.search}`)}`,
          302,
        );
      }
      throw problems.noSession(
        'your console session has expired or you are not signed in; sign in and try again',
      );
    }
    c.set('session', session);
    c.set('staff', session.staff);
    return next();
  };
}

export function createConsoleApp(deps: ConsoleDeps): ConsoleApp {
  const app: ConsoleApp = new Hono<ConsoleEnv>();
  const cookies = new ConsoleCookies(deps);

  app.onError((error, c) => {
    const problem = toProblem(error);
    const log = c.get('log');
    if (problem.status >= 500)
      log?.error({ err: error, status: problem.status }, problem.detail ?? problem.title);
    else log?.info({ status: problem.status, type: problem.type, cause: problem.cause }, problem.detail);
    const retryAfter = problem.headers['Retry-After'];
    if (retryAfter !== undefined) c.header('Retry-After', retryAfter);
    const signedIn = (c.get('session') as ConsoleSession | undefined) !== undefined;
    const body = problemPage(problem, c.get('requestId'), signedIn);
    return renderPage(c, { title: problem.title, body }, problem.status as 400);
  });

  app.use('*', securityHeaders());
  app.use('*', sameOriginPosts(deps));
  app.use('*', requireSession(deps, cookies));
  registerSignInPages(app, deps, cookies);
  registerApprovalPages(app, deps);
  registerLeasePages(app, deps);
  registerAuditPage(app, deps);
  app.all('*', () => {
    throw problems.notFound('there is no such console page');
  });
  return app;
}
