// Revocation webhooks an attacker calls: a forged, stale or replayed call is refused with 401 and
// revokes nothing, on every replica. Signature checks are unit-tested in test/webhooks/; here every
// call goes through the real app and the real database.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { expectProblem } from '../../helpers/problems.js';
import { ANOMALY, COMPLETED, webhookCalls } from '../../helpers/webhooks.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { sign, send, deliver, mint, expectRevoked, expectLive } = webhookCalls(() => t);

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
