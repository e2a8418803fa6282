// Staff sign in to the console with the authorization code flow + PKCE at a real OIDC provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csrfOf } from './console-client.js';
import { type ConsoleHarness, startConsoleHarness } from './console-harness.js';

describe('console sign-in (confidential client)', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsoleHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends a visitor without a session to the staff IdP with a PKCE (S256) authorization request', async () => {
    const client = h.client();
    const first = await client.request('/console/leases');
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('/console/login?return_to=%2Fconsole%2Fleases');
    const login = await client.request(first.headers.get('location')!);
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get('location')!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${h.idp.issuer}/auth`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      response_type: 'code',
      client_id: 'jit-broker-console',
      redirect_uri: `${h.brokerUrl}/console/callback`,
      scope: 'openid profile email groups',
      code_challenge_method: 'S256',
    });
    for (const param of ['state', 'nonce', 'code_challenge'])
      expect(authorize.searchParams.get(param)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('signs staff in through the IdP login page and returns them to the page they asked for', async () => {
    const client = h.client();
    const page = await client.signIn('alice', '/console/leases');
    expect(page.status).toBe(200);
    expect(new URL(page.url).pathname).toBe('/console/leases');
    expect(page.text).toContain('Alice Ng');
    expect(page.text).toContain('alice (security-oncall, staff)');
  });

  it('keeps the session in an HttpOnly, SameSite=Lax cookie scoped to /console for at most 8 hours', async () => {
    const client = h.client();
    await client.signIn('alice');
    const line = client.jar.setCookieLines.find(
      (l) => l.startsWith('jitb_console=') && !l.startsWith('jitb_console=;'),
    );
    expect(line).toBeDefined();
    const attributes = line!.split(';').map((a) => a.trim().toLowerCase());
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('samesite=lax');
    expect(attributes).toContain('path=/console');
    expect(attributes).toContain('max-age=28800');
    // PUBLIC_URL is plain http on loopback here; on https the cookie is __Secure- and Secure.
    expect(attributes).not.toContain('secure');
  });

  it('spends the sign-in cookie at the callback, so a callback URL cannot be replayed', async () => {
    const client = h.client();
    await client.signIn('alice');
    expect(client.jar.setCookieLines.some((l) => /^jitb_login=;.*Max-Age=0/i.test(l))).toBe(true);
    const callback = client.redirects.find((url) => url.startsWith(`${h.brokerUrl}/console/callback?`))!;
    const replay = await client.request(callback);
    expect(replay.status).toBe(401);
    expect(replay.text).toContain('this sign-in expired or was started in another browser');
  });

  it('signs out on a POST with the CSRF token: the cookie is cleared and the next visit signs in again', async () => {
    const client = h.client();
    const page = await client.signIn('alice');
    const out = await client.post('/console/logout', { csrf: csrfOf(page) }, { follow: false });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/console/signed-out');
    expect(out.headers.getSetCookie().some((l) => /^jitb_console=;.*Max-Age=0/i.test(l))).toBe(true);
    expect(client.jar.get('jitb_console')).toBeUndefined();
    const signedOut = await client.follow(out);
    expect(signedOut.text).toContain('Signed out');
    const again = await client.request('/console');
    expect(again.status).toBe(302);
    expect(again.headers.get('location')).toMatch(/^\/console\/login/);
  });

  it('ends a session after 8 hours', async () => {
    const client = h.client();
    await client.signIn('alice');
    expect((await client.request('/console')).status).toBe(200);
    h.tb.clock.advance(8 * 3600 + 1);
    try {
      expect((await client.request('/console')).status).toBe(302);
    } finally {
      h.tb.clock.advance(-(8 * 3600 + 1));
    }
  });

  it('serves console pages with a CSP that allows no script, no framing and forms only to itself', async () => {
    const client = h.client();
    await client.signIn('alice');
    const page = await client.request('/console');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.text).not.toMatch(/<script/i);
  });
});

describe('console sign-in (public client, PKCE only)', () => {
  let h: ConsoleHarness;
  beforeAll(async () => {
    h = await startConsoleHarness({ clientSecret: undefined });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('signs staff in without a client secret', async () => {
    const page = await h.client().signIn('carol');
    expect(page.status).toBe(200);
    expect(page.text).toContain('Carol Diaz');
  });
});
