// Delegation chains through token exchange (RFC 8693 §4.1): nested act, narrowing only, the depth
// cap, Cedar's context.delegation, and the cascade when a parent ends.
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEST_POLICIES } from '../helpers/broker.js';
import {
  ACCESS_TOKEN_TYPE,
  CIBA,
  delegate,
  exchange,
  JWT_TYPE,
  leaseCount,
  oauthFailure,
  REPORTS,
  type ServedBroker,
  startServedBroker,
  TOKEN_EXCHANGE,
  taskIntent,
} from '../helpers/oauth.js';
import { DEFAULT_SCHEMA } from '../helpers/policy-dir.js';

const POLICIES = {
  ...TEST_POLICIES,
  'delegation.cedar': `// A sub-agent named "sub-untrusted" may never receive a delegated token.
@id("forbid-untrusted-sub-agent")
forbid (principal == Agent::"sub-untrusted", action, resource)
when { context has delegation && context.delegation.depth > 0 };
`,
};

let b: ServedBroker;

beforeAll(async () => {
  b = await startServedBroker({ policies: POLICIES });
});
afterAll(async () => {
  await b?.stop();
});

async function introspect(token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${b.url}/v1/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** The root token of agent A for task `taskId`, with both reports scopes' read. */
async function rootToken(taskId: string, scope = 'reports:read') {
  return exchange(b, await b.agentToken('agent-a'), {
    scope: '',
    authorization_details: taskIntent({ task_id: taskId, actions: scope.split(' ') }),
  });
}

describe('a three-deep chain', () => {
  test('nests act per link, keeps sub and task_id, and shows the chain in introspection', async () => {
    const root = await rootToken('t-chain');
    const first = await delegate(b, root.access_token, await b.agentToken('sub-b'));
    const second = await delegate(b, first.access_token, await b.agentToken('sub-c'));

    expect(decodeJwt(first.access_token)).toMatchObject({
      sub: 'agent-a',
      task_id: 't-chain',
      aud: REPORTS,
      act: { sub: 'sub-b', act: { sub: 'agent-a' } },
    });
    const claims = decodeJwt(second.access_token);
    expect(claims).toMatchObject({ sub: 'agent-a', task_id: 't-chain', scope: 'reports:read' });
    expect(claims.act).toEqual({ sub: 'sub-c', act: { sub: 'sub-b', act: { sub: 'agent-a' } } });
    expect(claims.exp).toBeLessThanOrEqual(decodeJwt(first.access_token).exp!);

    expect(await introspect(second.access_token)).toMatchObject({
      active: true,
      task_id: 't-chain',
      act: { sub: 'sub-c', act: { sub: 'sub-b', act: { sub: 'agent-a' } } },
    });
    const [lease] = await b.database.sql`
      select agent, parent_lease_id, delegation from leases where id = ${second.lease_id as string}`;
    expect(lease).toMatchObject({
      agent: 'sub-c',
      parent_lease_id: first.lease_id,
      delegation: { depth: 2, chain: ['agent-a', 'sub-b', 'sub-c'] },
    });
    const [decision] = await b.database.sql`
      select detail from audit_events where lease_id = ${second.lease_id as string} and event = 'decision'`;
    expect((decision!.detail as { delegation: unknown }).delegation).toMatchObject({
      parent_lease: first.lease_id,
      depth: 2,
      chain: ['agent-a', 'sub-b', 'sub-c'],
    });

    // max_delegation_depth defaults to 2: a fourth link is refused, and no lease is written.
    const before = await leaseCount(b);
    const third = await oauthFailure(delegate(b, second.access_token, await b.agentToken('sub-d')));
    expect(third).toMatchObject({ status: 403, error: 'access_denied' });
    expect(third.body.reasons).toEqual(['delegation depth 3 exceeds max_delegation_depth 2']);
    expect(await leaseCount(b)).toBe(before);
  });

  test("completing the root's task revokes every descendant, visible in introspection", async () => {
    const root = await rootToken('t-cascade');
    const first = await delegate(b, root.access_token, await b.agentToken('sub-b'));
    const second = await delegate(b, first.access_token, await b.agentToken('sub-c'));
    const done = await b.request('POST', '/v1/tasks/t-cascade/complete', {
      token: await b.agentToken('agent-a'),
    });
    expect(done.status).toBe(200);
    for (const token of [root, first, second])
      expect(await introspect(token.access_token)).toEqual({ active: false });
    const rows = await b.database.sql`
      select state from leases where id in ${b.database.sql([first.lease_id as string, second.lease_id as string])}`;
    expect(rows.map((r) => r.state)).toEqual(['revoked', 'revoked']);
    // A revoked parent cannot be exchanged any more.
    const again = await oauthFailure(delegate(b, first.access_token, await b.agentToken('sub-e')));
    expect(again).toMatchObject({ error: 'invalid_request' });
  });

  test('revoking a middle link revokes what hangs below it and leaves the root alone', async () => {
    const root = await rootToken('t-middle');
    const first = await delegate(b, root.access_token, await b.agentToken('sub-b'));
    const second = await delegate(b, first.access_token, await b.agentToken('sub-c'));
    const revoked = await b.request('POST', `/v1/leases/${first.lease_id}/revoke`, {
      token: await b.agentToken('sub-b'),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(second.access_token)).toEqual({ active: false });
    expect((await introspect(root.access_token)).active).toBe(true);
  });
});

describe('a chain only narrows', () => {
  test('a wider scope, another resource, another template or another task is refused', async () => {
    const root = await rootToken('t-narrow');
    const sub = await b.agentToken('sub-b');
    const before = await leaseCount(b);
    expect(
      await oauthFailure(delegate(b, root.access_token, sub, { scope: 'reports:export' })),
    ).toMatchObject({ error: 'invalid_scope' });
    expect(
      await oauthFailure(delegate(b, root.access_token, sub, { resource: 'https://elsewhere.internal' })),
    ).toMatchObject({
      error: 'invalid_target',
    });
    expect(
      await oauthFailure(
        delegate(b, root.access_token, sub, {
          authorization_details: taskIntent({ task_id: 't-narrow', template: 'reports-admin' }),
        }),
      ),
    ).toMatchObject({ error: 'invalid_target' });
    // A chain built from a token of another task.
    expect(
      await oauthFailure(
        delegate(b, root.access_token, sub, { authorization_details: taskIntent({ task_id: 't-other' }) }),
      ),
    ).toMatchObject({ error: 'invalid_authorization_details' });
    expect(await leaseCount(b)).toBe(before);
  });

  test('a narrower scope and the same resource are granted, and the expiry never passes the parent', async () => {
    const root = await rootToken('t-narrower', 'reports:read');
    const narrowed = await delegate(b, root.access_token, await b.agentToken('sub-b'), {
      scope: 'reports:read',
      resource: REPORTS,
    });
    expect(narrowed.scope).toBe('reports:read');
    expect(decodeJwt(narrowed.access_token).exp).toBeLessThanOrEqual(decodeJwt(root.access_token).exp!);
  });

  test('Cedar sees context.delegation: a forbid on it denies the link with its policy id', async () => {
    const root = await rootToken('t-cedar');
    const failure = await oauthFailure(delegate(b, root.access_token, await b.agentToken('sub-untrusted')));
    expect(failure).toMatchObject({ status: 403, error: 'access_denied' });
    expect(failure.body.policies).toEqual(['forbid-untrusted-sub-agent']);
  });
});

describe('a delegated step-up request', () => {
  test('waits for approval like any other, and is never issued once its parent is revoked', async () => {
    const agentA = await b.agentToken('agent-a');
    const pending = await oauthFailure(exchange(b, agentA, { scope: 'reports:admin' }));
    const rootApproval = pending.body.auth_req_id as string;
    await b.request('POST', `/v1/approvals/${rootApproval}/approve`, {
      token: await b.staffToken('alice'),
      body: {},
    });
    b.clock.advance(5);
    const root = await client.genericGrantRequest(b.oauth, CIBA, {
      auth_req_id: rootApproval,
      subject_token: agentA,
      subject_token_type: JWT_TYPE,
    });

    const subB = await b.agentToken('sub-b');
    const childPending = await oauthFailure(delegate(b, root.access_token, subB));
    expect(childPending.error).toBe('authorization_pending');
    const childApproval = childPending.body.auth_req_id as string;
    const revoked = await b.request('POST', `/v1/leases/${root.lease_id}/revoke`, { token: agentA });
    expect(revoked.status).toBe(200);
    await b.request('POST', `/v1/approvals/${childApproval}/approve`, {
      token: await b.staffToken('alice'),
      body: {},
    });
    b.clock.advance(5);
    const poll = await oauthFailure(
      client.genericGrantRequest(b.oauth, CIBA, {
        auth_req_id: childApproval,
        subject_token: root.access_token,
        subject_token_type: ACCESS_TOKEN_TYPE,
        actor_token: subB,
        actor_token_type: JWT_TYPE,
      }),
    );
    expect(poll.error).toBe('invalid_grant');
    expect(
      b.logs.some((line) => line.includes('the lease this one was delegated from is no longer active')),
    ).toBe(true);
    const [child] = await b.database.sql`
      select l.state from leases l join approvals a on a.lease_id = l.id where a.id = ${childApproval}`;
    expect(child!.state).not.toBe('active');
  });
});

describe('a policy schema without delegation', () => {
  test('still loads, and a delegated request evaluated against it is denied with that reason', async () => {
    const plain = await startServedBroker({ schema: DEFAULT_SCHEMA });
    try {
      const root = await exchange(plain, await plain.agentToken('agent-a'));
      const failure = await oauthFailure(delegate(plain, root.access_token, await plain.agentToken('sub-b')));
      expect(failure).toMatchObject({ status: 403, error: 'access_denied' });
      expect(failure.body.reasons).toEqual([
        'delegated requests are refused: schema.cedarschema does not declare context.delegation',
      ]);
    } finally {
      await plain.stop();
    }
  });
});

describe('what is never a delegation', () => {
  test('a workload token as subject_token of an exchange with an actor_token is refused', async () => {
    const res = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken('agent-a'),
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: await b.agentToken('sub-b'),
      actor_token_type: JWT_TYPE,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});
