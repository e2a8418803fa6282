// POST /v1/credentials — what works: a scoped, short-lived JWT whose lease can be read back.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

async function verifyMinted(token: string) {
  const jwks = await t.request('GET', '/.well-known/jwks.json');
  return jwtVerify(token, createLocalJWKSet(jwks.body), {
    issuer: 'https://broker.test.local',
    audience: 'https://reports.internal',
    currentDate: t.clock.now(),
  });
}

describe('POST /v1/credentials', () => {
  test('mints a JWT whose claims are exactly the contract: iss, sub, aud, scope, jti = lease id, exp, task_id', async () => {
    const token = await t.agentToken('agent-a');
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ ttl_seconds: 300 }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(Object.keys(res.body).sort()).toEqual(['credential', 'expires_at', 'lease_id', 'template']);
    expect(res.body.template).toBe('reports-api');
    expect(res.body.credential.type).toBe('jwt');
    expect(res.body.credential.expires_at).toBe(res.body.expires_at);
    expect(res.headers.get('location')).toBe(`/v1/leases/${res.body.lease_id}`);

    const { payload, protectedHeader } = await verifyMinted(res.body.credential.token);
    expect(Object.keys(payload).sort()).toEqual([
      'aud',
      'exp',
      'iat',
      'iss',
      'jti',
      'scope',
      'sub',
      'task_id',
    ]);
    expect(payload).toMatchObject({
      iss: 'https://broker.test.local',
      sub: 'agent-a',
      aud: 'https://reports.internal',
      scope: 'reports:read',
      jti: res.body.lease_id,
      task_id: 't-42',
    });
    expect(payload.exp).toBe(Date.parse(res.body.expires_at) / 1000);
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(['EdDSA', 'ES256']).toContain(protectedHeader.alg);
    expect(protectedHeader.kid).toBe(t.keyStore.currentKey().kid);
  });

  test('the granted scope is exactly the requested actions, space separated', async () => {
    const token = await t.agentToken('agent-scopes');
    const human = await t.staffToken('alice@example.com', []);
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ on_behalf_of: human }, { actions: ['reports:read', 'reports:export'] }),
    });
    expect(res.status).toBe(201);
    const { payload } = await verifyMinted(res.body.credential.token);
    expect(payload.scope).toBe('reports:read reports:export');
  });

  test("with on_behalf_of the token is the human's, with the agent as actor (RFC 8693 act)", async () => {
    const token = await t.agentToken('agent-obo');
    const human = await t.staffToken('bob@example.com', []);
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ on_behalf_of: human }),
    });
    expect(res.status).toBe(201);
    const { payload } = await verifyMinted(res.body.credential.token);
    expect(payload.sub).toBe('bob@example.com');
    expect(payload.act).toEqual({ sub: 'agent-obo' });
  });

  test('the default TTL is the template default_ttl', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(),
      body: credentialRequest(),
    });
    expect(res.status).toBe(201);
    const ttl = (Date.parse(res.body.expires_at) - Math.floor(t.clock.now().getTime() / 1000) * 1000) / 1000;
    expect(ttl).toBe(300);
  });

  test('the TTL is capped by the smallest @max_ttl of the satisfied permits', async () => {
    // reports-agents-use-reports-api carries @max_ttl("600"); the template max is 900.
    const res = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(),
      body: credentialRequest({ ttl_seconds: 900 }),
    });
    expect(res.status).toBe(201);
    const { payload } = await verifyMinted(res.body.credential.token);
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  test('the lease can be read back by its agent, without any secret', async () => {
    const token = await t.agentToken('agent-read');
    const minted = await t.request('POST', '/v1/credentials', { token, body: credentialRequest() });
    const lease = await t.request('GET', `/v1/leases/${minted.body.lease_id}`, { token });
    expect(lease.status).toBe(200);
    expect(lease.body).toEqual({
      lease_id: minted.body.lease_id,
      state: 'active',
      template: 'reports-api',
      task_id: 't-42',
      agent: 'agent-read',
      expires_at: minted.body.expires_at,
      revoked_at: null,
      revoke_reason: null,
      provider: 'jwt',
      issued_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      intent: { task_id: 't-42', purpose: 'monthly report', actions: ['reports:read'], resources: [] },
    });
    expect(lease.text).not.toContain(minted.body.credential.token);
  });

  test('the same Idempotency-Key and body return the same lease and the same jti, with no second lease', async () => {
    const token = await t.agentToken('agent-idem');
    const headers = { 'idempotency-key': 'run-7f3a' };
    const first = await t.request('POST', '/v1/credentials', { token, headers, body: credentialRequest() });
    const second = await t.request('POST', '/v1/credentials', { token, headers, body: credentialRequest() });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.lease_id).toBe(first.body.lease_id);
    expect(second.body.expires_at).toBe(first.body.expires_at);
    const a = await verifyMinted(first.body.credential.token);
    const b = await verifyMinted(second.body.credential.token);
    expect(b.payload).toEqual(a.payload);
    const rows = await t.database.sql`select count(*)::int as n from leases where agent = 'agent-idem'`;
    expect(rows[0]!.n).toBe(1);
  });

  test('concurrent requests with one Idempotency-Key create exactly one lease', async () => {
    const token = await t.agentToken('agent-race');
    const headers = { 'idempotency-key': 'race-1' };
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.request('POST', '/v1/credentials', { token, headers, body: credentialRequest() }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.body.lease_id)).size).toBe(1);
    const rows = await t.database.sql`select count(*)::int as n from leases where agent = 'agent-race'`;
    expect(rows[0]!.n).toBe(1);
  });

  test('every decision and the issue are in the audit log with policy ids and the policy-set version', async () => {
    const token = await t.agentToken('agent-audit');
    const res = await t.request('POST', '/v1/credentials', { token, body: credentialRequest() });
    const rows = await t.database.sql`
      select event, decision, policies, policy_version, request_id, intent
      from audit_events where lease_id = ${res.body.lease_id} order by id`;
    expect(rows.map((r) => r.event)).toEqual(['decision', 'lease.issued']);
    expect(rows[0]).toMatchObject({
      decision: 'allow',
      policies: ['reports-agents-use-reports-api'],
      policy_version: t.policies.current().version,
      intent: { task_id: 't-42', purpose: 'monthly report', actions: ['reports:read'], resources: [] },
    });
    expect(rows[0]!.request_id).toBe(res.headers.get('x-request-id'));
  });

  test('the minted token is signed with the current broker key', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(),
      body: credentialRequest(),
    });
    expect(decodeProtectedHeader(res.body.credential.token).kid).toBe(t.keyStore.currentKey().kid);
  });
});
