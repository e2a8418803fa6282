// Security staff: list leases and revoke them in bulk.
import { createRoute } from '@hono/zod-openapi';
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { LEASE_STATES, leases } from '../../db/schema/index.js';
import { toLeaseDetailView } from '../../leases/lease-view.js';
import type { Revoker } from '../../leases/revocation.js';
import { problems } from '../../problem.js';
import type { App } from '../env.js';
import { jsonContent, problemResponses, staffSecurity } from '../openapi-common.js';

const ListQuery = z.strictObject({
  agent: z.string().min(1).max(512).optional(),
  task_id: z.string().min(1).max(128).optional(),
  state: z.enum(LEASE_STATES).optional(),
  template: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().max(200).optional(),
});

const LeaseDetail = z.record(z.string(), z.unknown()).meta({ id: 'LeaseDetail' });
const LeaseList = z.object({ items: z.array(LeaseDetail), next_cursor: z.string().nullable() }).meta({ id: 'LeaseList' });

const BulkRevoke = z
  .strictObject({
    agent: z.string().min(1).max(512).optional(),
    task_id: z.string().min(1).max(128).optional(),
    template: z.string().min(1).max(64).optional(),
    reason: z.string().min(1).max(1000),
  })
  .refine((b) => b.agent !== undefined || b.task_id !== undefined || b.template !== undefined, {
    message: 'name at least one of agent, task_id or template',
    path: ['agent'],
  })
  .meta({ id: 'BulkRevokeRequest' });

const listRoute = createRoute({
  method: 'get',
  path: '/v1/leases',
  summary: 'List leases (staff)',
  security: staffSecurity,
  request: { query: ListQuery },
  responses: { 200: { description: 'Leases, newest first', content: jsonContent(LeaseList) }, ...problemResponses(400, 401, 403) },
});

const bulkRoute = createRoute({
  method: 'post',
  path: '/v1/leases/revoke',
  summary: 'Revoke every live lease of an agent, a task or a template (staff)',
  security: staffSecurity,
  request: { body: { content: jsonContent(BulkRevoke), required: true } },
  responses: {
    200: { description: 'Revoked lease ids', content: jsonContent(z.object({ revoked: z.array(z.string()) })) },
    ...problemResponses(400, 401, 403, 503),
  },
});

/** Cursor = base64url("<created_at ms>:<id>"), so paging is stable under concurrent inserts. */
function decodeCursor(cursor: string): { at: Date; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(text);
  if (!match) throw problems.badRequest('invalid cursor', [{ field: 'cursor', message: 'not a cursor this API returned' }]);
  return { at: new Date(Number(match[1])), id: match[2]! };
}

export function registerStaffLeaseRoutes(app: App, deps: { database: Database; revoker: Revoker }) {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const where: SQL[] = [];
    if (q.agent) where.push(eq(leases.agent, q.agent));
    if (q.task_id) where.push(eq(leases.taskId, q.task_id));
    if (q.state) where.push(eq(leases.state, q.state));
    if (q.template) where.push(eq(leases.template, q.template));
    if (q.cursor) {
      const cursor = decodeCursor(q.cursor);
      where.push(sql`(${leases.createdAt}, ${leases.id}) < (${cursor.at.toISOString()}::timestamptz, ${cursor.id}::uuid)`);
    }
    const rows = await deps.database.db
      .select()
      .from(leases)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(leases.createdAt), desc(leases.id))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    const last = page.at(-1);
    const next = rows.length > q.limit && last ? Buffer.from(`${last.createdAt.getTime()}:${last.id}`).toString('base64url') : null;
    return c.json({ items: page.map(toLeaseDetailView), next_cursor: next }, 200);
  });

  app.openapi(bulkRoute, async (c) => {
    const body = c.req.valid('json');
    const staff = c.get('staff');
    const revoked = await deps.revoker.revoke(
      { agent: body.agent, taskId: body.task_id, template: body.template },
      body.reason,
      `staff:${staff.subject}`,
      c.get('requestId'),
    );
    return c.json({ revoked }, 200);
  });
}
