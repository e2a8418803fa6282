// An agent's own leases refused: a malformed id is a 404, a renewal policy forbids, a revoked or
// expired lease, unknown fields in the renew body.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { agentLeaseCalls } from '../../helpers/leases.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { mint } = agentLeaseCalls(() => t);

describe('GET /v1/leases/{id}', () => {
  test('a malformed id is a 404, not a 500', async () => {
    const token = await t.agentToken('owner-2');
    for (const id of ['not-a-uuid', "1' or '1'='1", '%00', 'x'.repeat(100)]) {
      const res = await t.request('GET', `/v1/leases/${encodeURIComponent(id)}`, { token });
      expect(res.status).toBe(404);
    }
  });
});

describe('POST /v1/leases/{id}/renew', () => {
  test('is re-evaluated by policy: a renewal that asks for a forbidden thing is denied', async () => {
    const { token, lease } = await mint('renewer-3', {}, 120);
    // Tighten the policy set: no more renewals for this template.
    const { rewritePolicyDir } = await import('../../helpers/policy-dir.js');
    const { TEST_POLICIES } = await import('../../helpers/broker.js');
    const yaml = await (await import('node:fs/promises')).readFile(`${t.policyDir}/broker.yaml`, 'utf8');
    await rewritePolicyDir(t.policyDir, {
      yaml,
      policies: {
        ...TEST_POLICIES,
        'guardrails.cedar': `${TEST_POLICIES['guardrails.cedar']}
@id("no-renewals")
forbid (principal, action == Action::"renew", resource);
`,
      },
    });
    expect((await t.policies.reload()).ok).toBe(true);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, { token, body: {} });
    expect(res.status).toBe(403);
    expect(res.body.policies).toEqual(['no-renewals']);
    await rewritePolicyDir(t.policyDir, { yaml, policies: TEST_POLICIES });
    expect((await t.policies.reload()).ok).toBe(true);
  });

  test('a revoked lease cannot be renewed', async () => {
    const { token, lease } = await mint('renewer-4');
    await t.request('POST', `/v1/leases/${lease.lease_id}/revoke`, { token });
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token,
      body: { ttl_seconds: 60 },
    });
    expect(res.status).toBe(409);
  });

  test('unknown fields in the renew body are rejected', async () => {
    const { token, lease } = await mint('renewer-5');
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token,
      body: { ttl_seconds: 60, scope: 'more' },
    });
    expect(res.status).toBe(400);
  });
});

describe('an expired lease', () => {
  test('cannot be renewed even before the sweeper has marked it', async () => {
    const { lease } = await mint('late-1', {}, 60);
    t.clock.advance(61);
    const res = await t.request('POST', `/v1/leases/${lease.lease_id}/renew`, {
      token: await t.agentToken('late-1'),
      body: {},
    });
    expect(res.status).toBe(409);
    t.clock.advance(-61);
  });
});
