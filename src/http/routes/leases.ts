// An agent's own leases: read, renew, revoke; and completing a task.

import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { dbText } from '../../core/db-text.js';
import { canonicalUuid } from '../../core/ids.js';
import type { Database } from '../../db/client.js';
import type { Issuance } from '../../issuance/issuance.js';
import { getOwnedLease } from '../../leases/lease-reads.js';
import { toLeaseView } from '../../leases/lease-view.js';
import { problems } from '../../problem.js';
import type { Revoker } from '../../revocation/revoker.js';
import type { App } from '../env.js';
import {
  bearerSecurity,
  CredentialSchema,
  jsonContent,
  LeaseIdParam,
  LeaseSchema,
  problemResponses,
} from '../openapi-common.js';

const RenewSchema = z
  .strictObject({ ttl_seconds: z.number().int().min(1).max(43_200).optional() })
  .meta({ id: 'RenewRequest' });
const RenewedSchema = LeaseSchema.extend({ credential: CredentialSchema.optional() }).meta({
  id: 'RenewedLease',
});
const TaskParam = z.object({ task_id: dbText().min(1).max(128) });
/** Lease ids listed in a task completion; a task of 16k leases would otherwise answer 600 KiB. */
export const COMPLETED_IDS_LISTED = 1000;
const CompletedSchema = z
  .object({
    task_id: z.string(),
    revoked: z
      .array(z.string())
      .max(COMPLETED_IDS_LISTED)
      .meta({
        description: `Ids of the leases revoked: the first ${COMPLETED_IDS_LISTED} (by lease id) when there are more`,
      }),
    count: z.number().int().min(0).meta({ description: 'How many leases were revoked in all' }),
    truncated: z.boolean().meta({ description: '`true` when `revoked` lists fewer ids than `count`' }),
  })
  .meta({ id: 'TaskCompleted' });

function leaseId(id: string): string {
  const lease = canonicalUuid(id);
  if (lease === undefined) throw problems.notFound(`no lease ${id.slice(0, 64)}`);
  return lease;
}

const getLease = createRoute({
  method: 'get',
  path: '/v1/leases/{id}',
  operationId: 'getLease',
  summary: "Read one of the caller's leases (never the secret)",
  security: bearerSecurity,
  request: { params: LeaseIdParam },
  responses: {
    200: { description: 'The lease', content: jsonContent(LeaseSchema) },
    ...problemResponses(401, 404, 503),
  },
});

const renewLease = createRoute({
  method: 'post',
  path: '/v1/leases/{id}/renew',
  operationId: 'renewLease',
  summary: 'Extend a lease (policy re-evaluated; never past its max TTL from issue)',
  security: bearerSecurity,
  request: { params: LeaseIdParam, body: { content: jsonContent(RenewSchema), required: false } },
  responses: {
    200: {
      description: 'Renewed lease, with a fresh credential where the provider re-mints',
      content: jsonContent(RenewedSchema),
    },
    ...problemResponses(400, 401, 403, 404, 409, 502, 503),
  },
});

const revokeLease = createRoute({
  method: 'post',
  path: '/v1/leases/{id}/revoke',
  operationId: 'revokeLease',
  summary: 'Revoke a lease now',
  security: bearerSecurity,
  request: { params: LeaseIdParam },
  responses: {
    200: { description: 'The lease after revocation', content: jsonContent(LeaseSchema) },
    ...problemResponses(401, 404, 503),
  },
});

const completeTask = createRoute({
  method: 'post',
  path: '/v1/tasks/{task_id}/complete',
  operationId: 'completeTask',
  summary: 'Revoke every live lease of this task for the calling agent',
  security: bearerSecurity,
  request: { params: TaskParam },
  responses: {
    200: { description: 'Leases revoked', content: jsonContent(CompletedSchema) },
    ...problemResponses(400, 401, 503),
  },
});

export function registerLeaseRoutes(
  app: App,
  deps: { database: Database; issuance: Issuance; revoker: Revoker },
) {
  app.openapi(getLease, async (c) => {
    const lease = await getOwnedLease(deps.database.db, c.get('identity'), leaseId(c.req.valid('param').id));
    return c.json(toLeaseView(lease), 200);
  });

  app.openapi(renewLease, async (c) => {
    // An empty body means "the template's default TTL".
    const body =
      c.req.header('content-length') === '0'
        ? {}
        : ((c.req.valid('json') as z.infer<typeof RenewSchema> | undefined) ?? {});
    const identity = c.get('identity');
    const current = await getOwnedLease(deps.database.db, identity, leaseId(c.req.valid('param').id));
    const { lease, credential } = await deps.issuance.renew(
      identity,
      current,
      body.ttl_seconds,
      c.get('requestId'),
    );
    return c.json({ ...toLeaseView(lease), ...(credential ? { credential } : {}) }, 200);
  });

  app.openapi(revokeLease, async (c) => {
    const lease = await deps.revoker.revokeOwned(
      c.get('identity'),
      leaseId(c.req.valid('param').id),
      c.get('requestId'),
    );
    return c.json(toLeaseView(lease), 200);
  });

  app.openapi(completeTask, async (c) => {
    const { task_id } = c.req.valid('param');
    const revoked = await deps.revoker.completeTask(c.get('identity'), task_id, c.get('requestId'));
    const listed = revoked.toSorted().slice(0, COMPLETED_IDS_LISTED);
    return c.json(
      { task_id, revoked: listed, count: revoked.length, truncated: listed.length < revoked.length },
      200,
    );
  });
}
