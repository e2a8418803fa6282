// POST /v1/introspect (RFC 7662): active exactly while the lease is; nothing else otherwise.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';

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
});
