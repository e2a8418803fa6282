// When a dependency fails: the broker's own database cut off, unresponsive or locked, a target
// database unreachable. Every request answers a 503 problem with a reason within a bounded time
// (never a 500, never a hang), nothing is left half-issued, and the broker heals by itself.
import { createServer, type Server, type Socket } from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDatabase } from '../../src/db/client.js';
import { createLogger } from '../../src/logger.js';
import { createPostgresProvider, type PostgresProvider } from '../../src/providers/postgres/index.js';
import type { AnyProvider } from '../../src/providers/types.js';
import {
  credentialRequest,
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
  type TestResponse,
} from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ORDERS_POLICY, ORDERS_TEMPLATE, ordersRequest } from '../helpers/orders.js';
import { createTargetDatabase, type TargetDatabase } from '../helpers/target-db.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** connect_timeout is 5 s: an answer must come well before a client would give up. */
const BOUND_MS = 8_000;

/** The test's own view of the broker's database, never through the proxy. */
let direct: TestDatabase;
/** The broker reaches its database only through this proxy. */
let dbProxy: TcpProxy;
/** ... and the target database only through this one. */
let targetProxy: TcpProxy;
let target: TargetDatabase;
let pg: PostgresProvider;
let t: TestBroker;

beforeAll(async () => {
  direct = await createTestDatabase();
  dbProxy = await startTcpProxy();
  const brokerUrl = dbProxy.url(direct.url);
  const proxied = createDatabase(brokerUrl, { max: 10 });
  target = await createTargetDatabase();
  targetProxy = await startTcpProxy();
  const targetUrl = targetProxy.url(target.url);
  pg = createPostgresProvider({
    targetUrls: { orders: targetUrl },
    logger: createLogger('silent'),
    rolePrefix: target.rolePrefix,
  });
  t = await startTestBroker({
    database: { ...proxied, url: brokerUrl, name: direct.name, drop: () => proxied.close() },
    templates: { ...TEST_TEMPLATES, 'orders-db': ORDERS_TEMPLATE },
    policies: { ...TEST_POLICIES, 'orders.cedar': ORDERS_POLICY },
    providers: { postgres: pg as unknown as AnyProvider },
    env: { TARGET_ORDERS_URL: targetUrl },
  });
});
afterAll(async () => {
  await t?.close();
  await t?.database.close();
  await pg?.close();
  await dbProxy?.close();
  await targetProxy?.close();
  await direct?.drop();
  await target?.drop();
});

async function mint(agent: string, body: object = credentialRequest()) {
  const res = await t.request('POST', '/v1/credentials', { token: await t.agentToken(agent), body });
  expect(res.status, res.text).toBe(201);
  return res.body as { lease_id: string; credential: { token: string; username?: string } };
}

/** A request, with how long it took to answer. */
async function timed(run: () => Promise<TestResponse>): Promise<TestResponse & { ms: number }> {
  const started = performance.now();
  const res = await run();
  return { ...res, ms: performance.now() - started };
}

/** Introspection answers OAuth clients in OAuth's error shape (RFC 6749 §5.2). */
function expectIntrospectionUnavailable(res: TestResponse & { ms: number }, reason: RegExp) {
  expect(res.status, res.text).toBe(503);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.body).toEqual({
    error: 'temporarily_unavailable',
    error_description: expect.stringMatching(reason),
  });
  expect(res.ms).toBeLessThan(BOUND_MS);
}

function expectUnavailable(res: TestResponse & { ms: number }, reason: RegExp) {
  expect(res.status, res.text).toBe(503);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(res.body).toMatchObject({
    type: 'urn:jit-broker:problem:unavailable',
    status: 503,
    request_id: expect.any(String),
  });
  expect(res.body.detail).toMatch(reason);
  expect(res.ms).toBeLessThan(BOUND_MS);
}

