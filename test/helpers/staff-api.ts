// Calls the security staff's API makes in tests: mint a lease to list or revoke, introspect its
// token, and read every page of a list endpoint; plus cursors shaped like the broker's but forged.
import { expect } from 'vitest';
import { startApprovalsBroker } from './approvals.js';
import { credentialRequest, type TestBroker } from './broker.js';

/** Cursors shaped like ours but not ours: garbage, an id that is no uuid, a time past any Date. */
export const FORGED_CURSORS = [
  'bm90LWEtY3Vyc29y',
  Buffer.from(`1700000000000:${'-'.repeat(36)}`).toString('base64url'),
  Buffer.from('9999999999999999:00000000-0000-4000-8000-000000000000').toString('base64url'),
];

/** A broker with the approval policies, and a token of a security lead (on call, in security). */
export async function startStaffApiBroker(): Promise<{ t: TestBroker; staff: string }> {
  const t = await startApprovalsBroker();
  return { t, staff: await t.staffToken('sec-lead', ['security-oncall', 'security']) };
}

/** The calls, bound to the broker and staff token `current()` returns when they run. */
export function staffCalls(current: () => { t: TestBroker; staff: string }) {
  async function mint(agent: string, taskId = 't-42', template = 'reports-api', actions = ['reports:read']) {
    const { t } = current();
    const res = await t.request('POST', '/v1/credentials', {
      token: await t.agentToken(agent),
      body: credentialRequest({ template }, { task_id: taskId, actions }),
    });
    expect(res.status, res.text).toBe(201);
    return res.body as { lease_id: string; credential: { token: string } };
  }

  async function introspect(token: string): Promise<{ active: boolean }> {
    return (await current().t.request('POST', '/v1/introspect', { body: { token } })).body;
  }

  /** Every page of a list endpoint, following next_cursor; `between` runs after each page. */
  async function allPages(path: string, between: () => Promise<void> = async () => {}) {
    const { t, staff } = current();
    const items: { [key: string]: unknown }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const res = await t.request('GET', `${path}${cursor ? `${sep}cursor=${cursor}` : ''}`, {
        token: staff,
      });
      expect(res.status, res.text).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.next_cursor;
      pages++;
      await between();
    } while (cursor);
    return { items, pages };
  }

  return { mint, introspect, allPages };
}
