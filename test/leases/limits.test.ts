// broker.yaml `limits:`: live leases per agent, a template's lower cap, and issuances per minute,
// enforced in PostgreSQL. Two brokers on one database take concurrent requests from one agent and
// never grant one lease over a limit; the refusal is a 429 with Retry-After naming the limit.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { brokerYamlSchema } from '../../src/policy-config/broker-yaml.js';
import { credentialRequest, startTestBroker, TEST_TEMPLATES, type TestBroker } from '../helpers/broker.js';

const LIMITS = { live_leases_per_agent: 10, issuances_per_minute_per_agent: 30 };
const TEMPLATES = {
  ...TEST_TEMPLATES,
  'reports-capped': { ...TEST_TEMPLATES['reports-api'], max_live_leases_per_agent: 3 },
};
const POLICIES = {
  'reports.cedar': `@id("reports-agents")
permit (principal, action in [Action::"mint", Action::"renew"], resource)
when { principal has namespace && principal.namespace == "reports" };
`,
};

let a: TestBroker;
let b: TestBroker;
beforeAll(async () => {
  a = await startTestBroker({ limits: LIMITS, templates: TEMPLATES, policies: POLICIES });
  b = await startTestBroker({
    limits: LIMITS,
    templates: TEMPLATES,
    policies: POLICIES,
    database: a.database,
    issuers: { workload: a.issuer, staff: a.staffIssuer },
    clock: a.clock,
  });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

async function live(agent: string): Promise<number> {
  const [row] = await a.database.sql<{ n: number }[]>`
    select count(*)::int as n from leases where agent = ${agent} and state in ('pending_approval', 'issuing', 'active')`;
  return row!.n;
}

/** `n` concurrent mints by `agent`, alternating between the two replicas. */
async function burst(agent: string, n: number, template = 'reports-api') {
  const token = await a.agentToken(agent);
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      (i % 2 === 0 ? a : b).request('POST', '/v1/credentials', {
        token,
        body: credentialRequest({ template }, { task_id: `t-${i}` }),
      }),
    ),
  );
}

describe('live_leases_per_agent', () => {
  test('40 concurrent requests on two replicas: exactly 10 leases, the rest 429 with Retry-After naming the limit', async () => {
    const results = await burst('runaway', 40);
    const granted = results.filter((r) => r.status === 201);
    const refused = results.filter((r) => r.status === 429);
    expect(granted).toHaveLength(10);
    expect(refused).toHaveLength(30);
    expect(await live('runaway')).toBe(10);
    const problem = refused[0]!;
    expect(problem.headers.get('content-type')).toBe('application/problem+json');
    expect(problem.body).toMatchObject({
      status: 429,
      type: 'urn:jit-broker:problem:limit-exceeded',
      limit: 'live_leases_per_agent',
      limit_value: 10,
    });
    // Retry-After: when the first live lease expires (default TTL 5 minutes).
    const retryAfter = Number(problem.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(290);
    expect(retryAfter).toBeLessThanOrEqual(300);

    // Another agent is not affected; a revoked lease frees a place, and only one.
    expect((await burst('bystander', 1))[0]!.status).toBe(201);
    const token = await a.agentToken('runaway');
    await a.request('POST', `/v1/leases/${granted[0]!.body.lease_id}/revoke`, { token });
    const again = await burst('runaway', 4);
    expect(again.map((r) => r.status).sort()).toEqual([201, 429, 429, 429]);
    expect(await live('runaway')).toBe(10);
  });
});

describe('max_live_leases_per_agent on a template', () => {
  test('caps that template lower, exactly, across replicas', async () => {
    const results = await burst('capped-agent', 12, 'reports-capped');
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    const refused = results.filter((r) => r.status === 429);
    expect(refused).toHaveLength(9);
    expect(refused[0]!.body).toMatchObject({
      limit: 'max_live_leases_per_agent',
      limit_value: 3,
      template: 'reports-capped',
    });
    // The agent's other templates still have room.
    expect((await burst('capped-agent', 1))[0]!.status).toBe(201);
  });
});

describe('issuances_per_minute_per_agent', () => {
  test('counts every lease created in the last minute, even revoked ones; frees up as the minute passes', async () => {
    const agent = 'fast-agent';
    let token = await a.agentToken(agent);
    for (let round = 0; round < 3; round++) {
      const results = await burst(agent, 10);
      expect(results.every((r) => r.status === 201)).toBe(true);
      for (const r of results) await a.request('POST', `/v1/leases/${r.body.lease_id}/revoke`, { token });
    }
    expect(await live(agent)).toBe(0);
    const [over] = await burst(agent, 1);
    expect(over!.status).toBe(429);
    expect(over!.body).toMatchObject({ limit: 'issuances_per_minute_per_agent', limit_value: 30 });
    const retryAfter = Number(over!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    a.clock.advance(61);
    token = await a.agentToken(agent);
    expect((await burst(agent, 1))[0]!.status).toBe(201);
  });
});

describe('broker.yaml limits', () => {
  const base = {
    issuers: [{ name: 'k8s', issuer: 'https://k8s', audience: 'jit-broker', jwks_file: './jwks.json' }],
    templates: {
      t: { provider: 'jwt', audience: 'https://x', scopes: ['a'], default_ttl: '5m', max_ttl: '15m' },
    },
  };

  test('defaults: 10000 live leases per agent, no rate limit', () => {
    expect(brokerYamlSchema.parse(base).limits).toEqual({
      live_leases_per_agent: 10_000,
      issuances_per_minute_per_agent: 0,
    });
  });

  test('a template may only lower the live-lease limit, and unknown keys are refused', () => {
    const raised = brokerYamlSchema.safeParse({
      ...base,
      limits: { live_leases_per_agent: 5 },
      templates: { t: { ...base.templates.t, max_live_leases_per_agent: 6 } },
    });
    expect(raised.success).toBe(false);
    expect(raised.error?.issues[0]?.path).toEqual(['templates', 't', 'max_live_leases_per_agent']);
    expect(brokerYamlSchema.safeParse({ ...base, limits: { live_leases: 5 } }).success).toBe(false);
  });
});
