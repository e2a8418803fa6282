// Revocation webhooks end to end: a signed call revokes exactly the leases it names (the lease
// says revoked, introspection says inactive); a forged, stale, replayed, malformed or oversized
// call is refused with its own problem and revokes nothing. Signature checks are unit-tested in
// test/webhooks/; here every call goes through the real app and the real database.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signWebhook } from '../../../src/webhooks/signature.js';
import {
  credentialRequest,
  startTestBroker,
  TEST_WEBHOOK_SECRET,
  type TestBroker,
  type TestResponse,
} from '../../helpers/broker.js';

const ANOMALY = '/v1/webhooks/anomaly';
const COMPLETED = '/v1/webhooks/task-completed';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

interface Delivery {
  /** Sign at this time (default: the broker's clock now). */
  at?: Date;
  secret?: string;
  /** The X-Broker-Signature value; null leaves the header out. */
  signature?: string | null;
  /** The X-Broker-Delivery value; null leaves the header out. Default: a fresh id. */
  delivery?: string | null;
}

interface SignedCall {
  path: string;
  raw: string;
  headers: Record<string, string>;
}

function sign(path: string, body: unknown, d: Delivery = {}): SignedCall {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const signature =
    d.signature === undefined
      ? signWebhook(d.secret ?? TEST_WEBHOOK_SECRET, raw, d.at ?? t.clock.now())
      : d.signature;
  if (signature !== null) headers['x-broker-signature'] = signature;
  const delivery = d.delivery === undefined ? `dlv-${randomUUID()}` : d.delivery;
  if (delivery !== null) headers['x-broker-delivery'] = delivery;
  return { path, raw, headers };
}

function send(call: SignedCall, broker: TestBroker = t): Promise<TestResponse> {
  return broker.request('POST', call.path, { body: call.raw, headers: call.headers });
}

const deliver = (path: string, body: unknown, d: Delivery = {}) => send(sign(path, body, d));

interface Minted {
  agent: string;
  leaseId: string;
  jwt: string;
}

async function mint(agent: string, taskId: string, ttlSeconds = 600): Promise<Minted> {
  const res = await t.request('POST', '/v1/credentials', {
    token: await t.agentToken(agent),
    body: credentialRequest({ ttl_seconds: ttlSeconds }, { task_id: taskId }),
  });
  expect(res.status).toBe(201);
  return { agent, leaseId: res.body.lease_id, jwt: res.body.credential.token };
}

async function lease(m: Minted) {
  const res = await t.request('GET', `/v1/leases/${m.leaseId}`, { token: await t.agentToken(m.agent) });
  expect(res.status).toBe(200);
  return res.body as { state: string; revoked_at: string | null; revoke_reason: string | null };
}

async function introspect(m: Minted) {
  const res = await t.request('POST', '/v1/introspect', { body: { token: m.jwt } });
  expect(res.status).toBe(200);
  return res.body as { active: boolean };
}

async function expectRevoked(m: Minted, reason: string) {
  expect(await lease(m)).toMatchObject({
    state: 'revoked',
    revoke_reason: reason,
    revoked_at: expect.any(String),
  });
  expect(await introspect(m)).toEqual({ active: false });
}

async function expectLive(...minted: Minted[]) {
  for (const m of minted) {
    expect((await lease(m)).state, m.leaseId).toBe('active');
    expect((await introspect(m)).active, m.leaseId).toBe(true);
  }
}

function expectProblem(res: TestResponse, status: number, type: string) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(res.body).toMatchObject({
    type: `urn:jit-broker:problem:${type}`,
    status,
    title: expect.any(String),
    detail: expect.any(String),
  });
}

