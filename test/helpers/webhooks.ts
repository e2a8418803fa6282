// Signed revocation-webhook calls against a test broker, and the leases they are meant to revoke:
// sign a body (with any secret, time, signature or delivery id), send it, and check a lease is
// revoked (it reads revoked and introspects inactive) or still live.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { signWebhook } from '../../src/webhooks/signature.js';
import { credentialRequest, TEST_WEBHOOK_SECRET, type TestBroker, type TestResponse } from './broker.js';

export const ANOMALY = '/v1/webhooks/anomaly';
export const COMPLETED = '/v1/webhooks/task-completed';

export interface Delivery {
  /** Sign at this time (default: the broker's clock now). */
  at?: Date;
  secret?: string;
  /** The X-Broker-Signature value; null leaves the header out. */
  signature?: string | null;
  /** The X-Broker-Delivery value; null leaves the header out. Default: a fresh id. */
  delivery?: string | null;
}

export interface SignedCall {
  path: string;
  raw: string;
  headers: Record<string, string>;
}

export interface Minted {
  agent: string;
  leaseId: string;
  jwt: string;
}

/** The calls, bound to the broker `broker()` returns when they run (it is made in beforeAll). */
export function webhookCalls(broker: () => TestBroker) {
  function sign(path: string, body: unknown, d: Delivery = {}): SignedCall {
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const signature =
      d.signature === undefined
        ? signWebhook(d.secret ?? TEST_WEBHOOK_SECRET, raw, d.at ?? broker().clock.now())
        : d.signature;
    if (signature !== null) headers['x-broker-signature'] = signature;
    const delivery = d.delivery === undefined ? `dlv-${randomUUID()}` : d.delivery;
    if (delivery !== null) headers['x-broker-delivery'] = delivery;
    return { path, raw, headers };
  }

  function send(call: SignedCall, to: TestBroker = broker()): Promise<TestResponse> {
    return to.request('POST', call.path, { body: call.raw, headers: call.headers });
  }

  const deliver = (path: string, body: unknown, d: Delivery = {}) => send(sign(path, body, d));

  async function mint(agent: string, taskId: string, ttlSeconds = 600): Promise<Minted> {
    const t = broker();
    const res = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(agent),
      body: credentialRequest({ ttl_seconds: ttlSeconds }, { task_id: taskId }),
    });
    expect(res.status).toBe(201);
    return { agent, leaseId: res.body.lease_id, jwt: res.body.credential.token };
  }

  async function lease(m: Minted) {
    const t = broker();
    const res = await t.request('GET', `/v1/leases/${m.leaseId}`, { token: await t.agentToken(m.agent) });
    expect(res.status).toBe(200);
    return res.body as { state: string; revoked_at: string | null; revoke_reason: string | null };
  }

  async function introspect(m: Minted) {
    const res = await broker().request('POST', '/v1/introspect', { body: { token: m.jwt } });
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

  return { sign, send, deliver, mint, lease, introspect, expectRevoked, expectLive };
}
