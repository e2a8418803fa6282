// A broker killed mid-work leaves no window: a real `bin/jit-broker` process is SIGKILLed while it
// creates PostgreSQL roles and while it revokes them, ten times, and restarted each time. Its
// claims die with its session (the instance lock), so the restarted process takes the work over
// on its first sweeps: every interrupted issue is cleaned up and every revocation in flight
// completes within two sweep intervals, and no role is left for a lease that is not active.
import { mkdtemp, rm } from 'node:fs/promises';
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
const KILLS = 10;

let target: TargetDatabase;
let pg: PostgresProvider;
let t: TestBroker;
let dataDir: string;
const children: BrokerProcess[] = [];

beforeAll(async () => {
  target = await createTargetDatabase();
  dataDir = await mkdtemp(path.join(tmpdir(), 'jit-crash-'));
  // The process broker uses the default role prefix; this provider sees (and finally drops) its roles.
  pg = createPostgresProvider({ targetUrls: { orders: target.url }, logger: createLogger('silent') });
  t = await startTestBroker({
    templates: { ...TEST_TEMPLATES, 'orders-db': ORDERS_TEMPLATE },
    policies: { ...TEST_POLICIES, 'orders.cedar': ORDERS_POLICY },
    providers: { postgres: pg as unknown as AnyProvider },
    env: { TARGET_ORDERS_URL: target.url },
  });
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  // Whatever is still active is revoked here, so no role of this suite outlives it.
  await t?.broker.revoker.revoke({ agent: 'crash-agent' }, 'suite finished', 'test', undefined);
  await t?.close();
  await pg?.close();
  await target?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function start(): Promise<{ broker: BrokerProcess; readyAt: number }> {
  const broker = await spawnBroker(
    replicaEnv(t, {
      DATA_DIR: dataDir,
      TARGET_ORDERS_URL: target.url,
      SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
    }),
  );
  await broker.waitForLog((l) => l.msg === 'jit-broker is ready');
  return { broker, readyAt: performance.now() };
}

async function inFlight(): Promise<{ issuing: number; revoking: number }> {
  const [row] = await t.database.sql<{ issuing: number; revoking: number }[]>`
    select count(*) filter (where state = 'issuing')::int as issuing,
           count(*) filter (where state in ('revoking', 'revoke_failed'))::int as revoking
    from leases`;
  return row!;
}

/** Lease ids of this suite's leases that are not active yet still have a login role on the target. */
async function rolesWithoutActiveLease(): Promise<string[]> {
  const withRole = await pg.listBrokerRoles('orders');
  if (withRole.length === 0) return [];
  const rows = await t.database.sql<{ id: string }[]>`
    select id from leases where id = any(${withRole}::uuid[]) and state <> 'active'`;
  return rows.map((r) => r.id);
}

function mint(url: string, token: string, taskId: string) {
  return call(`${url}/v1/credentials`, { token, body: ordersRequest(taskId) });
}

describe('SIGKILL during PostgreSQL-role issuance and revocation', () => {
  test(`${KILLS} kills: after each restart the work in flight is finished within 2 sweep intervals and no role outlives its lease`, async () => {
    const token = await t.agentToken('crash-agent');
    // Two replicas, as in production: in each round one is killed while it issues, the other
    // while it revokes, and both are restarted.
    let replicas = await Promise.all([start(), start()]);
    children.push(...replicas.map((r) => r.broker));
    const windows: number[] = [];
    const caught = { issuing: 0, revoking: 0 };

    for (let round = 0; round < KILLS / 2; round++) {
      const [issuer, revoker] = replicas.map((r) => r.broker) as [BrokerProcess, BrokerProcess];
      const taskId = `crash-${round}`;
      const toRevoke = await Promise.all(
        Array.from({ length: 8 }, () => mint(revoker.url, token, `${taskId}-r`)),
      );
      for (const res of toRevoke) expect(res.status, res.text).toBe(201);
      const requests = [
        ...Array.from({ length: 8 }, () => mint(issuer.url, token, `${taskId}-i`)),
        call(`${revoker.url}/v1/tasks/${taskId}-r/complete`, { token, method: 'POST' }),
      ];
      for (const r of requests) r.catch(() => undefined); // the kills cut them off
      let killed = { issuer: false, revoker: false };
      await pollUntil(async () => {
        const now = await inFlight();
        if (now.issuing > 0 && !killed.issuer) issuer.child.kill('SIGKILL');
        if (now.revoking > 0 && !killed.revoker) revoker.child.kill('SIGKILL');
        killed = { issuer: killed.issuer || now.issuing > 0, revoker: killed.revoker || now.revoking > 0 };
        return killed.issuer && killed.revoker;
      }, 10_000);
      await Promise.all([issuer.exited, revoker.exited]);
      await Promise.allSettled(requests);
      const left = await inFlight();
      caught.issuing += left.issuing;
      caught.revoking += left.revoking;

      replicas = await Promise.all([start(), start()]);
      children.push(...replicas.map((r) => r.broker));
      const restartedAt = Math.max(...replicas.map((r) => r.readyAt));
      await pollUntil(async () => {
        const now = await inFlight();
        return now.issuing === 0 && now.revoking === 0 && (await rolesWithoutActiveLease()).length === 0;
      }, 10_000);
      windows.push(performance.now() - restartedAt);
    }

    // The kills really interrupted work of both kinds.
    expect(caught.issuing).toBeGreaterThan(0);
    expect(caught.revoking).toBeGreaterThan(0);
    // Every window closed within two sweep intervals of the restart (both replicas ready).
    expect(Math.max(...windows), `windows (ms): ${windows.map(Math.round).join(', ')}`).toBeLessThanOrEqual(
      2 * SWEEP_SECONDS * 1000,
    );
    // The interrupted issues ended issue_failed and the interrupted revocations revoked.
    const states = await t.database.sql<{ state: string }[]>`select distinct state from leases`;
    for (const { state } of states) expect(['active', 'issue_failed', 'revoked']).toContain(state);
  }, 180_000);
});
