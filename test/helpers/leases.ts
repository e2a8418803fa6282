// An agent's calls on its own leases in tests: mint one (with its own token) and introspect a
// credential it holds.
import { expect } from 'vitest';
import { credentialRequest, type TestBroker } from './broker.js';

/** The calls, bound to the broker `broker()` returns when they run (it is made in beforeAll). */
export function agentLeaseCalls(broker: () => TestBroker) {
  async function mint(agent: string, intent: Record<string, unknown> = {}, ttl?: number) {
    const t = broker();
    const token = await t.agentToken(agent);
    const res = await t.request('POST', '/v1/credentials', {
      token,
      body: credentialRequest(ttl ? { ttl_seconds: ttl } : {}, intent),
    });
    expect(res.status).toBe(201);
    return {
      token,
      lease: res.body as { lease_id: string; expires_at: string; credential: { token: string } },
    };
  }

  async function introspect(token: string) {
    return (
      await broker().request('POST', '/v1/introspect', {
        body: `token=${token}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
    ).body;
  }

  return { mint, introspect };
}
