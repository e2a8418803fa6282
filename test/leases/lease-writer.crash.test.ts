// A broker killed in the middle of a batch leaves nothing alive: a real `bin/jit-broker` process
// writes the `issuing` rows of eight concurrent PostgreSQL-role requests in one batch (one
// transaction), then hangs on the target (a TCP listener that never answers), and is SIGKILLed
// there. A broker started in its place cleans every one of those rows up within two sweep
// intervals, and no role exists for them on the target.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createPostgresProvider, type PostgresProvider } from '../../src/providers/postgres/index.js';
import type { AnyProvider } from '../../src/providers/types.js';
import {
  replicaEnv,
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
} from '../helpers/broker.js';
import { type BrokerProcess, call, pollUntil, spawnBroker } from '../helpers/broker-process.js';
import { ORDERS_POLICY, ORDERS_TEMPLATE, ordersRequest } from '../helpers/orders.js';
import { createTargetDatabase, type TargetDatabase } from '../helpers/target-db.js';

const SWEEP_SECONDS = 1;
const REQUESTS = 8;

let target: TargetDatabase;
let pg: PostgresProvider;
let t: TestBroker;
let dataDir: string;
let blackHole: Server;
let blackHoleUrl: string;
const held = new Set<Socket>();
const children: BrokerProcess[] = [];

beforeAll(async () => {
  target = await createTargetDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'jit-batch-crash-'));
  pg = createPostgresProvider({ targetUrls: { orders: target.url }, logger: createLogger('silent') });
  t = await startTestBroker({
    templates: { ...TEST_TEMPLATES, 'orders-db': ORDERS_TEMPLATE },
    policies: { ...TEST_POLICIES, 'orders.cedar': ORDERS_POLICY },
    providers: { postgres: pg as unknown as AnyProvider },
    env: { TARGET_ORDERS_URL: target.url },
  });
  // Accepts connections and never answers: the provider's CREATE ROLE waits there.
  blackHole = createServer((socket) => {
    held.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => held.delete(socket));
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.url);
  url.port = String((blackHole.address() as { port: number }).port);
  blackHoleUrl = url.toString();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => blackHole?.close(resolve));
  await t?.close();
  await pg?.close();
  await target?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(targetUrl: string): Promise<BrokerProcess> {
  const broker = await spawnBroker(
    replicaEnv(t, {
      DATA_DIR: dataDir,
      TARGET_ORDERS_URL: targetUrl,
      SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
    }),
  );
  children.push(broker);
  await broker.waitForLog((l) => l.msg === 'jit-broker is ready');
  return broker;
}

const issuingRows = () =>
  t.database.sql<{ id: string; xmin: string }[]>`
    select id, xmin::text from leases where state = 'issuing' and task_id = 'batch-crash'`;

describe('SIGKILL after a batch of issuing rows committed', () => {
  test('the rows of the batch are cleaned up by the next broker within two sweep intervals', async () => {
    const token = await t.agentToken('batch-crash-agent');
    const broker = await start(blackHoleUrl);
    const requests = Array.from({ length: REQUESTS }, () =>
      call(`${broker.url}/v1/credentials`, { token, body: ordersRequest('batch-crash') }),
    );
    for (const r of requests) r.catch(() => undefined); // the kill cuts them off
    await pollUntil(async () => (await issuingRows()).length === REQUESTS, 10_000);
    broker.child.kill('SIGKILL');
    await broker.exited;
    await Promise.allSettled(requests);

    const rows = await issuingRows();
    expect(rows).toHaveLength(REQUESTS);
    // Group commit: the rows share transactions (fewer distinct xmin than rows).
    expect(new Set(rows.map((r) => r.xmin)).size).toBeLessThan(REQUESTS);

    const states = async () =>
      (
        await t.database.sql<{ state: string }[]>`
          select distinct state from leases where id = any(${rows.map((r) => r.id)}::uuid[])`
      ).map((s) => s.state);
    const next = await start(target.url);
    const readyAt = performance.now();
    // Taken over (issuing → revoking), the role dropped if it exists, then issue_failed.
    await pollUntil(async () => (await states()).join() === 'issue_failed', 10_000);
    const window = performance.now() - readyAt;
    expect(window).toBeLessThanOrEqual(2 * SWEEP_SECONDS * 1000);
    expect(await pg.listBrokerRoles('orders')).toEqual([]);
    await next.stop();
  }, 60_000);
});