describe('POST /v1/webhooks/anomaly', () => {
  test('naming a lease revokes that lease only: it reads revoked with the reason and introspects inactive', async () => {
    const target = await mint('wh-anomaly-lease', 'task-a');
    const sibling = await mint('wh-anomaly-lease', 'task-b');
    const res = await deliver(ANOMALY, {
      lease_id: target.leaseId,
      reason: 'token seen from an unknown ASN',
      severity: 'high',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revoked: [target.leaseId] });
    await expectRevoked(target, 'anomaly (high): token seen from an unknown ASN');
    await expectLive(sibling);
  });

  test('a lease id in upper case names the same lease', async () => {
    const target = await mint('wh-anomaly-upper', 'task-a');
    const res = await deliver(ANOMALY, {
      lease_id: target.leaseId.toUpperCase(),
      reason: 'edr alert',
      severity: 'low',
    });
    expect(res.body).toEqual({ revoked: [target.leaseId] });
    await expectRevoked(target, 'anomaly (low): edr alert');
  });

  test("naming an agent revokes every live lease of that agent and nobody else's", async () => {
    const first = await mint('wh-anomaly-agent', 'task-a');
    const second = await mint('wh-anomaly-agent', 'task-b');
    const bystander = await mint('wh-anomaly-bystander', 'task-a');
    const res = await deliver(ANOMALY, {
      agent: 'wh-anomaly-agent',
      reason: 'prompt injection detected',
      severity: 'critical',
    });
    expect(res.status).toBe(200);
    expect([...res.body.revoked].sort()).toEqual([first.leaseId, second.leaseId].sort());
    await expectRevoked(first, 'anomaly (critical): prompt injection detected');
    await expectRevoked(second, 'anomaly (critical): prompt injection detected');
    await expectLive(bystander);
  });

  test("naming a task revokes that task's leases across agents, and not the agents' other tasks", async () => {
    const one = await mint('wh-anomaly-task-1', 'incident-7');
    const two = await mint('wh-anomaly-task-2', 'incident-7');
    const other = await mint('wh-anomaly-task-1', 'routine-1');
    const res = await deliver(ANOMALY, {
      task_id: 'incident-7',
      reason: 'exfiltration pattern',
      severity: 'medium',
    });
    expect([...res.body.revoked].sort()).toEqual([one.leaseId, two.leaseId].sort());
    await expectRevoked(one, 'anomaly (medium): exfiltration pattern');
    await expectRevoked(two, 'anomaly (medium): exfiltration pattern');
    await expectLive(other);
  });

  test('the revocation is audited as the webhook, with the request id of the call', async () => {
    const target = await mint('wh-anomaly-audit', 'task-a');
    const call = sign(ANOMALY, { lease_id: target.leaseId, reason: 'audit me', severity: 'high' });
    const res = await t.request('POST', ANOMALY, {
      body: call.raw,
      headers: { ...call.headers, 'x-request-id': 'siem-alert-4711' },
    });
    expect(res.status).toBe(200);
    const rows = await t.database
      .sql`select actor, request_id, detail from audit_events where lease_id = ${target.leaseId} and event = 'lease.revoked'`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor: 'webhook:anomaly',
      request_id: 'siem-alert-4711',
      detail: { reason: 'anomaly (high): audit me' },
    });
  });

  test('an anomaly that matches nothing is accepted with an empty list, and its delivery id is spent', async () => {
    const call = sign(ANOMALY, { agent: 'wh-nobody', reason: 'nothing to do', severity: 'low' });
    const res = await send(call);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ revoked: [] });
    expectProblem(await send(call), 401, 'replayed-delivery');
  });
});

