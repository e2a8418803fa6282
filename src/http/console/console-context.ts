// What every console page shares: its dependencies, the request's session, the session cookies,
// CSRF-checked form parsing and rendering a page inside the frame.
import type { Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { z } from 'zod';
import type { ApprovalService } from '../../approvals/types.js';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../logger.js';
import type { PolicyStore } from '../../policy/policy-store.js';
import { type Problem, problems } from '../../problem.js';
import type { Revoker } from '../../revocation/revoker.js';
import type { AppEnv } from '../env.js';
import { type ConsoleSession, csrfMatches, LOGIN_TTL_SECONDS, SESSION_TTL_SECONDS } from './session.js';
import { type Html, layout, type NavItem } from './views/layout.js';

export interface ConsoleDeps {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
  policies: PolicyStore;
  revoker: Revoker;
  /** Undefined when approvals are not enabled: the approval pages say so. */
  approvals?: ApprovalService | undefined;
  /** 32 bytes sealing the console's cookies (see session-key.ts). */
  consoleSessionKey?: Buffer | undefined;
}

export interface ConsoleEnv {
  Variables: AppEnv['Variables'] & { session: ConsoleSession };
}

export type ConsoleContext = Context<ConsoleEnv>;
export type ConsoleApp = Hono<ConsoleEnv>;

export const SESSION_COOKIE = 'jitb_console';
export const LOGIN_COOKIE = 'jitb_login';

/** Cookie settings that follow PUBLIC_URL: Secure (with the __Secure- prefix) on https. */
export class ConsoleCookies {
  constructor(private readonly deps: ConsoleDeps) {}

  /** Read per request, like every dependency: routes are also built for the OpenAPI export. */
  get secure(): boolean {
    return new URL(this.deps.config.publicUrl).protocol === 'https:';
  }

  get key(): Buffer {
    const key = this.deps.consoleSessionKey;
    if (key === undefined || key.length !== 32)
      throw new Error('consoleSessionKey (32 bytes) is not configured');
    return key;
  }

  private options(maxAge: number) {
    // Lax, not Strict: the IdP's redirect back to /console/callback is a cross-site navigation
    // that must carry the sign-in cookie. Forms are protected by the CSRF token and Origin check.
    return {
      path: '/console',
      httpOnly: true,
      sameSite: 'Lax' as const,
      maxAge,
      ...(this.secure ? { prefix: 'secure' as const, secure: true } : {}),
    };
  }

  private prefix() {
    return this.secure ? ('secure' as const) : undefined;
  }

  read(c: Context, name: string): string | undefined {
    return getCookie(c, name, this.prefix());
  }

  setSession(c: Context, value: string, expiresAt: Date, now: Date): void {
    const maxAge = Math.min(
      SESSION_TTL_SECONDS,
      Math.max(0, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)),
    );
    setCookie(c, SESSION_COOKIE, value, this.options(maxAge));
  }

  setLogin(c: Context, value: string): void {
    setCookie(c, LOGIN_COOKIE, value, this.options(LOGIN_TTL_SECONDS));
  }

  clear(c: Context, name: string): void {
    deleteCookie(c, name, this.options(0));
  }
}

export function csrfRefused(): Problem {
  return problems.csrf(
    'the form was not sent by this console session (missing or wrong CSRF token); reload the page and try again',
  );
}

/** Parses a POSTed form: the CSRF token must be this session's, then the fields must fit `schema`. */
export async function readForm<T extends z.ZodType>(
  c: ConsoleContext,
  schema: T,
): Promise<{ ok: true; data: z.output<T> } | { ok: false; message: string }> {
  const body = await c.req.parseBody();
  if (!csrfMatches(c.get('session'), body.csrf)) throw csrfRefused();
  const { csrf: _csrf, ...fields } = body;
  const parsed = schema.safeParse(fields);
  if (parsed.success) return { ok: true, data: parsed.data };
  return { ok: false, message: parsed.error.issues.map((i) => i.message).join('; ') };
}

export function renderPage(
  c: Context<ConsoleEnv>,
  page: { title: string; nav?: NavItem; body: Html },
  status: 200 | 400 | 401 | 403 | 404 | 409 | 500 | 503 = 200,
) {
  const session = c.get('session') as ConsoleSession | undefined;
  const frame = {
    title: page.title,
    ...(page.nav === undefined ? {} : { nav: page.nav }),
    ...(session === undefined ? {} : { staff: session.staff, csrf: session.csrf }),
  };
  return c.html(layout(frame, page.body), status);
}
