// Shared setup for the approval tests: templates and policies with one- and two-approver step-up,
// and helpers that make a step-up request and read what the broker stored about it.
import { expect } from 'vitest';
import {
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
  type TestBrokerOptions,
  type TestResponse,
} from './broker.js';

export const APPROVAL_TEMPLATES = {
  ...TEST_TEMPLATES,
  'reports-purge': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:purge'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
};

export const APPROVAL_POLICIES: Record<string, string> = {
  ...TEST_POLICIES,
  'purge.cedar': `// Purging reports needs two distinct on-call engineers, within ten minutes.
@id("reports-purge-needs-two")
@step_up("security-oncall")
@approvals("2")
@approval_ttl("600")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-purge")
when { principal has namespace && principal.namespace == "reports" };
`,
};

/** A guardrail added while a request waits (a change freeze): forbid wins even after approval. */
export const FREEZE_POLICY = {
  'freeze.cedar': `@id("change-freeze")
@reason("administrative changes are frozen")
forbid (principal, action, resource == Template::"reports-admin");
`,
};

export const ADMIN_REQUEST = {
  template: 'reports-admin',
  intent: {
    task_id: 't-admin',
    purpose: 'republish the monthly report',
    actions: ['reports:admin'],
    resources: [],
  },
};

export const PURGE_REQUEST = {
  template: 'reports-purge',
  intent: { task_id: 't-purge', purpose: 'purge stale reports', actions: ['reports:purge'], resources: [] },
};

export interface Pending {
  approvalId: string;
  leaseId: string;
  agentToken: string;
}

/** Asks for a credential that needs step-up and checks the 202. */
export async function requestStepUp(
  t: TestBroker,
  body: object = ADMIN_REQUEST,
  opts: { agent?: string; headers?: Record<string, string> } = {},
): Promise<Pending> {
  const agentToken = await t.agentToken(opts.agent);
  const res = await t.request('POST', '/v1/credentials', { token: agentToken, body, headers: opts.headers });
  expect(res.status, res.text).toBe(202);
  expect(res.body).toEqual({
    approval_id: expect.any(String),
    status: 'pending',
    lease_id: expect.any(String),
  });
  return { approvalId: res.body.approval_id, leaseId: res.body.lease_id, agentToken };
}

export async function approve(
  t: TestBroker,
  approvalId: string,
  staff: string,
  body: object = {},
): Promise<TestResponse> {
  return t.request('POST', `/v1/approvals/${approvalId}/approve`, { token: await t.staffToken(staff), body });
}

export async function deny(
  t: TestBroker,
  approvalId: string,
  staff: string,
  reason: string,
): Promise<TestResponse> {
  return t.request('POST', `/v1/approvals/${approvalId}/deny`, {
    token: await t.staffToken(staff),
    body: { reason },
  });
}

export async function collect(
  t: TestBroker,
  approvalId: string,
  agentToken: string,
  wait = 0,
): Promise<TestResponse> {
  return t.request('GET', `/v1/approvals/${approvalId}?wait=${wait}`, { token: agentToken });
}

export async function leaseState(
  t: TestBroker,
  leaseId: string,
): Promise<{ state: string; revoke_reason: string | null }> {
  const [row] = await t.database.sql<{ state: string; revoke_reason: string | null }[]>`
    select state, revoke_reason from leases where id = ${leaseId}`;
  return row!;
}

export async function auditEvents(
  t: TestBroker,
  leaseId: string,
): Promise<{ event: string; actor: string; decision: string | null }[]> {
  return t.database.sql<{ event: string; actor: string; decision: string | null }[]>`
    select event, actor, decision from audit_events where lease_id = ${leaseId} order by id`;
}

/** A test broker with the approval templates and policies (one- and two-approver step-up). */
export function startApprovalsBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  return startTestBroker({ templates: APPROVAL_TEMPLATES, policies: APPROVAL_POLICIES, ...options });
}