describe('POST /v1/webhooks/task-completed', () => {
  test("revokes that agent's leases of that task only", async () => {
    const first = await mint('wh-done-agent', 'build-99');
    const second = await mint('wh-done-agent', 'build-99');
    const otherTask = await mint('wh-done-agent', 'build-100');
    const otherAgent = await mint('wh-done-other', 'build-99');
    const res = await deliver(COMPLETED, { task_id: 'build-99', agent: 'wh-done-agent' });
    expect(res.status).toBe(200);
    expect([...res.body.revoked].sort()).toEqual([first.leaseId, second.leaseId].sort());
    await expectRevoked(first, 'task completed');
    await expectRevoked(second, 'task completed');
    await expectLive(otherTask, otherAgent);
    const [row] = await t.database
      .sql`select actor from audit_events where lease_id = ${first.leaseId} and event = 'lease.revoked'`;
    expect(row!.actor).toBe('webhook:task-completed');
  });

  test('a second completion of the same task (a new delivery) revokes nothing more', async () => {
    const only = await mint('wh-done-twice', 'deploy-1');
    expect((await deliver(COMPLETED, { task_id: 'deploy-1', agent: 'wh-done-twice' })).body).toEqual({
      revoked: [only.leaseId],
    });
    // A sender's retry is signed anew: another second, another delivery id.
    t.clock.advance(1);
    const again = await deliver(COMPLETED, { task_id: 'deploy-1', agent: 'wh-done-twice' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ revoked: [] });
    await expectRevoked(only, 'task completed');
  });
});

describe('forged calls are refused with 401 and revoke nothing', () => {
  test('signed with another secret', async () => {
    const victim = await mint('wh-forged-secret', 'task-a');
    const res = await deliver(
      ANOMALY,
      { agent: victim.agent, reason: 'x', severity: 'high' },
      { secret: 'an-attacker-guess-000000' },
    );
    expectProblem(res, 401, 'invalid-signature');
    expect(res.body.detail).toBe('signature does not match the body (wrong secret or altered body)');
    await expectLive(victim);
  });

  test('a body altered after signing', async () => {
    const victim = await mint('wh-forged-body', 'task-a');
    const call = sign(COMPLETED, { task_id: 'task-other', agent: victim.agent });
    const res = await send({ ...call, raw: JSON.stringify({ task_id: 'task-a', agent: victim.agent }) });
    expectProblem(res, 401, 'invalid-signature');
    await expectLive(victim);
  });

  test('no X-Broker-Signature header', async () => {
    const victim = await mint('wh-forged-missing', 'task-a');
    const res = await deliver(COMPLETED, { task_id: 'task-a', agent: victim.agent }, { signature: null });
    expectProblem(res, 401, 'invalid-signature');
    expect(res.body.detail).toBe('missing X-Broker-Signature header');
    await expectLive(victim);
  });

  test('a malformed X-Broker-Signature header', async () => {
    const victim = await mint('wh-forged-malformed', 'task-a');
    for (const signature of [
      'v1=deadbeef',
      't=abc,v1=00',
      'sha256=0123',
      `t=${Math.floor(t.clock.now().getTime() / 1000)}`,
    ]) {
      const res = await deliver(COMPLETED, { task_id: 'task-a', agent: victim.agent }, { signature });
      expectProblem(res, 401, 'invalid-signature');
    }
    await expectLive(victim);
  });

  test('an unauthenticated caller cannot burn a delivery id the real sender will use', async () => {
    const victim = await mint('wh-forged-burn', 'task-a');
    const body = { task_id: 'task-a', agent: victim.agent };
    expectProblem(
      await deliver(COMPLETED, body, { delivery: 'evt-burn-1', secret: 'wrong-secret-0000000000' }),
      401,
      'invalid-signature',
    );
    const real = await deliver(COMPLETED, body, { delivery: 'evt-burn-1' });
    expect(real.status).toBe(200);
    expect(real.body).toEqual({ revoked: [victim.leaseId] });
  });
});

