// Security staff: read the audit trail and check its hash chain.
import { UUID_PATTERN } from '../../core/ids.js';
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { listAudit, sealAuditLog, verifyAuditLog } from '../../audit/audit-log.js';
import type { Database } from '../../db/client.js';
import type { App } from '../env.js';
import { jsonContent, problemResponses, staffSecurity } from '../openapi-common.js';

const AuditQuery = z.strictObject({
  lease_id: z.string().regex(UUID_PATTERN, 'must be a lease id (uuid)').optional(),
  agent: z.string().min(1).max(512).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().max(200).optional(),
  after_seq: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().meta({
    description:
      'Export order: sealed events with a higher seq, oldest first. Continue with next_after_seq: no event is missed or repeated (events appear once sealed, within a sweep).',
  }),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const AuditPage = z
  .object({
    items: z.array(z.record(z.string(), z.unknown())),
    next_cursor: z.string().nullable(),
    next_after_seq: z.number().int().optional(),
  })
  .meta({ id: 'AuditPage' });

const Verification = z
  .object({
    ok: z.boolean(),
    checked: z.number().int(),
    unsealed: z.number().int(),
    head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
    first_bad: z.object({ seq: z.number().int(), id: z.number().int(), problem: z.string() }).optional(),
  })
  .meta({ id: 'AuditVerification' });

const listRoute = createRoute({
  method: 'get',
  path: '/v1/audit',
  operationId: 'listAuditEvents',
  summary: 'Audit events, newest first; or sealed events in chain order with after_seq (staff)',
  security: staffSecurity,
  request: { query: AuditQuery },
  responses: {
    200: { description: 'A page of audit events', content: jsonContent(AuditPage) },
    ...problemResponses(400, 401),
  },
});

const verifyRoute = createRoute({
  method: 'get',
  path: '/v1/audit/verify',
  operationId: 'verifyAuditChain',
  summary: 'Seal pending events and verify the whole hash chain (staff)',
  security: staffSecurity,
  responses: {
    200: { description: 'Verification result', content: jsonContent(Verification) },
    ...problemResponses(401),
  },
});

export function registerAuditRoutes(app: App, deps: { database: Database }) {
  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const page = await listAudit(deps.database.db, {
      leaseId: q.lease_id,
      agent: q.agent,
      since: q.since ? new Date(q.since) : undefined,
      cursor: q.cursor,
      afterSeq: q.after_seq,
      limit: q.limit,
    });
    return c.json(
      {
        items: page.items as unknown as Record<string, unknown>[],
        next_cursor: page.nextCursor,
        ...(page.nextAfterSeq === undefined ? {} : { next_after_seq: page.nextAfterSeq }),
      },
      200,
    );
  });

  app.openapi(verifyRoute, async (c) => {
    await sealAuditLog(deps.database.sql);
    const result = await verifyAuditLog(deps.database.sql);
    return c.json(
      {
        ok: result.ok,
        checked: result.checked,
        unsealed: result.unsealed,
        head: result.head,
        ...(result.firstBad ? { first_bad: result.firstBad } : {}),
      },
      200,
    );
  });
}
