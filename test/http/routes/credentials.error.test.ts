// POST /v1/credentials — what is refused, with which problem. Nothing refused leaves a lease.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { expectProblem } from '../../helpers/problems.js';

let t: TestBroker;
let token: string;
beforeAll(async () => {
  t = await startTestBroker();
  token = await t.agentToken('agent-errors');
});
afterAll(async () => t?.close());

async function leaseCount(): Promise<number> {
  const [row] = await t.database.sql`select count(*)::int as n from leases where agent = 'agent-errors'`;
  return row!.n as number;
}

describe('POST /v1/credentials refuses bad input with a problem naming the field', () => {
  test('an unknown top-level field', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: { ...credentialRequest(), scope: 'admin' },
    });
    expectProblem(res, 400);
    expect(res.body.errors).toContainEqual({ field: 'scope', message: 'unknown field' });
  });

  test('an unknown field inside the intent', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { sudo: true }),
    });
    expectProblem(res, 400);
    expect(res.body.errors).toContainEqual({ field: 'intent.sudo', message: 'unknown field' });
  });

  test('an intent without actions', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { actions: [] }),
    });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('intent.actions');
  });

  test('a missing template and intent', async () => {
    const res = await t.request('POST', '/v1/credentials', { token, body: {} });
    expectProblem(res, 400);
    const fields = res.body.errors.map((e: { field: string }) => e.field);
    expect(fields).toEqual(expect.arrayContaining(['template', 'intent']));
  });

  test.each([
    ['a negative TTL', { ttl_seconds: -5 }],
    ['a fractional TTL', { ttl_seconds: 1.5 }],
    ['a string TTL', { ttl_seconds: '300' }],
  ])('%s', async (_name, overrides) => {
    const res = await t.request('POST', '/v1/credentials', { token, body: credentialRequest(overrides) });
    expectProblem(res, 400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('ttl_seconds');
  });

  test('a task id with characters outside the allowed set', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { task_id: 't 1; drop' }),
    });
    expectProblem(res, 400);
  });

  test('control characters in the purpose', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { purpose: 'line\nbreak' }),
    });
    expectProblem(res, 400);
  });

  test('a body that is not JSON', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: '{"template": ',
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(res, 400);
  });

  test('a JSON array instead of an object', async () => {
    const res = await t.request('POST', '/v1/credentials', { token, body: '[1,2,3]' });
    expectProblem(res, 400);
  });

  test('a body over 64 KiB', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { purpose: 'x'.repeat(70 * 1024) }),
    });
    expectProblem(res, 413);
  });

  test('an unknown template is unprocessable', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ template: 'no-such' }),
    });
    expectProblem(res, 422);
    expect(res.body.errors).toContainEqual({ field: 'template', message: 'no such template' });
  });

  test('an Idempotency-Key reused with another body is unprocessable', async () => {
    const headers = { 'idempotency-key': 'reuse-1' };
    const first = await t.request('POST', '/v1/credentials', { token, headers, body: credentialRequest() });
    expect(first.status).toBe(201);
    const res = await t.request('POST', '/v1/credentials', {
      token,
      headers,
      body: credentialRequest({}, { task_id: 'other' }),
    });
    expectProblem(res, 422);
  });

  test('an Idempotency-Key with spaces is refused', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      headers: { 'idempotency-key': 'a b' },
      body: credentialRequest(),
    });
    expectProblem(res, 400);
  });

  test('nothing refused for bad input leaves a lease', async () => {
    const before = await leaseCount();
    await t.request('POST', '/v1/credentials', { token, body: { ...credentialRequest(), extra: 1 } });
    await t.request('POST', '/v1/credentials', { token, body: credentialRequest({ template: 'nope' }) });
    expect(await leaseCount()).toBe(before);
  });
});

describe('POST /v1/credentials denies by policy with 403 naming policies and reasons', () => {
  test('a scope outside the template ceiling is denied before Cedar runs, naming the scope', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { actions: ['reports:read', 'reports:delete'] }),
    });
    expectProblem(res, 403);
    expect(res.body.policies).toEqual([]);
    expect(res.body.reasons).toHaveLength(1);
    expect(res.body.reasons[0]).toContain('reports:delete');
  });

  test('no satisfied permit is a deny with no policy ids', async () => {
    const outsider = await t.agentToken('agent-outsider', { 'kubernetes.io': { namespace: 'billing' } });
    const res = await t.request('POST', '/v1/credentials', { token: outsider, body: credentialRequest() });
    expectProblem(res, 403);
    expect(res.body.policies).toEqual([]);
    expect(res.body.reasons.length).toBeGreaterThan(0);
  });

  test('a satisfied forbid wins over a permit and is named', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { actions: ['reports:export'] }),
    });
    expectProblem(res, 403);
    expect(res.body.policies).toEqual(['forbid-unattended-export']);
  });

  test('a denial is audited with the deciding policies and no lease', async () => {
    const before = await leaseCount();
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { actions: ['reports:export'], task_id: 'audited-deny' }),
    });
    expect(res.status).toBe(403);
    const rows = await t.database
      .sql`select decision, policies, lease_id from audit_events where intent->>'task_id' = 'audited-deny'`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      decision: 'deny',
      policies: ['forbid-unattended-export'],
      lease_id: null,
    });
    expect(await leaseCount()).toBe(before);
  });
});

describe('on_behalf_of', () => {
  test('a bad human token is a 401 that names on_behalf_of', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ on_behalf_of: 'not.a.jwt' }),
    });
    expectProblem(res, 401);
    expect(res.body.detail).toContain('on_behalf_of');
  });

  test('a workload token is not accepted as the human', async () => {
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ on_behalf_of: token }),
    });
    expectProblem(res, 401);
  });
});
