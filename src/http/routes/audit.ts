// Security staff: read the audit trail and check its hash chain.

import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { reportRefusedRows, reportVerification } from '../../audit/audit-alarms.js';
import {
  type CheckpointKeys,
  listAudit,
  openCheckpoint,
  readAuditHead,
  sealAuditLog,
  signCheckpoint,
  verifyAuditLog,
} from '../../audit/audit-log.js';
import type { Clock } from '../../clock.js';
import { dbText } from '../../core/db-text.js';
import { UUID_PATTERN } from '../../core/ids.js';
import type { Database } from '../../db/client.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics.js';
import { problems } from '../../problem.js';
import type { App } from '../env.js';
import { jsonContent, problemResponses, staffSecurity } from '../openapi-common.js';

const AuditQuery = z.strictObject({
  lease_id: z.string().regex(UUID_PATTERN, 'must be a lease id (uuid)').optional(),
  agent: dbText().min(1).max(512).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  cursor: dbText().max(200).optional(),
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
    refused: z.number().int().meta({ description: 'Rows the sealer refused (no valid MAC): tampering' }),
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

const VerifyQuery = z.strictObject({
  checkpoint: z.string().max(4096).optional().meta({
    description:
      'A checkpoint from GET /v1/audit/checkpoint: the chain must still hold its head (a truncated tail fails)',
  }),
});

const verifyRoute = createRoute({
  method: 'get',
  path: '/v1/audit/verify',
  operationId: 'verifyAuditChain',
  summary:
    'Seal pending events and verify the whole keyed hash chain, optionally against a checkpoint (staff)',
  security: staffSecurity,
  request: { query: VerifyQuery },
  responses: {
    200: { description: 'Verification result', content: jsonContent(Verification) },
    ...problemResponses(400, 401),
  },
});

const Checkpoint = z
  .object({
    seq: z.number().int(),
    hash: z.string(),
    checkpoint: z
      .string()
      .meta({ description: 'The head, signed with the broker key (a JWS; keys at /.well-known/jwks.json)' }),
  })
  .meta({ id: 'AuditCheckpoint' });

const checkpointRoute = createRoute({
  method: 'get',
  path: '/v1/audit/checkpoint',
  operationId: 'getAuditCheckpoint',
  summary: 'A signed checkpoint of the head of the audit chain, to keep outside the database (staff)',
  security: staffSecurity,
  responses: {
    200: { description: 'The signed head', content: jsonContent(Checkpoint) },
    ...problemResponses(401),
  },
});

export interface AuditRouteDeps {
  database: Database;
  keyStore: CheckpointKeys;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  config: { brokerIssuer: string };
}

export function registerAuditRoutes(app: App, deps: AuditRouteDeps) {
  const seal = () =>
    sealAuditLog(deps.database.sql, { onRefused: reportRefusedRows(deps.logger, deps.metrics) });

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
    const { checkpoint: token } = c.req.valid('query');
    const checkpoint =
      token === undefined ? undefined : await openCheckpoint(deps.keyStore, deps.config.brokerIssuer, token);
    if (token !== undefined && checkpoint === undefined) {
      throw problems.validation('the checkpoint is not one this broker signed', {
        errors: [
          { field: 'query.checkpoint', message: 'not a valid signed audit checkpoint of this broker' },
        ],
      });
    }
    await seal();
    const result = await verifyAuditLog(deps.database.sql, { checkpoint });
    reportVerification(c.get('log') ?? deps.logger, deps.metrics, result);
    return c.json(
      {
        ok: result.ok,
        checked: result.checked,
        unsealed: result.unsealed,
        refused: result.refused,
        head: result.head,
        ...(result.firstBad ? { first_bad: result.firstBad } : {}),
      },
      200,
    );
  });

  app.openapi(checkpointRoute, async (c) => {
    await seal();
    const head = await readAuditHead(deps.database.sql);
    const checkpoint = await signCheckpoint(deps.keyStore, deps.config.brokerIssuer, head, deps.clock.now());
    return c.json({ seq: head.seq, hash: head.hash, checkpoint }, 200);
  });
}
