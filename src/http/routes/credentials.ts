// POST /v1/credentials: an agent asks for a credential for one task.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { dbText } from '../../core/db-text.js';
import { intentSchema, toIntent } from '../../core/intent.js';
import type { HumanIdentity } from '../../identity/types.js';
import type { Issuance } from '../../issuance/issuance.js';
import { problems } from '../../problem.js';
import type { App } from '../env.js';
import type { Verifiers } from '../middleware/auth.js';
import {
  bearerSecurity,
  IssuedSchema,
  jsonContent,
  PendingSchema,
  problemResponses,
} from '../openapi-common.js';

export const CredentialRequestSchema = z
  .strictObject({
    template: dbText().min(1).max(64),
    intent: intentSchema,
    ttl_seconds: z.number().int().min(1).max(43_200).optional(),
    on_behalf_of: dbText()
      .min(1)
      .max(8192)
      .optional()
      .meta({ description: "The human's OIDC token (staff issuer)" }),
  })
  .meta({ id: 'CredentialRequest' });

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/*
 * The Idempotency-Key header is documented as a parameter and checked in the handler, not by a
 * `request.headers` schema: that validator copies every request header into an object (and makes
 * the Node adapter build a web Headers) on each issuance, to read one optional header.
 */
export const idempotencyKeyParameter = {
  name: 'idempotency-key',
  in: 'header' as const,
  required: false,
  schema: { type: 'string' as const, pattern: IDEMPOTENCY_KEY.source },
};

export function idempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined || IDEMPOTENCY_KEY.test(value)) return value;
  throw problems.validation('the request is invalid', {
    errors: [
      { field: 'header.idempotency-key', message: 'printable ASCII without spaces, at most 255 characters' },
    ],
  });
}

const route = createRoute({
  method: 'post',
  path: '/v1/credentials',
  operationId: 'mintCredential',
  summary: 'Request a credential scoped to a task intent',
  security: bearerSecurity,
  parameters: [idempotencyKeyParameter],
  request: {
    body: { content: jsonContent(CredentialRequestSchema), required: true },
  },
  responses: {
    201: { description: 'Credential minted', content: jsonContent(IssuedSchema) },
    202: { description: 'Step-up approval required', content: jsonContent(PendingSchema) },
    ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 502, 503),
  },
});

export function registerCredentialRoutes(app: App, deps: { issuance: Issuance; verifiers: Verifiers }) {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const key = idempotencyKey(c.req.header('idempotency-key'));
    const identity = c.get('identity');
    let onBehalfOf: HumanIdentity | undefined;
    if (body.on_behalf_of !== undefined) {
      try {
        onBehalfOf = await deps.verifiers.staff(body.on_behalf_of);
      } catch (error) {
        const detail =
          error instanceof Error && 'detail' in error
            ? String((error as { detail?: string }).detail)
            : 'invalid token';
        if ((error as { status?: number }).status === 401)
          throw problems.unauthorized(`on_behalf_of: ${detail}`, { cause: error });
        throw error;
      }
    }
    const outcome = await deps.issuance.mint({
      identity,
      templateName: body.template,
      intent: toIntent(body.intent),
      ttlSeconds: body.ttl_seconds,
      onBehalfOf,
      idempotencyKey: key,
      requestId: c.get('requestId'),
    });
    c.header('Location', `/v1/leases/${outcome.lease.id}`);
    if (outcome.status === 'pending') {
      return c.json(
        { approval_id: outcome.approvalId, status: 'pending' as const, lease_id: outcome.lease.id },
        202,
      );
    }
    return c.json(
      {
        lease_id: outcome.lease.id,
        template: outcome.lease.template,
        expires_at: outcome.lease.expiresAt.toISOString(),
        credential: outcome.credential,
      },
      201,
    );
  });
}
