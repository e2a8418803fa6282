// SIGTERM under keep-alive load: the real broker process leaves within SHUTDOWN_TIMEOUT_SECONDS
// while clients keep sending on their open connections, answers what is in flight with
// `Connection: close`, and exits 0. /readyz fails as soon as the shutdown begins.
import { randomBytes, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  credentialRequest,
  STAFF_AUDIENCE,
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
} from '../helpers/broker.js';
import { type BrokerProcess, call, spawnBroker } from '../helpers/broker-process.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { createTestIssuer, issuerConfig, staffConfig, type TestIssuer } from '../helpers/issuer.js';
import { writePolicyDir } from '../helpers/policy-dir.js';

const SHUTDOWN_TIMEOUT_SECONDS = 4;
const LOOPS = 8;

interface Answer {
  status: number;
  connection: string | undefined;
  /** Sent after the broker logged that it is stopping. */
  afterStopping: boolean;
}

/** One keep-alive GET; resolves with the answer, or undefined when the connection failed. */
function get(
  agent: Agent,
  url: string,
  token: string,
): Promise<{ status: number; connection: string | undefined } | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      res.once('error', () => resolve(undefined));
    });
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

describe('SIGTERM on the real process', () => {
  let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let issuer: TestIssuer;
  let staff: TestIssuer;
  let broker: BrokerProcess;

  beforeAll(async () => {
    database = await createEmptyDatabase();
    issuer = await createTestIssuer({ alg: 'ES256', jwks: 'file' });
    staff = await createTestIssuer({ alg: 'ES256', jwks: 'file', issuer: 'https://sso.shutdown.test' });
    const policyDir = await writePolicyDir({
      issuers: [
        issuerConfig(issuer, { name: 'test', attributes: { namespace: ['kubernetes.io', 'namespace'] } }),
      ],
      staff: staffConfig(staff, { audience: STAFF_AUDIENCE }),
      templates: TEST_TEMPLATES,
      policies: TEST_POLICIES,
    });
    broker = await spawnBroker({
      DATABASE_URL: database.url,
      POLICY_DIR: policyDir,
      DATA_DIR: path.join(policyDir, '.data'),
      BROKER_MASTER_KEY: randomBytes(32).toString('base64'),
      BROKER_ISSUER: 'https://broker.test.local',
      SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      LOG_LEVEL: 'info',
    });
    await broker.waitForLog((l) => l.msg === 'jit-broker is ready');
  });
  afterAll(async () => {
    await broker?.stop('SIGKILL');
    await issuer?.close();
    await staff?.close();
    await database?.drop();
  });

  test('exits 0 within the timeout while keep-alive clients keep sending, closing connections as it goes', async () => {
    const token = await issuer.sign({ sub: 'agent-shutdown', 'kubernetes.io': { namespace: 'reports' } });
    // A request that is certainly in flight when the signal arrives: a step-up long-poll.
    const pending = await call(`${broker.url}/v1/credentials`, {
      token,
      body: credentialRequest(
        { template: 'reports-admin' },
        { actions: ['reports:admin'], task_id: 't-shutdown' },
      ),
    });
    expect(pending.status, pending.text).toBe(202);

    const agent = new Agent({ keepAlive: true, maxSockets: LOOPS + 1 });
    const answers: Answer[] = [];
    let stoppingSeen = false;
    let exited = false;
    let served = 0;
    let enoughServed!: () => void;
    const loaded = new Promise<void>((resolve) => {
      enoughServed = resolve;
    });
    // Clients that never stop on their own: each sends its next request as soon as it has an answer.
    const loops = Array.from({ length: LOOPS }, async () => {
      while (!exited) {
        const afterStopping = stoppingSeen;
        const res = await get(agent, `${broker.url}/v1/leases/${randomUUID()}`, token);
        if (res === undefined) {
          // Refused or cut: the broker is going away. Try again, as a client would, until it has.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        answers.push({ ...res, afterStopping });
        if (++served === LOOPS * 10) enoughServed();
      }
    });
    const longPoll = get(agent, `${broker.url}/v1/approvals/${pending.body.approval_id}?wait=2`, token);
    await loaded;

    const mark = broker.logs.length;
    const stopped = broker.stop('SIGTERM', (SHUTDOWN_TIMEOUT_SECONDS + 3) * 1000);
    await broker.waitForLog((l) => l.msg.startsWith('stopping'));
    stoppingSeen = true;
    const exit = await stopped;
    exited = true;
    await Promise.all(loops);
    agent.destroy();

    expect(exit).toEqual({ code: 0, signal: null });
    expect(answers.length).toBeGreaterThanOrEqual(LOOPS * 10);
    // Nothing the clients got was a server error.
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    // Every request sent once the shutdown was under way was told to close its connection.
    for (const a of answers.filter((x) => x.afterStopping)) expect(a.connection).toBe('close');
    // The long-poll in flight at the signal was answered, and told to close its connection.
    const polled = await longPoll;
    expect(polled).toMatchObject({ status: 200, connection: 'close' });
    const after = broker.since(mark).map((l) => l.msg);
    expect(after).toContain('stopped');
    expect(after).not.toContain('shutdown took longer than SHUTDOWN_TIMEOUT_SECONDS; exiting now');
  }, 60_000);
});

describe('while shutting down', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
  });
  afterAll(async () => {
    await t?.close();
  });

  test('/readyz answers 503 and every response says Connection: close', async () => {
    expect((await t.request('GET', '/readyz')).status).toBe(200);
    t.broker.shutdown.begin();
    const ready = await t.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.detail).toBe('the broker is shutting down');
    expect(ready.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ready.headers.get('connection')).toBe('close');
    const minted = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(),
      body: credentialRequest(),
    });
    expect(minted.status).toBe(201);
    expect(minted.headers.get('connection')).toBe('close');
  });
});
