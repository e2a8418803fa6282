// Revocation webhooks refused for what they carry: a malformed or oversized delivery is a 400 or
// 413 problem that revokes nothing, and without WEBHOOK_SECRET both webhooks are a 503.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { expectProblem } from '../../helpers/problems.js';
import { ANOMALY, COMPLETED, webhookCalls } from '../../helpers/webhooks.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const { sign, send, deliver, mint, expectLive } = webhookCalls(() => t);

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
