// POST /v1/credentials — what an attacker tries with identity tokens. Every failure is a 401
// problem with WWW-Authenticate, never echoes the token, and mints nothing.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { runCommonAuthTests } from '../../helpers/common-auth.js';
import { forgedKeyToken, hs256WithPublicKey, unsignedToken } from '../../helpers/issuer.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const claims = { sub: 'mallory', 'kubernetes.io': { namespace: 'reports' } };

async function expectRefused(token: string | undefined, header?: string) {
  const headers: Record<string, string> = header === undefined ? {} : { authorization: header };
  const res = await t.request('POST', '/v1/credentials', { token, headers, body: credentialRequest() });
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  if (token) expect(res.text).not.toContain(token);
  return res;
}

describe('hostile workload identity tokens are refused with 401', () => {
  test('no Authorization header', async () => {
    await expectRefused(undefined);
  });

  test('a Basic scheme', async () => {
    await expectRefused(undefined, 'Basic YWxhZGRpbjpvcGVuc2VzYW1l');
  });

  test('alg "none"', async () => {
    const res = await expectRefused(unsignedToken(t.issuer, claims));
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  });

  test("HS256 signed with the issuer's public key (algorithm confusion)", async () => {
    await expectRefused(await hs256WithPublicKey(t.issuer, claims));
  });

  test("a key that is not the issuer's, presenting the issuer's kid", async () => {
    await expectRefused(await forgedKeyToken(t.issuer, claims));
  });

  test('an expired token', async () => {
    const res = await expectRefused(
      await t.issuer.sign({ ...claims, exp: Math.floor(t.clock.now().getTime() / 1000) - 3600 }),
    );
    expect(res.body.detail).toMatch(/expired/i);
  });

  test('a token not yet valid (nbf beyond the clock skew)', async () => {
    await expectRefused(
      await t.issuer.sign({ ...claims, nbf: Math.floor(t.clock.now().getTime() / 1000) + 3600 }),
    );
  });

  test('the wrong audience', async () => {
    const res = await expectRefused(await t.issuer.sign({ ...claims, aud: 'someone-else' }));
    expect(res.body.detail).toMatch(/aud/i);
  });

  test('an unknown issuer', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: t.issuer.kid })
      .setIssuer('https://evil.example')
      .setAudience('jit-broker')
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await expectRefused(token);
    expect(res.body.detail).toMatch(/issuer/i);
  });

  test('a staff token is not a workload identity', async () => {
    await expectRefused(await t.staffToken('alice@example.com'));
  });

  test('a token with the signature stripped', async () => {
    const good = await t.agentToken('mallory');
    await expectRefused(`${good.split('.').slice(0, 2).join('.')}.`);
  });

  test('a payload swapped under a valid signature', async () => {
    const good = await t.agentToken('mallory');
    const [header, , signature] = good.split('.');
    const payload = Buffer.from(
      JSON.stringify({ ...claims, sub: 'admin', iss: t.issuer.issuer, aud: 'jit-broker', exp: 9999999999 }),
    ).toString('base64url');
    await expectRefused(`${header}.${payload}.${signature}`);
  });

  test('garbage and oversized tokens', async () => {
    await expectRefused('not-a-token');
    await expectRefused(`eyJ${'A'.repeat(10_000)}.e30.sig`);
  });

  test('nothing was minted for any refused token, and no token reached the logs', async () => {
    const [row] = await t.database.sql`select count(*)::int as n from leases`;
    expect(row!.n).toBe(0);
    const token = await t.agentToken('logged-agent');
    const ok = await t.request('POST', '/v1/credentials', { token, body: credentialRequest() });
    expect(ok.status).toBe(201);
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(ok.body.credential.token);
  });
});

describe('an agent is scoped to its own identity', () => {
  test('the principal comes from the token, not from the body', async () => {
    const token = await t.agentToken('agent-honest');
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: { ...credentialRequest(), agent: 'agent-admin' },
    });
    expect(res.status).toBe(400);
  });

  test('mapped attributes decide: a token from another namespace is denied', async () => {
    const token = await t.agentToken('agent-billing', { 'kubernetes.io': { namespace: 'billing' } });
    const res = await t.request('POST', '/v1/credentials', { token, body: credentialRequest() });
    expect(res.status).toBe(403);
  });
});

runCommonAuthTests({
  method: 'POST',
  path: '/v1/credentials',
  kind: 'workload',
  body: credentialRequest(),
  broker: () => t,
});
