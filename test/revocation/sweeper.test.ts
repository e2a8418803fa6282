// The expiry sweep, driven the way production drives it (sweep() on a tick) but with a moved clock:
// leases end when their TTL runs out, half-issued leases are cleaned up, revocation at a failing
// provider is retried with backoff, and replicas sharing one database never expire a lease twice.
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { leases } from '../../src/db/schema/index.js';
import { createLogger } from '../../src/logger.js';
import { createPostgresProvider, type PostgresProvider } from '../../src/providers/postgres/index.js';
import type { PostgresTemplate } from '../../src/providers/templates.js';
import type { AnyProvider } from '../../src/providers/types.js';
import {
  credentialRequest,
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
} from '../helpers/broker.js';
import { ORDERS_POLICY, ORDERS_TEMPLATE, ordersRequest } from '../helpers/orders.js';
import { createTargetDatabase, type TargetDatabase } from '../helpers/target-db.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let target: TargetDatabase;
/** The broker reaches the target database only through this proxy, so a test can cut it off. */
let proxy: TcpProxy;
let pg: PostgresProvider;
let t: TestBroker;

beforeAll(async () => {
  target = await createTargetDatabase();
  proxy = await startTcpProxy();
  const targetUrl = proxy.url(target.url);
  pg = createPostgresProvider({
    targetUrls: { orders: targetUrl },
    logger: createLogger('silent'),
    rolePrefix: target.rolePrefix,
  });
  t = await startTestBroker({
    templates: { ...TEST_TEMPLATES, 'orders-db': ORDERS_TEMPLATE },
    policies: { ...TEST_POLICIES, 'orders.cedar': ORDERS_POLICY },
    providers: { postgres: pg as unknown as AnyProvider },
    env: { TARGET_ORDERS_URL: targetUrl },
  });
});
afterAll(async () => {
  await t?.close();
  await pg?.close();
  await proxy?.close();
  await target?.drop();
});

async function mint(agent: string, body: object) {
  const res = await t.request('POST', '/v1/credentials', { token: await t.agentToken(agent), body });
  expect(res.status, res.text).toBe(201);
  return res.body as { lease_id: string; expires_at: string; credential: Record<string, string> };
}

async function lease(agent: string, id: string) {
  const res = await t.request('GET', `/v1/leases/${id}`, { token: await t.agentToken(agent) });
  expect(res.status, res.text).toBe(200);
  return res.body as { state: string; revoke_reason: string | null; revoked_at: string | null };
}

