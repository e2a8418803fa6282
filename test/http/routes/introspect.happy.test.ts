// POST /v1/introspect (RFC 7662): active exactly while the lease is; nothing else otherwise.
import { generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { discoverBroker } from '../../helpers/openid-client.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

async function mint() {
  const res = await t.request('POST', '/v1/credentials', {
    token: await t.agentToken(),
    body: credentialRequest({ ttl_seconds: 120 }),
  });
  expect(res.status).toBe(201);
  return res.body as { lease_id: string; credential: { token: string } };
}

const form = (token: string) => ({
  body: `token=${encodeURIComponent(token)}`,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

describe('POST /v1/introspect', () => {
  test('an active token: active true with its claims (form body)', async () => {
    const minted = await mint();
    const res = await t.request('POST', '/v1/introspect', form(minted.credential.token));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      active: true,
      scope: 'reports:read',
      sub: 'agent-reports',
      aud: 'https://reports.internal',
      iss: 'https://broker.test.local',
      jti: minted.lease_id,
      task_id: 't-42',
      token_type: 'Bearer',
    });
  });

  test('JSON bodies are accepted too', async () => {
    const minted = await mint();
    const res = await t.request('POST', '/v1/introspect', { body: { token: minted.credential.token } });
    expect(res.body.active).toBe(true);
  });

  test('once the lease expires: {"active": false} and nothing else', async () => {
    const minted = await mint();
    t.clock.advance(121);
    const res = await t.request('POST', '/v1/introspect', form(minted.credential.token));
    expect(res.body).toEqual({ active: false });
    t.clock.advance(-121);
  });

  test('a token the broker did not mint is inactive', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const foreign = await new SignJWT({ scope: 'reports:read', jti: '00000000-0000-4000-8000-000000000000' })
      .setProtectedHeader({ alg: 'EdDSA', kid: t.keyStore.currentKey().kid, typ: 'JWT' })
      .setIssuer('https://broker.test.local')
      .setExpirationTime('5m')
      .sign(privateKey);
    for (const token of [foreign, 'garbage', await t.agentToken()]) {
      const res = await t.request('POST', '/v1/introspect', form(token));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
  });

  test('openid-client tokenIntrospection() with the advertised `none` method (token=…&client_id=…) gets the token state', async () => {
    const minted = await mint();
    const config = await discoverBroker(t, 'rs-anyone', client.None());
    const answer = await client.tokenIntrospection(config, minted.credential.token);
    expect(answer).toMatchObject({
      active: true,
      jti: minted.lease_id,
      aud: 'https://reports.internal',
      scope: 'reports:read',
    });
    const hinted = await client.tokenIntrospection(config, minted.credential.token, {
      token_type_hint: 'access_token',
    });
    expect(hinted.active).toBe(true);
  });

  test('a client_id and a token_type_hint are accepted beside the token', async () => {
    const minted = await mint();
    const body = `token=${encodeURIComponent(minted.credential.token)}&client_id=rs-reports&token_type_hint=access_token`;
    const res = await t.request('POST', '/v1/introspect', {
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(true);
  });
});

describe('POST /v1/introspect errors are OAuth JSON (RFC 6749 §5.2), never problem+json', () => {
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

  function expectOAuthError(
    res: { status: number; headers: Headers; body: unknown },
    status: number,
    error: string,
  ) {
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({ error, error_description: expect.any(String) });
  }

  test('a missing token is 400 invalid_request', async () => {
    expectOAuthError(
      await t.request('POST', '/v1/introspect', { body: 'nothing=here', headers: formHeaders }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await t.request('POST', '/v1/introspect', { body: '', headers: formHeaders }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await t.request('POST', '/v1/introspect', { body: '{"token": 5}' }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await t.request('POST', '/v1/introspect', { body: '{not json' }),
      400,
      'invalid_request',
    );
  });

  test('a repeated parameter is 400 invalid_request (RFC 6749 §3.1)', async () => {
    const minted = await mint();
    const token = encodeURIComponent(minted.credential.token);
    expectOAuthError(
      await t.request('POST', '/v1/introspect', {
        body: `token=${token}&token=${token}`,
        headers: formHeaders,
      }),
      400,
      'invalid_request',
    );
  });

  test('a body that is neither a form nor JSON is 415 invalid_request', async () => {
    const res = await t.request('POST', '/v1/introspect', {
      body: 'token=x',
      headers: { 'content-type': 'text/plain' },
    });
    expectOAuthError(res, 415, 'invalid_request');
    expect(res.headers.get('accept-post')).toContain('application/x-www-form-urlencoded');
  });

  test('a body over 64 KiB is 413 invalid_request', async () => {
    const res = await t.request('POST', '/v1/introspect', {
      body: `token=${'a'.repeat(70_000)}`,
      headers: formHeaders,
    });
    expectOAuthError(res, 413, 'invalid_request');
  });
});
