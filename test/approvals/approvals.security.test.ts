// Who may not review a step-up request, and what an attacker tries: someone outside the group,
// the agent itself (with its own token or a staff account named like it), the human the agent acts
// for, one person voting twice, tokens that are not staff tokens. Every refusal leaves the request
// as it was, and is audited.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_REQUEST,
  approve,
  auditEvents,
  collect,
  deny,
  leaseState,
  PURGE_REQUEST,
  requestStepUp,
  startApprovalsBroker,
} from '../helpers/approvals.js';
import { STAFF_AUDIENCE, type TestBroker } from '../helpers/broker.js';
import { createTestIssuer, type TestIssuer } from '../helpers/issuer.js';

const FORBIDDEN = 'urn:jit-broker:problem:forbidden';

let t: TestBroker;
let stranger: TestIssuer;

beforeAll(async () => {
  t = await startApprovalsBroker();
  stranger = await createTestIssuer({
    alg: 'ES256',
    jwks: 'file',
    issuer: 'https://sso.evil.example',
    clock: t.clock,
  });
});

afterAll(async () => {
  await stranger?.close();
  await t?.close();
});

/** The request is untouched: still pending, no vote counted, the lease still waiting. */
async function expectUntouched(approvalId: string, leaseId: string): Promise<void> {
  const view = await t.broker.approvals.get(approvalId);
  expect(view).toMatchObject({ status: 'pending', approvals: [], decided_by: null });
  expect((await leaseState(t, leaseId)).state).toBe('pending_approval');
}

describe('a reviewer outside the @step_up group', () => {
  it('is refused 403 naming the group, and the attempt is audited', async () => {
    const pending = await requestStepUp(t);
    const token = await t.staffToken('casey', ['engineering']);
    const res = await t.request('POST', `/v1/approvals/${pending.approvalId}/approve`, { token, body: {} });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body).toMatchObject({
      type: FORBIDDEN,
      status: 403,
      detail: 'only members of "security-oncall" may approve this request',
    });
    await expectUntouched(pending.approvalId, pending.leaseId);

    const refusedDeny = await t.request('POST', `/v1/approvals/${pending.approvalId}/deny`, {
      token,
      body: { reason: 'I do not like it' },
    });
    expect(refusedDeny.status).toBe(403);
    await expectUntouched(pending.approvalId, pending.leaseId);

    const refusals = (await auditEvents(t, pending.leaseId)).filter((e) => e.event === 'approval.refused');
    expect(refusals).toEqual([
      { event: 'approval.refused', actor: 'staff:casey', decision: 'refused' },
      { event: 'approval.refused', actor: 'staff:casey', decision: 'refused' },
    ]);
  });
});

describe('the agent that asked', () => {
  it('cannot approve, deny or list with its own workload token: 403, and nothing changes', async () => {
    const pending = await requestStepUp(t);
    const agent = pending.agentToken;
    const approveRes = await t.request('POST', `/v1/approvals/${pending.approvalId}/approve`, {
      token: agent,
      body: {},
    });
    expect(approveRes.status).toBe(403);
    expect(approveRes.body.type).toBe(FORBIDDEN);
    const denyRes = await t.request('POST', `/v1/approvals/${pending.approvalId}/deny`, {
      token: agent,
      body: { reason: 'never mind' },
    });
    expect(denyRes.status).toBe(403);
    const list = await t.request('GET', '/v1/approvals?status=pending', { token: agent });
    expect(list.status).toBe(403);
    await expectUntouched(pending.approvalId, pending.leaseId);
    expect((await collect(t, pending.approvalId, agent)).status).toBe(200);
  });

  it('cannot approve through a staff account whose subject is the agent, even in the group', async () => {
    const pending = await requestStepUp(t);
    const res = await approve(t, pending.approvalId, 'agent-reports');
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({
      type: FORBIDDEN,
      detail: 'the agent that made a request may not approve it',
    });
    await expectUntouched(pending.approvalId, pending.leaseId);
    const events = await auditEvents(t, pending.leaseId);
    expect(events.at(-1)).toEqual({
      event: 'approval.refused',
      actor: 'staff:agent-reports',
      decision: 'refused',
    });
  });

  it("cannot collect another agent's approval: 404, and the owner still collects it", async () => {
    const pending = await requestStepUp(t);
    await approve(t, pending.approvalId, 'sam');
    const other = await t.agentToken('agent-other');
    const res = await collect(t, pending.approvalId, other);
    expect(res.status).toBe(404);
    expect((await collect(t, pending.approvalId, pending.agentToken)).status).toBe(201);
  });
});