async function auditEvents(
  leaseId: string,
): Promise<{ event: string; actor: string; detail: Record<string, unknown> }[]> {
  const res = await t.request('GET', `/v1/audit?lease_id=${leaseId}`, {
    token: await t.staffToken('sec@example.com'),
  });
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

async function roleExists(role: string): Promise<boolean> {
  const rows = await target.sql`select 1 from pg_roles where rolname = ${role}`;
  return rows.length > 0;
}

async function row(id: string) {
  const [found] = await t.database.sql<
    { state: string; revoke_attempts: number; next_attempt_at: string; last_error: string | null }[]
  >`select state, revoke_attempts, next_attempt_at, last_error from leases where id = ${id}`;
  return { ...found!, next_attempt_at: new Date(found!.next_attempt_at) };
}

describe('expiry', () => {
  test('a lease expires once the clock passes expires_at and the sweep runs: expired, "ttl expired", inactive at introspection, audited once as lease.expired', async () => {
    const short = await mint('agent-expiry', credentialRequest({ ttl_seconds: 300 }));
    const long = await mint('agent-expiry', credentialRequest({ ttl_seconds: 600 }, { task_id: 't-long' }));

    t.clock.advance(299);
    await t.broker.sweeper.sweep();
    expect((await lease('agent-expiry', short.lease_id)).state).toBe('active');

    t.clock.advance(2);
    await t.broker.sweeper.sweep();
    const expired = await lease('agent-expiry', short.lease_id);
    expect(expired).toMatchObject({ state: 'expired', revoke_reason: 'ttl expired' });
    expect(Date.parse(expired.revoked_at!)).toBe(t.clock.now().getTime());
    expect((await lease('agent-expiry', long.lease_id)).state).toBe('active');

    const introspection = await t.request('POST', '/v1/introspect', {
      body: { token: short.credential.token },
    });
    expect(introspection.status).toBe(200);
    expect(introspection.body).toEqual({ active: false });

    await t.broker.sweeper.sweep();
    const events = await auditEvents(short.lease_id);
    const expiries = events.filter((e) => e.event === 'lease.expired');
    expect(expiries).toHaveLength(1);
    expect(expiries[0]).toMatchObject({ actor: 'sweeper', detail: { reason: 'ttl expired' } });
  });

  test('a postgres lease that expires has its role dropped: the credential stops working', async () => {
    const issued = await mint('agent-pg', ordersRequest('t-pg-expiry'));
    const client = postgres(issued.credential.url!, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      expect(await client`select count(*)::int as n from public.orders`).toEqual([{ n: 2 }]);
    } finally {
      await client.end();
    }

    t.clock.advance(301);
    await t.broker.sweeper.sweep();

    expect(await lease('agent-pg', issued.lease_id)).toMatchObject({
      state: 'expired',
      revoke_reason: 'ttl expired',
    });
    expect(await roleExists(issued.credential.username!)).toBe(false);
    const again = postgres(issued.credential.url!, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      await expect(again`select 1`).rejects.toThrow(/role .* does not exist|password authentication failed/);
    } finally {
      await again.end();
    }
  });

  test('the sweeper lag (how long the oldest expired lease waited for a sweep) is exposed on /metrics', async () => {
    const own = await startTestBroker({ clock: new ManualClock(Math.floor(Date.now() / 1000) * 1000) });
    try {
      const res = await own.request('POST', '/v1/credentials', {
        token: await own.agentToken(),
        body: credentialRequest({ ttl_seconds: 60 }),
      });
      expect(res.status).toBe(201);
      own.clock.advance(60 + 45);
      await own.broker.sweeper.sweep();

      const metrics = await own.request('GET', '/metrics');
      expect(metrics.status).toBe(200);
      expect(metrics.text).toMatch(/^# TYPE jit_broker_sweeper_lag_seconds gauge$/m);
      expect(metrics.text).toMatch(/^jit_broker_sweeper_lag_seconds 45$/m);

      await own.broker.sweeper.sweep();
      expect((await own.request('GET', '/metrics')).text).toMatch(/^jit_broker_sweeper_lag_seconds 0$/m);
    } finally {
      await own.close();
    }
  });
});

describe('abandoned issues', () => {
  test('a lease stuck issuing for more than 120 s (a crash mid-issue) is cleaned up: what the provider created is dropped and the lease ends issue_failed', async () => {
    const template = t.policies.current().templates.get('orders-db') as PostgresTemplate;
    const intent = {
      taskId: 't-crash',
      purpose: 'monthly report',
      actions: ['SELECT'],
      resources: ['public.orders'],
    };
    const scoped = pg.scope(template, intent);
    if (!scoped.ok) throw new Error(scoped.reason);

    const insertIssuing = async (id: string) => {
      const now = t.clock.now();
      await t.database.db.insert(leases).values({
        id,
        state: 'issuing',
        template: 'orders-db',
        provider: 'postgres',
        agent: 'agent-crash',
        agentIssuer: 'test',
        taskId: 't-crash',
        intent,
        grant: scoped.grant as unknown as Record<string, unknown>,
        policyVersion: t.policies.current().version,
        requestedTtlSeconds: 300,
        createdAt: now,
        expiresAt: new Date(now.getTime() + 300_000),
        maxExpiresAt: new Date(now.getTime() + 1_800_000),
        updatedAt: now,
      });
    };

    // The broker wrote the row, the provider created the role, then the process died.
    const crashed = randomUUID();
    await insertIssuing(crashed);
    const issued = await pg.issue({
      leaseId: crashed,
      template,
      grant: scoped.grant,
      agent: { subject: 'agent-crash', issuer: 'test' },
      onBehalfOf: undefined,
      taskId: 't-crash',
      issuedAt: t.clock.now(),
      expiresAt: new Date(t.clock.now().getTime() + 300_000),
    });
    expect(await roleExists(issued.credential.username)).toBe(true);

    t.clock.advance(100);
    const young = randomUUID();
    await insertIssuing(young);

    t.clock.advance(19);
    await t.broker.sweeper.sweep();
    expect((await lease('agent-crash', crashed)).state).toBe('issuing');

    t.clock.advance(2);
    await t.broker.sweeper.sweep();
    expect(await lease('agent-crash', crashed)).toMatchObject({
      state: 'issue_failed',
      revoke_reason: 'issue did not complete',
    });
    expect(await roleExists(issued.credential.username)).toBe(false);
    expect((await auditEvents(crashed)).map((e) => e.event)).toContain('lease.issue_failed');
    // 21 s old: an issue that may still be in progress is left alone.
    expect((await lease('agent-crash', young)).state).toBe('issuing');
  });
});

describe('revocation at a failing provider', () => {
  test('is retried with growing backoff; the lease stays revoking (role still there) until the provider confirms', async () => {
    const issued = await mint('agent-retry', ordersRequest('t-retry'));
    const role = issued.credential.username!;
    t.clock.advance(301);
    let current: Awaited<ReturnType<typeof row>>;
    await proxy.stop();
    try {
      await t.broker.sweeper.sweep();
      expect(await lease('agent-retry', issued.lease_id)).toMatchObject({
        state: 'revoking',
        revoke_reason: 'ttl expired',
      });
      current = await row(issued.lease_id);
      expect(current.revoke_attempts).toBe(1);
      expect(current.last_error).toMatch(/unreachable/);

      // Each failure pushes the next attempt further out (full jitter: between half and all of 2^n s).
      for (let attempt = 1; attempt <= 3; attempt++) {
        const delay = (current.next_attempt_at.getTime() - t.clock.now().getTime()) / 1000;
        expect(delay).toBeGreaterThanOrEqual(2 ** (attempt - 1) / 2);
        expect(delay).toBeLessThanOrEqual(2 ** (attempt - 1));

        // Not due yet: the sweep leaves it alone.
        await t.broker.sweeper.sweep();
        expect((await row(issued.lease_id)).revoke_attempts).toBe(attempt);

        t.clock.set(new Date(current.next_attempt_at.getTime() + 1)); // the column has µs, Date ms
        await t.broker.sweeper.sweep();
        current = await row(issued.lease_id);
        expect(current.revoke_attempts).toBe(attempt + 1);
        expect(current.state).toBe('revoking');
      }
      expect(await roleExists(role)).toBe(true);
      expect((await auditEvents(issued.lease_id)).map((e) => e.event)).not.toContain('lease.expired');
    } finally {
      await proxy.start();
    }

    t.clock.set(new Date(current.next_attempt_at.getTime() + 1)); // the column has µs, Date ms
    // The target pool reconnects within a second however many attempts failed (postgres.js's own
    // backoff had grown to 10-20 s by now, and this sweep waited for it).
    const recovering = performance.now();
    await t.broker.sweeper.sweep();
    expect(performance.now() - recovering).toBeLessThan(5_000);
    expect(await lease('agent-retry', issued.lease_id)).toMatchObject({
      state: 'expired',
      revoke_reason: 'ttl expired',
    });
    expect(await roleExists(role)).toBe(false);
    const expiries = (await auditEvents(issued.lease_id)).filter((e) => e.event === 'lease.expired');
    expect(expiries).toHaveLength(1);
    expect(expiries[0]!.detail).toMatchObject({ reason: 'ttl expired', attempts: 5 });
  });
});

describe('two brokers sharing one database', () => {
  test('sweeping concurrently, they expire each lease exactly once', async () => {
    const a = await startTestBroker();
    const b = await startTestBroker({ database: a.database, clock: a.clock });
    try {
      const minted: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await a.request('POST', '/v1/credentials', {
          token: await a.agentToken(`agent-${i % 4}`),
          body: credentialRequest({ ttl_seconds: 300 }, { task_id: `t-${i}` }),
        });
        expect(res.status).toBe(201);
        minted.push(res.body.lease_id);
      }
      // Volume, so the two sweeps' batches (1000 rows each) overlap.
      await a.database.sql`
        insert into leases (id, state, template, provider, agent, agent_issuer, task_id, intent, "grant", policy_version,
                            requested_ttl_seconds, created_at, expires_at, max_expires_at, updated_at)
        select gen_random_uuid(), 'active', 'reports-api', 'jwt', 'agent-bulk-' || (n % 50), 'test', 't-bulk-' || n,
               '{"taskId":"t","purpose":"p","actions":["reports:read"],"resources":[]}'::jsonb, '{"scopes":["reports:read"]}'::jsonb,
               'v', 300, ${a.clock.now().toISOString()}::timestamptz, ${a.clock.now().toISOString()}::timestamptz + interval '300 seconds',
               ${a.clock.now().toISOString()}::timestamptz + interval '900 seconds', ${a.clock.now().toISOString()}::timestamptz
        from generate_series(1, 2980) as n`;

      a.clock.advance(301);
      const reports = await Promise.all([a.broker.sweeper.sweep(), b.broker.sweeper.sweep()]);
      expect(reports[0].expired + reports[1].expired).toBe(3000);

      const [counts] = await a.database.sql<{ events: number; leases: number; expired: number }[]>`
        select (select count(*)::int from audit_events where event = 'lease.expired') as events,
               (select count(distinct lease_id)::int from audit_events where event = 'lease.expired') as leases,
               (select count(*)::int from leases where state = 'expired') as expired`;
      expect(counts).toEqual({ events: 3000, leases: 3000, expired: 3000 });

      const again = await Promise.all([a.broker.sweeper.sweep(), b.broker.sweeper.sweep()]);
      expect(again.map((r) => r.expired)).toEqual([0, 0]);
      for (const id of minted.slice(0, 3)) {
        const res = await b.request('GET', `/v1/leases/${id}`, {
          token: await b.agentToken(`agent-${minted.indexOf(id) % 4}`),
        });
        expect(res.body.state).toBe('expired');
      }
    } finally {
      await b.close();
      await a.close();
    }
  });
});
