// Step-up approvals. The requesting agent long-polls GET /v1/approvals/{id} (workload token) and
// collects its credential once; security staff list, approve and deny (staff token).
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { ApprovalService } from '../../approvals/types.js';
import { APPROVAL_STATUSES, LEASE_STATES } from '../../db/schema/index.js';
import type { App } from '../env.js';
import { staffAuth, type Verifiers, workloadAuth } from '../middleware/auth.js';
import {
  bearerSecurity,
  IssuedSchema,
  jsonContent,
  PendingSchema,
  problemResponses,
  staffSecurity,
} from '../openapi-common.js';

/** Path ids are plain strings so that a malformed id is a 404 like any unknown id. */
const ApprovalIdParam = z.object({ id: z.string().max(128).meta({ description: 'Approval id (uuid)' }) });

const CollectQuery = z.strictObject({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(60)
    .default(0)
    .meta({ description: 'Seconds to wait for a decision before answering 200 pending (0–60)' }),
});

const ListQuery = z.strictObject({
  status: z.enum(APPROVAL_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

const ApprovalSchema = z
  .object({
    approval_id: z.string(),
    status: z.enum(APPROVAL_STATUSES),
    lease_id: z.string(),
    lease_state: z.enum(LEASE_STATES).meta({
      description:
        'pending_approval until the credential is collected; until then an approved request can still be denied',
    }),
    template: z.string(),
    agent: z.string(),
    agent_issuer: z.string(),
    on_behalf_of: z.object({ sub: z.string(), issuer: z.string() }).nullable(),
    intent: z.object({
      task_id: z.string(),
      purpose: z.string(),
      actions: z.array(z.string()),
      resources: z.array(z.string()),
    }),
    ttl_seconds: z.number().int(),
    policies: z.array(z.string()),
    policy_version: z.string(),
    group: z.string(),
    required_approvals: z.number().int(),
    approvals: z.array(z.object({ approver: z.string(), reason: z.string().nullable(), at: z.string() })),
    created_at: z.string(),
    expires_at: z.string(),
    decided_at: z.string().nullable(),
    decided_by: z.string().nullable(),
    reason: z.string().nullable(),
  })
  .meta({ id: 'Approval' });

const ApprovalList = z
  .object({ items: z.array(ApprovalSchema), next_cursor: z.string().nullable() })
  .meta({ id: 'ApprovalList' });

const reasonText = z.string().trim().min(1).max(1000);
const ApproveBody = z.strictObject({ reason: reasonText.optional() }).meta({ id: 'ApproveRequest' });
const DenyBody = z.strictObject({ reason: reasonText }).meta({ id: 'DenyRequest' });

export interface ApprovalRouteDeps {
  approvals: ApprovalService;
  verifiers: Verifiers;
}

export function registerApprovalRoutes(app: App, deps: ApprovalRouteDeps): void {
  // Auth is attached per route: the agent and the staff share the /v1/approvals prefix.
  const agent = workloadAuth(deps.verifiers);
  const staff = staffAuth(deps.verifiers);

  const collect = createRoute({
    method: 'get',
    path: '/v1/approvals/{id}',
    operationId: 'collectApproval',
    summary: 'Wait for a step-up decision and collect the credential (once)',
    description:
      'Long-polls up to `wait` seconds. 200 while pending; 201 with the credential exactly once after approval; ' +
      "409 on a second collect; 403 when denied (with the reviewer's reason) or expired.",
    security: bearerSecurity,
    middleware: agent,
    request: { params: ApprovalIdParam, query: CollectQuery },
    responses: {
      200: { description: 'Still pending', content: jsonContent(PendingSchema) },
      201: { description: 'Approved: the credential, handed over once', content: jsonContent(IssuedSchema) },
      ...problemResponses(400, 401, 403, 404, 409, 502, 503),
    },
  });

  const list = createRoute({
    method: 'get',
    path: '/v1/approvals',
    operationId: 'listApprovals',
    summary: 'List step-up requests, newest first (staff)',
    security: staffSecurity,
    middleware: staff,
    request: { query: ListQuery },
    responses: {
      200: { description: 'A page of step-up requests', content: jsonContent(ApprovalList) },
      ...problemResponses(400, 401, 403),
    },
  });

  const approve = createRoute({
    method: 'post',
    path: '/v1/approvals/{id}/approve',
    operationId: 'approveApproval',
    summary: 'Approve a step-up request (staff in the @step_up group; not the agent or its human)',
    security: staffSecurity,
    middleware: staff,
    request: { params: ApprovalIdParam, body: { content: jsonContent(ApproveBody), required: false } },
    responses: {
      200: { description: 'The request after this vote', content: jsonContent(ApprovalSchema) },
      ...problemResponses(400, 401, 403, 404, 409, 413),
    },
  });

  const deny = createRoute({
    method: 'post',
    path: '/v1/approvals/{id}/deny',
    operationId: 'denyApproval',
    summary: 'Deny a step-up request, with a reason the agent receives (staff in the @step_up group)',
    security: staffSecurity,
    middleware: staff,
    request: { params: ApprovalIdParam, body: { content: jsonContent(DenyBody), required: true } },
    responses: {
      200: { description: 'The denied request', content: jsonContent(ApprovalSchema) },
      ...problemResponses(400, 401, 403, 404, 409, 413),
    },
  });

  app.openapi(collect, async (c) => {
    const { id } = c.req.valid('param');
    const { wait } = c.req.valid('query');
    const result = await deps.approvals.collect(
      c.get('identity'),
      id,
      wait,
      c.get('requestId'),
      c.req.raw.signal,
    );
    if (result.status === 'pending') {
      const { approval } = result;
      return c.json(
        { approval_id: approval.approval_id, status: 'pending' as const, lease_id: approval.lease_id },
        200,
      );
    }
    c.header('Location', `/v1/leases/${result.lease_id}`);
    const { status: _status, ...issued } = result;
    return c.json(issued, 201);
  });

  app.openapi(list, async (c) => {
    const q = c.req.valid('query');
    const page = await deps.approvals.list({ status: q.status, cursor: q.cursor, limit: q.limit });
    return c.json({ items: page.items, next_cursor: page.nextCursor }, 200);
  });

  app.openapi(approve, async (c) => {
    // No body (or an empty one) approves without a reason.
    const body = (c.req.valid('json') as z.infer<typeof ApproveBody> | undefined) ?? {};
    const view = await deps.approvals.approve(
      c.get('staff'),
      c.req.valid('param').id,
      body.reason,
      c.get('requestId'),
    );
    return c.json(view, 200);
  });

  app.openapi(deny, async (c) => {
    const { reason } = c.req.valid('json');
    const view = await deps.approvals.deny(
      c.get('staff'),
      c.req.valid('param').id,
      reason,
      c.get('requestId'),
    );
    return c.json(view, 200);
  });
}
