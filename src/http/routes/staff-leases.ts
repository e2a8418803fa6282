// Security staff: list leases (agents: their own) and revoke them in bulk. A bulk revoke also
// closes the open step-up requests it matches, and is audited as one request beside the per-lease rows.
import { createRoute } from '@hono/zod-openapi';
import { and, count, desc, eq, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordAudit } from '../../audit/audit-log.js';
import type { Clock } from '../../clock.js';
import { decodeCursor, type Keyset } from '../../core/cursor.js';
import type { Database } from '../../db/client.js';
import { LEASE_STATES } from '../../db/schema/index.js';
import { countByState, listLeases } from '../../leases/lease-list.js';
import { toLeaseDetailView, toLeaseView } from '../../leases/lease-view.js';
import { problems } from '../../problem.js';
import type { Revoker } from '../../revocation/revoker.js';
import type { App } from '../env.js';
import { bearerSecurity, jsonContent, problemResponses, staffSecurity } from '../openapi-common.js';

const ListQuery = z.strictObject({
  agent: z.string().min(1).max(512).optional(),
  task_id: z.string().min(1).max(128).optional(),
  state: z.enum(LEASE_STATES).optional(),
  template: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

const LeaseDetail = z.record(z.string(), z.unknown()).meta({ id: 'LeaseDetail' });
const LeaseList = z
  .object({ items: z.array(LeaseDetail), next_cursor: z.string().nullable() })
  .meta({ id: 'LeaseList' });

const BulkRevoke = z
  .strictObject({
    agent: z.string().min(1).max(512).optional(),
    task_id: z.string().min(1).max(128).optional(),
    template: z.string().min(1).max(64).optional(),
    reason: z.string().trim().min(1).max(1000),
  })
  .refine((b) => b.agent !== undefined || b.task_id !== undefined || b.template !== undefined, {
    message: 'name at least one of agent, task_id or template',
    path: ['agent'],
  })
  .meta({ id: 'BulkRevokeRequest' });

const BulkRevokeResult = z
  .object({
    revoked: z
      .array(z.string())
      .meta({ description: 'Every live lease the filter matched, now revoked or revoking' }),
    approvals_denied: z
      .array(z.string())
      .meta({ description: 'Open step-up requests the filter matched, now denied' }),
    counts: z.object({
      revoked: z.number().int().meta({ description: 'Leases the provider confirmed revoked' }),
      revoking: z
        .number()
        .int()
        .meta({ description: 'Leases whose revocation the sweeper is still retrying' }),
      approvals_denied: z.number().int(),
    }),
  })
  .meta({ id: 'BulkRevokeResult' });

const listRoute = createRoute({
  method: 'get',
  path: '/v1/leases',
  operationId: 'listLeases',
  summary: 'List leases: every lease for staff, its own for an agent',
  description:
    'Staff see every lease (with its policies and policy version). An agent sees only its own leases: the same ' +
    'filters apply within them, and an `agent` filter naming another agent matches nothing.',
  security: [...staffSecurity, ...bearerSecurity],
  request: { query: ListQuery },
  responses: {
    200: { description: 'Leases, newest first', content: jsonContent(LeaseList) },
    ...problemResponses(400, 401, 403),
  },
});

const bulkRoute = createRoute({
  method: 'post',
  path: '/v1/leases/revoke',
  operationId: 'bulkRevokeLeases',
  summary: 'Revoke every live lease of an agent, a task or a template (staff)',
  security: staffSecurity,
  request: { body: { content: jsonContent(BulkRevoke), required: true } },
  responses: {
    200: { description: 'What was revoked', content: jsonContent(BulkRevokeResult) },
    ...problemResponses(400, 401, 403, 503),
  },
});

/** Strict: a forged cursor is a 400, never a cast error in SQL. */
function cursorPosition(cursor: string | undefined): Keyset | undefined {
  if (cursor === undefined) return undefined;
  const position = decodeCursor(cursor);
  if (!position) {
    throw problems.badRequest('invalid cursor', {
      errors: [{ field: 'cursor', message: 'not a cursor this API returned' }],
    });
  }
  return position;
}

export interface StaffLeaseRouteDeps {
  database: Database;
  revoker: Revoker;
  clock: Clock;
}

export function registerStaffLeaseRoutes(app: App, deps: StaffLeaseRouteDeps) {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    // Set by staffOrAgentAuth: a staff member, or else the agent whose own leases these are.
    const agent = c.get('staff') === undefined ? c.get('identity') : undefined;
    if (agent !== undefined && q.agent !== undefined && q.agent !== agent.subject) {
      return c.json({ items: [], next_cursor: null }, 200);
    }
    const page = await listLeases(deps.database.db, {
      agent: agent?.subject ?? q.agent,
      agentIssuer: agent?.issuer,
      taskId: q.task_id,
      states: q.state ? [q.state] : undefined,
      template: q.template,
      after: cursorPosition(q.cursor),
      limit: q.limit,
    });
    const view = agent === undefined ? toLeaseDetailView : toLeaseView;
    return c.json({ items: page.items.map(view), next_cursor: page.nextCursor }, 200);
  });

  app.openapi(bulkRoute, async (c) => {
    const body = c.req.valid('json');
    const staff = c.get('staff');
    const requestId = c.get('requestId');
    const actor = `staff:${staff.subject}`;
    const filter = { agent: body.agent, taskId: body.task_id, template: body.template };
    // The request row, the closed step-up requests and the marked leases commit together; each
    // closed request has its own approval.denied audit row.
    const { revoked, withdrawn: approvalsDenied } = await deps.revoker.revokeMatching(
      filter,
      body.reason,
      actor,
      requestId,
      (tx) =>
        recordAudit(tx, {
          at: deps.clock.now(),
          event: 'leases.bulk_revoke',
          requestId,
          actor,
          agent: body.agent ?? null,
          template: body.template ?? null,
          reasons: [body.reason],
          detail: { filter: { agent: body.agent, task_id: body.task_id, template: body.template } },
        }),
    );
    const byState = await countByState(deps.database.db, revoked);
    const counted = (state: string) => byState.get(state) ?? 0;
    return c.json(
      {
        revoked,
        approvals_denied: approvalsDenied,
        counts: {
          revoked: counted('revoked'),
          revoking: counted('revoking'),
          approvals_denied: approvalsDenied.length,
        },
      },
      200,
    );
  });
}