describe('the human the agent acts for (on_behalf_of)', () => {
  it('cannot approve their own request; another member of the group can', async () => {
    const body = { ...ADMIN_REQUEST, on_behalf_of: await t.staffToken('alice') };
    const pending = await requestStepUp(t, body);
    expect((await t.broker.approvals.get(pending.approvalId))?.on_behalf_of).toEqual({
      sub: 'alice',
      issuer: t.staffIssuer.issuer,
    });

    const own = await approve(t, pending.approvalId, 'alice');
    expect(own.status).toBe(403);
    expect(own.body).toMatchObject({
      type: FORBIDDEN,
      detail: 'the human the agent acts for may not approve their own request',
    });
    await expectUntouched(pending.approvalId, pending.leaseId);

    const other = await approve(t, pending.approvalId, 'sam');
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ status: 'approved', decided_by: 'sam' });
  });

  it('may still withdraw their own request (denying only ever fails closed)', async () => {
    const pending = await requestStepUp(t, { ...ADMIN_REQUEST, on_behalf_of: await t.staffToken('alice') });
    const res = await deny(t, pending.approvalId, 'alice', 'asked by mistake');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'denied', decided_by: 'alice' });
  });
});

describe('one person approving twice', () => {
  it('counts once, even when both votes race: one 200, one 409 "already approved"', async () => {
    const pending = await requestStepUp(t, PURGE_REQUEST);
    const [a, b] = await Promise.all([
      approve(t, pending.approvalId, 'sam'),
      approve(t, pending.approvalId, 'sam'),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const conflict = a.status === 409 ? a : b;
    expect(conflict.body).toMatchObject({
      type: 'urn:jit-broker:problem:conflict',
      detail: 'you already approved this request; another member of "security-oncall" must approve',
    });
    const view = await t.broker.approvals.get(pending.approvalId);
    expect(view).toMatchObject({ status: 'pending', required_approvals: 2 });
    expect(view?.approvals.map((v) => v.approver)).toEqual(['sam']);
    expect((await collect(t, pending.approvalId, pending.agentToken)).body.status).toBe('pending');
  });
});

describe('tokens that are not staff tokens', () => {
  it('are refused 401 invalid_token on every review route, whoever they claim to be', async () => {
    const pending = await requestStepUp(t);
    const claims = { sub: 'mallory', aud: STAFF_AUDIENCE, groups: ['security-oncall'] };
    const tokens = {
      'a foreign issuer': await stranger.sign(claims),
      'the workload issuer, staff audience': await t.issuer.sign(claims),
      'the staff issuer, wrong audience': await t.staffIssuer.sign({ ...claims, aud: 'jit-broker' }),
      'the staff issuer name, a stranger key': await stranger.sign({ ...claims, iss: t.staffIssuer.issuer }),
      'an expired staff token': await t.staffIssuer.sign({
        ...claims,
        iat: Math.floor(t.clock.now().getTime() / 1000) - 3600,
        exp: Math.floor(t.clock.now().getTime() / 1000) - 600,
      }),
    };
    for (const [what, token] of Object.entries(tokens)) {
      for (const [method, path, body] of [
        ['POST', `/v1/approvals/${pending.approvalId}/approve`, {}],
        ['POST', `/v1/approvals/${pending.approvalId}/deny`, { reason: 'no' }],
        ['GET', '/v1/approvals?status=pending', undefined],
      ] as const) {
        const res = await t.request(method, path, { token, body });
        expect(res.status, `${what}: ${method} ${path}`).toBe(401);
        expect(res.headers.get('www-authenticate'), what).toMatch(/^Bearer error="invalid_token"/);
      }
    }
    const none = await t.request('POST', `/v1/approvals/${pending.approvalId}/approve`, { body: {} });
    expect(none.status).toBe(401);
    await expectUntouched(pending.approvalId, pending.leaseId);
  });
});
