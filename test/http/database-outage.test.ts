// A database outage under load, through a TCP proxy in front of the broker's database: requests
// fail fast with 503 + Retry-After and a reason (never held until the database returns, never a
// 500), /readyz says so, nothing is half-issued, and the broker recovers by itself.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { credentialRequest, startTestBroker, type TestBroker, type TestResponse } from '../helpers/broker.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** Generous: an answer while the database is down must come long before a client gives up. */
const DEADLINE_MS = 5_000;
const CONCURRENT = 40;

let direct: TestDatabase;
let proxy: TcpProxy;
let proxied: Database;
let t: TestBroker;

beforeAll(async () => {
  direct = await createTestDatabase();
  proxy = await startTcpProxy();
  const url = proxy.url(direct.url);
  // The same value main.ts passes, read from the environment variable operators set.
  const { databaseConnectTimeoutMs } = loadConfig({ DATABASE_CONNECT_TIMEOUT_MS: '1000' });
  proxied = createDatabase(url, { max: 10, connectTimeoutMs: databaseConnectTimeoutMs });
  t = await startTestBroker({
    database: { ...proxied, url, name: direct.name, drop: () => proxied.close() },
  });
});
afterAll(async () => {
  await t?.close();
  await proxied?.close();
  await proxy?.close();
  await direct?.drop();
});

/** Resolves with the response, or rejects once the deadline passes: a held request fails the test. */
async function withinDeadline(run: () => Promise<TestResponse>): Promise<TestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([run(), late]);
  } finally {
    clearTimeout(timer);
  }
}

function expectUnavailable(res: TestResponse) {
  expect(res.status, res.text).toBe(503);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(res.body.detail).toMatch(/database/);
}

/** Accepts connections and never answers: a database host that is there but hangs. */
async function blackHole(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function burst(agent: string, task: string): Promise<TestResponse[]> {
  const token = await t.agentToken(agent);
  return Promise.all([
    ...Array.from({ length: CONCURRENT }, (_, i) =>
      withinDeadline(() =>
        t.request('POST', '/v1/credentials', {
          token,
          body: credentialRequest({}, { task_id: `${task}-${i}` }),
        }),
      ),
    ),
    withinDeadline(() => t.request('GET', '/readyz')),
  ]);
}

async function activeLeases(agent: string): Promise<number> {
  const [row] = await direct.sql<{ n: number }[]>`
    select count(*)::int as n from leases where agent = ${agent} and state = 'active'`;
  return row!.n;
}

describe("an outage of the broker's database under load", () => {
  test('a database that hangs: every request is answered 503 + Retry-After before the deadline, none is issued later', async () => {
    await proxy.stop();
    const hole = await blackHole(proxy.port);
    try {
      const answers = await burst('agent-outage-hang', 't-hang');
      for (const res of answers) expectUnavailable(res);
      // Once a probe has found the database down, requests fail without queueing for a connection.
      await proxied.health.settled();
      expect(proxied.health.up).toBe(false);
      const next = await withinDeadline(() => t.request('GET', '/readyz'));
      expectUnavailable(next);
      expect(next.body.detail).toMatch(/unreachable/);
    } finally {
      await hole.close();
      await proxy.start();
    }
    // Nothing that was answered 503 became a credential behind the client's back.
    await expect.poll(() => proxied.health.up, { timeout: 10_000 }).toBe(true);
    expect(await activeLeases('agent-outage-hang')).toBe(0);
  }, 60_000);

  test('a database that refuses connections: 503 + Retry-After for every request and /readyz', async () => {
    await proxy.stop();
    try {
      const answers = await burst('agent-outage-refused', 't-refused');
      for (const res of answers) expectUnavailable(res);
    } finally {
      await proxy.start();
    }
    expect(await activeLeases('agent-outage-refused')).toBe(0);
  }, 60_000);

  test('when the database is back, the broker serves again by itself', async () => {
    await proxy.stop();
    const down = await withinDeadline(() => t.request('GET', '/readyz'));
    expectUnavailable(down);
    await proxy.start();
    await expect
      .poll(async () => (await t.request('GET', '/readyz')).status, { timeout: 10_000, interval: 100 })
      .toBe(200);
    const minted = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken('agent-outage-back'),
      body: credentialRequest({}, { task_id: 't-back' }),
    });
    expect(minted.status, minted.text).toBe(201);
    expect(proxied.health.up).toBe(true);
  }, 60_000);
});