describe('the 300 s window, on the broker clock', () => {
  test('a call signed 301 s ago is refused; one signed exactly 300 s ago is accepted', async () => {
    const kept = await mint('wh-window-old', 'task-a');
    const gone = await mint('wh-window-edge', 'task-a');
    // Both signed now; the first is sent 301 s later, the second exactly 300 s later.
    const stale = sign(COMPLETED, { task_id: 'task-a', agent: kept.agent });
    const edge = sign(COMPLETED, { task_id: 'task-a', agent: gone.agent });
    t.clock.advance(300);
    expect((await send(edge)).body).toEqual({ revoked: [gone.leaseId] });
    t.clock.advance(1);
    const late = await send(stale);
    expectProblem(late, 401, 'invalid-signature');
    expect(late.body.detail).toBe('signature timestamp is 301 s old (tolerance 300 s)');
    await expectLive(kept);
  });

  test('a call dated 301 s in the future is refused; 300 s ahead (clock skew) is accepted', async () => {
    const victim = await mint('wh-window-future', 'task-a');
    const body = { task_id: 'task-a', agent: victim.agent };
    const ahead = (s: number) => new Date(t.clock.now().getTime() + s * 1000);
    const future = await deliver(COMPLETED, body, { at: ahead(301) });
    expectProblem(future, 401, 'invalid-signature');
    expect(future.body.detail).toBe('signature timestamp is 301 s in the future (tolerance 300 s)');
    await expectLive(victim);
    expect((await deliver(COMPLETED, body, { at: ahead(300) })).status).toBe(200);
    await expectRevoked(victim, 'task completed');
  });
});

describe('replays are refused with 401, in PostgreSQL, on every replica', () => {
  test('a captured call replayed after the agent started over does not revoke the new lease', async () => {
    const first = await mint('wh-replay', 'nightly');
    const captured = sign(
      COMPLETED,
      { task_id: 'nightly', agent: 'wh-replay' },
      { delivery: 'evt-replay-1' },
    );
    expect((await send(captured)).body).toEqual({ revoked: [first.leaseId] });
    // The task runs again tomorrow under the same id; an attacker replays yesterday's call.
    t.clock.advance(60);
    const rerun = await mint('wh-replay', 'nightly');
    const replay = await send(captured);
    expectProblem(replay, 401, 'replayed-delivery');
    const relabelled = await send({
      ...captured,
      headers: { ...captured.headers, 'x-broker-delivery': 'evt-replay-fresh' },
    });
    expectProblem(relabelled, 401, 'replayed-delivery');
    await expectLive(rerun);
  });

  test('a delivery id is accepted once, even for a different, properly signed body', async () => {
    const victim = await mint('wh-replay-id', 'task-a');
    expect(
      (
        await deliver(
          ANOMALY,
          { agent: 'wh-nobody-2', reason: 'r', severity: 'low' },
          { delivery: 'evt-reused' },
        )
      ).status,
    ).toBe(200);
    const reused = await deliver(
      COMPLETED,
      { task_id: 'task-a', agent: victim.agent },
      { delivery: 'evt-reused' },
    );
    expectProblem(reused, 401, 'replayed-delivery');
    await expectLive(victim);
  });

  test('a replay sent to another replica sharing the database is refused too', async () => {
    const replica = await startTestBroker({
      database: t.database,
      issuers: { workload: t.issuer, staff: t.staffIssuer },
      clock: t.clock,
    });
    try {
      const victim = await mint('wh-replay-replica', 'task-a');
      const captured = sign(ANOMALY, { agent: 'wh-nobody-3', reason: 'r', severity: 'low' });
      expect((await send(captured)).status).toBe(200);
      expectProblem(await send(captured, replica), 401, 'replayed-delivery');
      // The replica does serve webhooks: a fresh call is accepted there.
      const fresh = await send(sign(COMPLETED, { task_id: 'task-a', agent: victim.agent }), replica);
      expect(fresh.body).toEqual({ revoked: [victim.leaseId] });
    } finally {
      await replica.close();
    }
  });
});

