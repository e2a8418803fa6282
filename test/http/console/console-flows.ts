// Steps the console tests repeat: an agent's step-up request with its lease id, the agent
// collecting its credential, a reviewer deciding on the console page, and reading what the broker
// stored (approval, lease state, audit rows) straight from the services and the database.
import { expect } from 'vitest';
import type { TestResponse } from '../../helpers/broker.js';
import { type ConsoleClient, csrfOf, type Page } from './console-client.js';
import type { ConsoleHarness, StepUpRequest } from './console-harness.js';

export interface PendingRequest {
  approvalId: string;
  leaseId: string;
  agent: string;
  namespace: string;
}

let taskCounter = 0;

/** A step-up request for reports-admin by a reports agent; fields can be overridden. */
export async function askForStepUp(
  h: ConsoleHarness,
  overrides: Partial<StepUpRequest> = {},
): Promise<PendingRequest> {
  taskCounter += 1;
  const request: StepUpRequest = {
    agent: 'reports-publisher',
    namespace: 'reports',
    template: 'reports-admin',
    taskId: `t-${taskCounter}`,
    purpose: 'republish the monthly revenue report',
    actions: ['reports:admin'],
    ...overrides,
  };
  const approvalId = await h.requestStepUp(request);
  const approval = await h.tb.broker.approvals.get(approvalId);
  if (approval === undefined) throw new Error(`approval ${approvalId} was not stored`);
  return { approvalId, leaseId: approval.lease_id, agent: request.agent, namespace: request.namespace };
}

/** GET /v1/approvals/{id} as the agent that asked (no wait). */
export async function collectAsAgent(h: ConsoleHarness, request: PendingRequest): Promise<TestResponse> {
  const token = await h.tb.agentToken(request.agent, {
    'kubernetes.io': { namespace: request.namespace, serviceaccount: { name: request.agent } },
  });
  return h.tb.request('GET', `/v1/approvals/${request.approvalId}?wait=0`, { token });
}

/** Opens the request's review page and submits its form with the page's own CSRF token. */
export async function decideOnPage(
  client: ConsoleClient,
  approvalId: string,
  decision: 'approve' | 'deny',
  reason: string,
): Promise<{ review: Page; response: Page }> {
  const review = await client.get(`/console/approvals/${approvalId}`);
  expect(review.status).toBe(200);
  const response = await client.post(
    `/console/approvals/${approvalId}/${decision}`,
    { csrf: csrfOf(review), reason },
    { follow: false },
  );
  return { review, response };
}

export async function approvalStatus(h: ConsoleHarness, approvalId: string) {
  const approval = await h.tb.broker.approvals.get(approvalId);
  if (approval === undefined) throw new Error(`approval ${approvalId} is gone`);
  return {
    status: approval.status,
    votes: approval.approvals.map((v) => v.approver),
    reason: approval.reason,
  };
}

export async function leaseRow(
  h: ConsoleHarness,
  leaseId: string,
): Promise<{ state: string; revoke_reason: string | null }> {
  const [row] = await h.tb.database.sql<{ state: string; revoke_reason: string | null }[]>`
    select state, revoke_reason from leases where id = ${leaseId}`;
  if (row === undefined) throw new Error(`lease ${leaseId} is gone`);
  return { state: row.state, revoke_reason: row.revoke_reason };
}

export async function auditCount(h: ConsoleHarness, leaseId: string): Promise<number> {
  const [row] = await h.tb.database.sql<
    { n: number }[]
  >`select count(*)::int as n from audit_events where lease_id = ${leaseId}`;
  return row?.n ?? 0;
}

/** A signed-in reviewer, on the pending list. */
export async function signedIn(
  h: ConsoleHarness,
  login: string,
): Promise<{ client: ConsoleClient; home: Page }> {
  const client = h.client();
  const home = await client.signIn(login);
  expect(home.status).toBe(200);
  expect(new URL(home.url).pathname).toBe('/console');
  return { client, home };
}

/** The row of the pending list that shows this request, or undefined. */
export function pendingRow(page: Page, approvalId: string): string | undefined {
  return new RegExp(`<tr data-approval-id="${approvalId}">[\\s\\S]*?</tr>`).exec(page.text)?.[0];
}
