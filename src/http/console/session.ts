// Console sessions without server state: who signed in (as the staff IdP vouched for them), their
// CSRF token and the session's expiry, sealed into one cookie; and the sign-in in progress (state,
// nonce, PKCE verifier), sealed into a short-lived second one.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { HumanIdentity } from '../../identity/types.js';
import { MAX_SEALED_BYTES, openCookieValue, sealCookieValue } from './sealed-cookie.js';

/** A staff session lasts a working day at most; then staff sign in at the IdP again. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;
/** Time allowed between leaving for the IdP and coming back to the callback. */
export const LOGIN_TTL_SECONDS = 10 * 60;

export interface ConsoleSession {
  staff: HumanIdentity;
  /** Bound to this session: every form carries it, every POST must present it. */
  csrf: string;
  expiresAt: Date;
}

export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** The console page to return to after sign-in (checked by safeReturnTo). */
  returnTo: string;
}

const sessionData = z.object({
  sub: z.string().min(1),
  iss: z.string().min(1),
  groups: z.array(z.string()),
  name: z.string().optional(),
  email: z.string().optional(),
  csrf: z.string().min(32),
  exp: z.number(),
});

const loginData = z.object({
  state: z.string().min(32),
  nonce: z.string().min(32),
  verifier: z.string().min(43),
  return_to: z.string(),
});

export class SessionTooLargeError extends Error {
  constructor(readonly groups: number) {
    super(`the session does not fit in a cookie (the identity provider sent ${groups} groups)`);
    this.name = 'SessionTooLargeError';
  }
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function newSession(staff: HumanIdentity, now: Date): ConsoleSession {
  return { staff, csrf: randomToken(), expiresAt: new Date(now.getTime() + SESSION_TTL_SECONDS * 1000) };
}

export function sealSession(key: Buffer, session: ConsoleSession): string {
  const { staff } = session;
  const data: z.input<typeof sessionData> = {
    sub: staff.subject,
    iss: staff.issuer,
    groups: staff.groups,
    ...(staff.name === undefined ? {} : { name: staff.name }),
    ...(staff.email === undefined ? {} : { email: staff.email }),
    csrf: session.csrf,
    exp: Math.floor(session.expiresAt.getTime() / 1000),
  };
  const sealed = sealCookieValue(key, 'session', data, session.expiresAt);
  if (sealed.length > MAX_SEALED_BYTES) throw new SessionTooLargeError(staff.groups.length);
  return sealed;
}

export function openSession(key: Buffer, value: string | undefined, now: Date): ConsoleSession | undefined {
  const parsed = sessionData.safeParse(openCookieValue(key, 'session', value, now));
  if (!parsed.success) return undefined;
  const d = parsed.data;
  const staff: HumanIdentity = { subject: d.sub, issuer: d.iss, groups: d.groups };
  if (d.name !== undefined) staff.name = d.name;
  if (d.email !== undefined) staff.email = d.email;
  return { staff, csrf: d.csrf, expiresAt: new Date(d.exp * 1000) };
}

export function sealPendingLogin(key: Buffer, login: PendingLogin, now: Date): string {
  const data: z.input<typeof loginData> = {
    state: login.state,
    nonce: login.nonce,
    verifier: login.codeVerifier,
    return_to: login.returnTo,
  };
  return sealCookieValue(key, 'login', data, new Date(now.getTime() + LOGIN_TTL_SECONDS * 1000));
}

export function openPendingLogin(
  key: Buffer,
  value: string | undefined,
  now: Date,
): PendingLogin | undefined {
  const parsed = loginData.safeParse(openCookieValue(key, 'login', value, now));
  if (!parsed.success) return undefined;
  const d = parsed.data;
  return { state: d.state, nonce: d.nonce, codeVerifier: d.verifier, returnTo: safeReturnTo(d.return_to) };
}

/** Constant-time equality of two strings (a length difference is not a secret). */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function csrfMatches(session: ConsoleSession, submitted: unknown): boolean {
  return typeof submitted === 'string' && submitted.length > 0 && constantTimeEqual(session.csrf, submitted);
}

/**
 * A console path to come back to after sign-in; anything else (another site, `//host`, a
 * backslash some browsers read as a slash) becomes `/console`, so the flow is no open redirect.
 */
export function safeReturnTo(value: string | undefined): string {
  if (value === undefined || value.length > 512 || !value.startsWith('/console') || /[\\\s]/.test(value)) {
    return '/console';
  }
  const url = new URL(value, 'http://console.invalid');
  const inConsole = url.pathname === '/console' || url.pathname.startsWith('/console/');
  const isLogin = url.pathname.startsWith('/console/login') || url.pathname.startsWith('/console/callback');
  return url.origin === 'http://console.invalid' && inConsole && !isLogin
    ? `${url.pathname}${url.search}`
    : '/console';
}