describe('malformed deliveries are refused with 400 and revoke nothing', () => {
  test('no X-Broker-Delivery header, or one with characters outside the allowed set', async () => {
    const victim = await mint('wh-bad-delivery', 'task-a');
    const body = { task_id: 'task-a', agent: victim.agent };
    for (const delivery of [null, '', 'has spaces', 'x'.repeat(201), 'evt/1', 'évt']) {
      const res = await deliver(COMPLETED, body, { delivery });
      expectProblem(res, 400, 'bad-request');
      expect(res.body.errors, String(delivery)).toEqual([
        { field: 'headers.x-broker-delivery', message: expect.any(String) },
      ]);
    }
    await expectLive(victim);
  });

  test('a signed body that is not JSON', async () => {
    const res = await deliver(ANOMALY, '{"agent": "wh-x", "reason": ');
    expectProblem(res, 400, 'bad-request');
    expect(res.body.detail).toBe('the request body is not valid JSON');
  });

  test('signed JSON that does not fit the schema names each bad field', async () => {
    const victim = await mint('wh-bad-body', 'task-a');
    const cases: [string, unknown, string][] = [
      [
        ANOMALY,
        { agent: victim.agent, reason: 'r', severity: 'high', revoke_everything: true },
        'revoke_everything',
      ],
      [ANOMALY, { agent: victim.agent, reason: 'r', severity: 'apocalyptic' }, 'severity'],
      [ANOMALY, { agent: victim.agent, severity: 'high' }, 'reason'],
      [ANOMALY, { agent: victim.agent, task_id: 'task-a', reason: 'r', severity: 'high' }, 'agent'],
      [ANOMALY, { reason: 'r', severity: 'high' }, 'agent'],
      [ANOMALY, { lease_id: "' or 1=1 --", reason: 'r', severity: 'high' }, 'lease_id'],
      [ANOMALY, [{ agent: victim.agent }], '(body)'],
      [COMPLETED, { task_id: 'task-a' }, 'agent'],
      [COMPLETED, { task_id: '', agent: victim.agent }, 'task_id'],
      [COMPLETED, { task_id: 'task-a', agent: victim.agent, reason: 'extra' }, 'reason'],
    ];
    for (const [path, body, field] of cases) {
      const res = await deliver(path, body);
      expectProblem(res, 400, 'validation');
      expect(
        res.body.errors.map((e: { field: string }) => e.field),
        JSON.stringify(body),
      ).toContain(field);
    }
    await expectLive(victim);
  });

  test('a sender can correct a refused body and resend it under the same delivery id', async () => {
    const victim = await mint('wh-bad-then-good', 'task-a');
    expectProblem(
      await deliver(COMPLETED, { task_id: 'task-a' }, { delivery: 'evt-fix-1' }),
      400,
      'validation',
    );
    const fixed = await deliver(
      COMPLETED,
      { task_id: 'task-a', agent: victim.agent },
      { delivery: 'evt-fix-1' },
    );
    expect(fixed.body).toEqual({ revoked: [victim.leaseId] });
  });

  test('a signed body over 64 KiB is a 413 problem', async () => {
    const victim = await mint('wh-too-big', 'task-a');
    const res = await deliver(ANOMALY, {
      agent: victim.agent,
      reason: 'x'.repeat(65 * 1024),
      severity: 'high',
    });
    expectProblem(res, 413, 'payload-too-large');
    await expectLive(victim);
  });
});

describe('without WEBHOOK_SECRET', () => {
  test('both webhooks answer 503 with Retry-After, even to a call signed with the old secret', async () => {
    const disabled = await startTestBroker({
      database: t.database,
      issuers: { workload: t.issuer, staff: t.staffIssuer },
      clock: t.clock,
      // The helper sets a test secret; an explicit undefined unsets it as an empty environment would.
      env: { WEBHOOK_SECRET: undefined } as unknown as Record<string, string>,
    });
    try {
      expect(disabled.config.webhookSecret).toBeUndefined();
      const victim = await mint('wh-disabled', 'task-a');
      for (const path of [ANOMALY, COMPLETED]) {
        const res = await send(sign(path, { task_id: 'task-a', agent: victim.agent }), disabled);
        expectProblem(res, 503, 'unavailable');
        expect(res.body.detail).toBe('webhooks are disabled: WEBHOOK_SECRET is not set');
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      }
      await expectLive(victim);
    } finally {
      await disabled.close();
    }
  });
});
