// POST /v1/introspect (RFC 7662): active exactly while the lease is; nothing else otherwise.
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type TestBroker, credentialRequest, startTestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

async function mint() {
  const res = await t.request('POST', '/v1/credentials', { token: await t.agentToken(), body: credentialRequest({ ttl_seconds: 120 }) });
  expect(res.status).toBe(201);
  return res.body as { lease_id: string; credential: { token: string } };
}

const form = (token: string) => ({ body: `token=${encodeURIComponent(token)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });

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

  test('a missing token is a 400 problem', async () => {
    const res = await t.request('POST', '/v1/introspect', { body: 'nothing=here', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
