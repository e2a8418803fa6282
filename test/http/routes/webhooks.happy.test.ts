// Revocation webhooks that work, end to end: a signed call revokes exactly the leases it names (the
// lease says revoked, introspection says inactive), and is audited as the webhook.
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