/** The four things an outage of the broker's database must not turn into 500s or hangs (asked at once). */
async function everyDatabaseRoute(agent: string, leaseId: string, token: string) {
  const agentToken = await t.agentToken(agent);
  const [mint, lease, introspect, readyz] = await Promise.all([
    timed(() =>
      t.request('POST', '/v1/credentials', {
        token: agentToken,
        body: credentialRequest({}, { task_id: 't-outage' }),
      }),
    ),
    timed(() => t.request('GET', `/v1/leases/${leaseId}`, { token: agentToken })),
    timed(() => t.request('POST', '/v1/introspect', { body: { token } })),
    timed(() => t.request('GET', '/readyz')),
  ]);
  return { mint, lease, introspect, readyz };
}

async function leaseStates(agent: string): Promise<string[]> {
  const rows = await direct.sql<
    { state: string }[]
  >`select state from leases where agent = ${agent} order by created_at`;
  return rows.map((r) => r.state);
}

/** Listens on `port` and accepts connections without ever answering: a server that hangs. */
async function blackHole(port: number): Promise<{ accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("the broker's database cut off", () => {
  test('credential requests, lease reads, introspection and /readyz answer 503 problem+json naming the database, at once', async () => {
    const minted = await mint('agent-outage');
    await dbProxy.stop();
    try {
      const res = await everyDatabaseRoute('agent-outage', minted.lease_id, minted.credential.token);
      expectUnavailable(res.mint, /database is unreachable/);
      expectUnavailable(res.lease, /database is unreachable/);
      expectIntrospectionUnavailable(res.introspect, /database is unreachable/);
      expectUnavailable(res.readyz, /database is unreachable/);
      // Identity is still checked first: a bad token is a 401 whatever the database does.
      const forged = await t.request('POST', '/v1/credentials', {
        token: 'not-a-jwt',
        body: credentialRequest(),
      });
      expect(forged.status).toBe(401);
    } finally {
      await dbProxy.start();
    }
  });

  test('once the database is back the broker serves again by itself, without a restart', async () => {
    const minted = await mint('agent-heal');
    await dbProxy.stop();
    const during = await t.request('GET', `/v1/leases/${minted.lease_id}`, {
      token: await t.agentToken('agent-heal'),
    });
    expect(during.status).toBe(503);
    await dbProxy.start();

    // postgres.js opens a new connection for the next query: the very next requests succeed.
    const ready = await t.request('GET', '/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(ready.body.status).toBe('ready');
    const lease = await t.request('GET', `/v1/leases/${minted.lease_id}`, {
      token: await t.agentToken('agent-heal'),
    });
    expect(lease.status).toBe(200);
    expect(lease.body.state).toBe('active');
    const introspection = await t.request('POST', '/v1/introspect', {
      body: { token: minted.credential.token },
    });
    expect(introspection.body.active).toBe(true);
    const again = await mint('agent-heal', credentialRequest({}, { task_id: 't-after' }));
    expect(await leaseStates('agent-heal')).toEqual(['active', 'active']);
    expect(again.lease_id).not.toBe(minted.lease_id);
  });

  test('a credential refused during the outage leaves no lease row behind', async () => {
    await dbProxy.stop();
    try {
      const res = await timed(() =>
        t
          .agentToken('agent-no-row')
          .then((token) => t.request('POST', '/v1/credentials', { token, body: credentialRequest() })),
      );
      expectUnavailable(res, /database/);
    } finally {
      await dbProxy.start();
    }
    expect(await leaseStates('agent-no-row')).toEqual([]);
  });
});

describe("the broker's database unresponsive", () => {
  test('a server that accepts connections and never answers: 503 after the connect timeout, not a hang', async () => {
    const minted = await mint('agent-hang');
    await dbProxy.stop();
    const hole = await blackHole(dbProxy.port);
    try {
      const res = await everyDatabaseRoute('agent-hang', minted.lease_id, minted.credential.token);
      expectUnavailable(res.mint, /database is unreachable/);
      expectUnavailable(res.lease, /database is unreachable/);
      expectIntrospectionUnavailable(res.introspect, /database is unreachable/);
      expectUnavailable(res.readyz, /database is unreachable/);
      expect(hole.accepted()).toBeGreaterThan(0);
    } finally {
      await hole.close();
      await dbProxy.start();
    }
    expect((await t.request('GET', '/readyz')).status).toBe(200);
  }, 60_000);

  test('a request stuck behind a lock on the lease table gives up with a 503 instead of waiting forever', async () => {
    const minted = await mint('agent-locked');
    const blocker = postgres(direct.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked!: () => void;
    const holding = new Promise<void>((resolve) => {
      locked = resolve;
    });
    // A migration (or an operator's session) holding an exclusive lock on leases.
    const transaction = blocker.begin(async (tx) => {
      await tx`lock table leases in access exclusive mode`;
      locked();
      await released;
    });
    try {
      await holding;
      const res = await timed(async () =>
        t.request('GET', `/v1/leases/${minted.lease_id}`, { token: await t.agentToken('agent-locked') }),
      );
      expectUnavailable(res, /database is busy/);
    } finally {
      release();
      await transaction;
      await blocker.end();
    }
    const after = await t.request('GET', `/v1/leases/${minted.lease_id}`, {
      token: await t.agentToken('agent-locked'),
    });
    expect(after.status).toBe(200);
  }, 60_000);
});

describe('a target database unreachable', () => {
  test('a postgres credential is a 503 naming the target, and its lease ends issue_failed, never active', async () => {
    await targetProxy.stop();
    try {
      const res = await timed(async () =>
        t.request('POST', '/v1/credentials', {
          token: await t.agentToken('agent-target'),
          body: ordersRequest('t-down'),
        }),
      );
      expectUnavailable(res, /target database "orders" is unreachable/);
      expect(res.text).not.toContain(target.url);
      expect(res.text).not.toContain(String(targetProxy.port));
    } finally {
      await targetProxy.start();
    }
    expect(await leaseStates('agent-target')).toEqual(['issue_failed']);
    const [row] = await direct.sql<
      { id: string; last_error: string }[]
    >`select id, last_error from leases where agent = 'agent-target'`;
    expect(row!.last_error).toMatch(/orders/);
    const events = await direct.sql<
      { event: string }[]
    >`select event from audit_events where lease_id = ${row!.id} order by id`;
    expect(events.map((e) => e.event)).toEqual(['decision', 'lease.issue_failed']);
    const roles =
      await target.sql`select rolname from pg_roles where rolname like ${`${target.rolePrefix}%`} and rolname <> ${target.restrictedAdmin}`;
    expect(roles).toEqual([]);
  });

  test('a target that accepts connections and never answers: 503 naming the target after the connect timeout', async () => {
    await targetProxy.stop();
    const hole = await blackHole(targetProxy.port);
    try {
      const res = await timed(async () =>
        t.request('POST', '/v1/credentials', {
          token: await t.agentToken('agent-target-hang'),
          body: ordersRequest('t-hang'),
        }),
      );
      expectUnavailable(res, /target database "orders" is unreachable/);
    } finally {
      await hole.close();
      await targetProxy.start();
    }
    expect(await leaseStates('agent-target-hang')).toEqual(['issue_failed']);
  }, 60_000);

  test('once the target is back, the same request is issued without a restart', async () => {
    await targetProxy.stop();
    const down = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken('agent-target-heal'),
      body: ordersRequest('t-heal'),
    });
    expect(down.status).toBe(503);
    await targetProxy.start();
    const up = await mint('agent-target-heal', ordersRequest('t-heal'));
    expect(up.credential.username).toEqual(expect.any(String));
    expect(await leaseStates('agent-target-heal')).toEqual(['issue_failed', 'active']);
  });
});
