// Two broker processes on one database, as docker-compose runs them: the in-process test broker
// (replica A) and a real `bin/jit-broker` child (replica B). A decision taken on B wakes the
// agent's long-poll on A through LISTEN/NOTIFY, and the credential is handed out exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  auditEvents,
  collect,
  leaseState,
  requestStepUp,
  startApprovalsBroker,
} from '../helpers/approvals.js';
import { replicaEnv, type TestBroker } from '../helpers/broker.js';
import { BROKER_LAUNCHER } from '../helpers/broker-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let a: TestBroker;
let b: ChildBroker;

interface ChildBroker {
  url: string;
  process: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `bin/jit-broker` against A's database and policy directory; resolves once it is ready. */
async function startChildBroker(replicaA: TestBroker): Promise<ChildBroker> {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'jit-replica-'));
  const child = spawn(BROKER_LAUNCHER, [], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...replicaEnv(replicaA, {
        DATA_DIR: dataDir,
        // Its sweeper stays out of the way: this suite is about requests, not expiry.
        SWEEP_INTERVAL_SECONDS: '3600',
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (line.includes('"jit-broker is ready"')) resolve();
      });
    }
    void exited.then(([code]) =>
      reject(new Error(`replica B exited with ${code} before it was ready:\n${output.join('\n')}`)),
    );
  });
  await ready;
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function onB(method: string, urlPath: string, token: string, body?: unknown) {
  const res = await fetch(`${b.url}${urlPath}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}

beforeAll(async () => {
  a = await startApprovalsBroker();
  b = await startChildBroker(a);
}, 120_000);

afterAll(async () => {
  await b?.stop();
  await a?.close();
});

describe('two broker processes sharing one database', () => {
  it('serve the same pending request: B lists what A was asked for', async () => {
    const pending = await requestStepUp(a);
    const res = await onB('GET', '/v1/approvals?status=pending', await a.staffToken('sam'));
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: { approval_id: string }) => i.approval_id)).toContain(pending.approvalId);
  });

  it("wake A's long-poll when staff approve on B, and hand the credential out exactly once", async () => {
    const pending = await requestStepUp(a);
    const started = Date.now();
    const waiting = collect(a, pending.approvalId, pending.agentToken, 30);
    await vi.waitFor(() => expect(a.broker.stepUp.events.parked(pending.approvalId)).toBe(1));

    const approved = await onB(
      'POST',
      `/v1/approvals/${pending.approvalId}/approve`,
      await a.staffToken('sam'),
      {
        reason: 'approved on the other replica',
      },
    );
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', decided_by: 'sam' });

    const res = await waiting;
    // Woken by the NOTIFY from B, not by the 30 s wait running out.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(res.status, res.text).toBe(201);
    expect(decodeJwt(res.body.credential.token)).toMatchObject({
      jti: pending.leaseId,
      scope: 'reports:admin',
    });
    expect((await leaseState(a, pending.leaseId)).state).toBe('active');

    const againOnB = await onB('GET', `/v1/approvals/${pending.approvalId}`, pending.agentToken);
    expect(againOnB.status, againOnB.text).toBe(409);
    const againOnA = await collect(a, pending.approvalId, pending.agentToken);
    expect(againOnA.status).toBe(409);

    const events = (await auditEvents(a, pending.leaseId)).map((e) => e.event);
    expect(events.filter((e) => e === 'lease.issued')).toHaveLength(1);
    expect(events.filter((e) => e === 'approval.collected')).toHaveLength(1);
  });

  it('mint once when the agent collects on both replicas at the same moment', async () => {
    const pending = await requestStepUp(a);
    expect(
      (await onB('POST', `/v1/approvals/${pending.approvalId}/approve`, await a.staffToken('sam'), {}))
        .status,
    ).toBe(200);
    const [onA, onReplicaB] = await Promise.all([
      collect(a, pending.approvalId, pending.agentToken),
      onB('GET', `/v1/approvals/${pending.approvalId}`, pending.agentToken),
    ]);
    expect([onA.status, onReplicaB.status].sort()).toEqual([201, 409]);
    const events = (await auditEvents(a, pending.leaseId)).map((e) => e.event);
    expect(events.filter((e) => e === 'lease.issued')).toHaveLength(1);
  });

  it("wake A's long-poll with the reviewer's reason when staff deny on B", async () => {
    const pending = await requestStepUp(a);
    const waiting = collect(a, pending.approvalId, pending.agentToken, 30);
    await vi.waitFor(() => expect(a.broker.stepUp.events.parked(pending.approvalId)).toBe(1));
    const denied = await onB(
      'POST',
      `/v1/approvals/${pending.approvalId}/deny`,
      await a.staffToken('riley'),
      {
        reason: 'not during the incident',
      },
    );
    expect(denied.status, denied.text).toBe(200);
    const res = await waiting;
    expect(res.status).toBe(403);
    expect(res.body.reasons).toEqual(['not during the incident']);
  });
});
