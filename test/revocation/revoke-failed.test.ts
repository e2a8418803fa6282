// Revocation that keeps failing: after REVOKE_MAX_ATTEMPTS failed attempts at the provider the lease
// becomes `revoke_failed`, which is audited, logged at error level, counted in /metrics, listed for
// staff and in the console, and announced by a signed notification; it is still retried, slowly,
// and ends `revoked` once the target is back.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { listLiveLeases } from '../../src/http/console/live-leases.js';
import { createLogger } from '../../src/logger.js';
import { createPostgresProvider, type PostgresProvider } from '../../src/providers/postgres/index.js';
import type { AnyProvider } from '../../src/providers/types.js';
import { verifyWebhookSignature } from '../../src/webhooks/signature.js';
import {
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  TEST_WEBHOOK_SECRET,
  type TestBroker,
} from '../helpers/broker.js';
import { ORDERS_POLICY, ORDERS_TEMPLATE, ordersRequest } from '../helpers/orders.js';
import { createTargetDatabase, type TargetDatabase } from '../helpers/target-db.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

interface Received {
  headers: IncomingHttpHeaders;
  raw: string;
}

let target: TargetDatabase;
let proxy: TcpProxy;
let pg: PostgresProvider;
let t: TestBroker;
let receiver: Server;
const received: Received[] = [];
const arrivals: (() => void)[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
      for (const arrived of arrivals.splice(0)) arrived();
    });
  });
  receiver.listen(0, '127.0.0.1');
  await once(receiver, 'listening');
  const { port } = receiver.address() as AddressInfo;
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
    env: {
      TARGET_ORDERS_URL: targetUrl,
      REVOKE_MAX_ATTEMPTS: '3',
      APPROVAL_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/ops`,
    },
  });
});
afterAll(async () => {
  await t?.close();
  await pg?.close();
  await proxy?.close();
  await target?.drop();
  receiver?.close();
});

async function row(id: string) {
  const [r] = await t.database.sql<{ state: string; revoke_attempts: number; next_attempt_at: string }[]>`
    select state, revoke_attempts, next_attempt_at from leases where id = ${id}`;
  return { ...r!, next_attempt_at: new Date(r!.next_attempt_at) };
}

async function roleExists(role: string): Promise<boolean> {
  const [r] = await target.sql<
    { n: number }[]
  >`select count(*)::int as n from pg_roles where rolname = ${role}`;
  return r!.n === 1;
}

async function metric(name: string): Promise<string | undefined> {
  const text = (await t.request('GET', '/metrics')).text;
  return text.split('\n').find((line) => line.startsWith(`${name} `));
}

describe('a revocation that keeps failing', () => {
  test('becomes revoke_failed after REVOKE_MAX_ATTEMPTS: audited, logged, counted, listed, notified; still retried until it succeeds', async () => {
    const token = await t.agentToken('agent-stuck');
    const minted = await t.request('POST', '/v1/credentials', { token, body: ordersRequest('t-stuck') });
    expect(minted.status, minted.text).toBe(201);
    const leaseId = minted.body.lease_id as string;
    const role = minted.body.credential.username as string;
    expect(await metric('jit_revoke_failed_leases')).toBe('jit_revoke_failed_leases 0');

    await proxy.stop();
    const revoked = await t.request('POST', `/v1/leases/${leaseId}/revoke`, { token });
    expect(revoked.body.state).toBe('revoking');
    expect((await row(leaseId)).revoke_attempts).toBe(1);
    for (let attempt = 2; attempt <= 3; attempt++) {
      t.clock.set(new Date((await row(leaseId)).next_attempt_at.getTime() + 1));
      await t.broker.sweeper.sweep();
      expect(await row(leaseId)).toMatchObject({
        revoke_attempts: attempt,
        state: attempt < 3 ? 'revoking' : 'revoke_failed',
      });
    }

    // Loud: an error log line, an audit row, the metric, the staff list and the console.
    const errors = t.logs.map((l) => JSON.parse(l)).filter((l) => l.level === 50 && l.leaseId === leaseId);
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toMatch(/revoke_failed/);
    expect(errors[0]).toMatchObject({ agent: 'agent-stuck', template: 'orders-db', attempts: 3 });
    const history = await t.request('GET', `/v1/audit?lease_id=${leaseId}`, {
      token: await t.staffToken('ops'),
    });
    const failedEvents = history.body.items.filter(
      (e: { event: string }) => e.event === 'lease.revoke_failed',
    );
    expect(failedEvents).toHaveLength(1);
    expect(failedEvents[0].detail).toMatchObject({ attempts: 3 });
    expect(await metric('jit_revoke_failed_leases')).toBe('jit_revoke_failed_leases 1');
    const listed = await t.request('GET', '/v1/leases?state=revoke_failed', {
      token: await t.staffToken('ops'),
    });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((l: { lease_id: string }) => l.lease_id)).toEqual([leaseId]);
    expect(listed.body.items[0].state).toBe('revoke_failed');
    const onConsole = await listLiveLeases(t.database.db, undefined);
    expect(onConsole.items.find((l) => l.lease_id === leaseId)?.state).toBe('revoke_failed');

    // A signed notification, once.
    if (received.length === 0) await new Promise<void>((resolve) => arrivals.push(resolve));
    expect(received).toHaveLength(1);
    const event = JSON.parse(received[0]!.raw);
    expect(event).toMatchObject({
      type: 'lease.revoke_failed',
      lease_id: leaseId,
      agent: 'agent-stuck',
      template: 'orders-db',
      provider: 'postgres',
      attempts: 3,
      console_url: 'https://broker.test.local/console/leases',
    });
    expect(() =>
      verifyWebhookSignature({
        secret: TEST_WEBHOOK_SECRET,
        header: received[0]!.headers['x-broker-signature'] as string,
        rawBody: received[0]!.raw,
        now: t.clock.now(),
      }),
    ).not.toThrow();

    // Still retried, at a slow pace: not on the next sweep, but 15 minutes later.
    const failedAt = t.clock.now().getTime();
    const slow = (await row(leaseId)).next_attempt_at.getTime() - failedAt;
    expect(slow).toBe(900_000);
    t.clock.advance(60);
    await t.broker.sweeper.sweep();
    expect((await row(leaseId)).revoke_attempts).toBe(3);
    t.clock.set(new Date(failedAt + 900_001));
    await t.broker.sweeper.sweep();
    expect(await row(leaseId)).toMatchObject({ revoke_attempts: 4, state: 'revoke_failed' });
    expect(await roleExists(role)).toBe(true);

    // The target comes back: the next slow retry drops the role and the lease ends revoked.
    await proxy.start();
    t.clock.set(new Date((await row(leaseId)).next_attempt_at.getTime() + 1));
    await t.broker.sweeper.sweep();
    expect((await row(leaseId)).state).toBe('revoked');
    expect(await roleExists(role)).toBe(false);
    expect(await metric('jit_revoke_failed_leases')).toBe('jit_revoke_failed_leases 0');
    expect(received).toHaveLength(1);
  });
});
