// Signed webhooks from operators' detection systems and job runners. The signature is checked
// before the body is even parsed, and each delivery id is accepted once across all replicas.
import { UUID_PATTERN } from '../../core/ids.js';
import { createRoute } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import type { Database, DbOrTx } from '../../db/client.js';
import { problems } from '../../problem.js';
import type { RevocationFilter, Revoker } from '../../revocation/revoker.js';
import { authenticateWebhook } from '../../webhooks/authenticate.js';
import { verifyWebhookSignature } from '../../webhooks/signature.js';
import type { App, AppEnv } from '../env.js';
import { jsonContent, problemResponses, publicSecurity } from '../openapi-common.js';
import { zodFieldErrors } from '../problem-response.js';

const AnomalySchema = z
  .strictObject({
    agent: z.string().min(1).max(512).optional(),
    lease_id: z.string().regex(UUID_PATTERN, 'must be a lease id (uuid)').optional(),
    task_id: z.string().min(1).max(128).optional(),
    reason: z.string().min(1).max(1000),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
  })
  .refine((b) => [b.agent, b.lease_id, b.task_id].filter((v) => v !== undefined).length === 1, {
    message: 'name exactly one of agent, lease_id or task_id',
    path: ['agent'],
  })
  .meta({ id: 'AnomalyWebhook' });

const TaskCompletedSchema = z
  .strictObject({ task_id: z.string().min(1).max(128), agent: z.string().min(1).max(512) })
  .meta({ id: 'TaskCompletedWebhook' });

const RevokedSchema = z.object({ revoked: z.array(z.string()) }).meta({ id: 'WebhookResult' });

const signatureHeaders = z.object({
  'x-broker-signature': z
    .string()
    .meta({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">' }),
  'x-broker-delivery': z.string().meta({ description: 'Unique delivery id; a replay is refused' }),
});

function webhookRoute(path: string, operationId: string, summary: string, schema: z.ZodType) {
  return createRoute({
    method: 'post',
    path,
    operationId,
    summary,
    // Not a bearer token: the HMAC signature headers below authenticate the sender.
    security: publicSecurity,
    request: { headers: signatureHeaders, body: { content: jsonContent(schema), required: true } },
    responses: {
      200: { description: 'Leases revoked', content: jsonContent(RevokedSchema) },
      ...problemResponses(400, 401, 413, 503),
    },
  });
}

interface WebhookDeps {
  database: Database;
  clock: Clock;
  revoker: Revoker;
  webhookSecret: string | undefined;
}

/**
 * Checks the signature (before anything else looks at the body), parses the body, and returns
 * the delivery claim to run inside the revocation's transaction: if revoking fails, the claim
 * rolls back with it and the sender's retry is accepted.
 */
async function authenticatedBody<T extends z.ZodType>(
  c: Context<AppEnv>,
  deps: WebhookDeps,
  schema: T,
): Promise<{ body: z.infer<T>; claim: (tx: DbOrTx) => Promise<void> }> {
  if (!deps.webhookSecret)
    throw problems.unavailable('webhooks are disabled: WEBHOOK_SECRET is not set', { retryAfterSeconds: 3600 });
  const secret = deps.webhookSecret;
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const now = deps.clock.now();
  const call = {
    signature: c.req.header('x-broker-signature'),
    deliveryId: c.req.header('x-broker-delivery'),
    rawBody: raw,
  };
  verifyWebhookSignature({ secret, header: call.signature, rawBody: raw, now });
  const claim = async (tx: DbOrTx) => {
    await authenticateWebhook(tx, call, { secret, now });
  };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    throw problems.badRequest('the request body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw problems.validation('the webhook body is invalid', { errors: zodFieldErrors(parsed.error) });
  return { body: parsed.data, claim };
}

export function registerWebhookRoutes(app: App, deps: WebhookDeps) {
  const anomaly = webhookRoute(
    '/v1/webhooks/anomaly',
    'reportAnomaly',
    'Report an anomaly: revoke the named leases',
    AnomalySchema,
  );
  app.openAPIRegistry.registerPath(anomaly);
  app.post(anomaly.path, async (c) => {
    const { body, claim } = await authenticatedBody(c, deps, AnomalySchema);
    const filter: RevocationFilter =
      body.lease_id !== undefined
        ? { leaseIds: [body.lease_id.toLowerCase()] }
        : body.agent !== undefined
          ? { agent: body.agent }
          : { taskId: body.task_id! };
    const reason = `anomaly (${body.severity}): ${body.reason}`;
    const revoked = await deps.revoker.revoke(filter, reason, 'webhook:anomaly', c.get('requestId'), claim);
    return c.json({ revoked }, 200);
  });

  const completed = webhookRoute(
    '/v1/webhooks/task-completed',
    'reportTaskCompleted',
    "A task finished: revoke that task's leases",
    TaskCompletedSchema,
  );
  app.openAPIRegistry.registerPath(completed);
  app.post(completed.path, async (c) => {
    const { body, claim } = await authenticatedBody(c, deps, TaskCompletedSchema);
    const revoked = await deps.revoker.revoke(
      { taskId: body.task_id, agent: body.agent },
      'task completed',
      'webhook:task-completed',
      c.get('requestId'),
      claim,
    );
    return c.json({ revoked }, 200);
  });
}
