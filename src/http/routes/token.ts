// POST /v1/token: the OAuth 2.0 token endpoint (token exchange, jwt-bearer, CIBA polls). Form in,
// OAuth JSON out; its errors are rendered by renderOAuthError, never as problem+json.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import { parseTokenForm } from '../../oauth/form.js';
import { TOKEN_PATH } from '../../oauth/metadata.js';
import { handleTokenRequest } from '../../oauth/token-endpoint.js';
import type { TokenEndpointDeps } from '../../oauth/token-types.js';
import { GRANT_TYPES } from '../../oauth/vocabulary.js';
import type { App } from '../env.js';
import { jsonContent, publicSecurity } from '../openapi-common.js';
import { idempotencyKey, idempotencyKeyParameter } from './credentials.js';

const TokenRequestSchema = z
  .object({
    grant_type: z.enum(GRANT_TYPES),
    subject_token: z
      .string()
      .optional()
      .meta({ description: 'The workload identity JWT, or (with actor_token) a broker token' }),
    subject_token_type: z.string().optional(),
    actor_token: z
      .string()
      .optional()
      .meta({ description: "A sub-agent's workload identity JWT (delegation)" }),
    actor_token_type: z.string().optional(),
    assertion: z.string().optional().meta({ description: 'jwt-bearer: the workload identity JWT' }),
    auth_req_id: z
      .string()
      .optional()
      .meta({ description: 'CIBA poll: the auth_req_id of authorization_pending' }),
    resource: z.string().optional(),
    audience: z.string().optional(),
    scope: z.string().optional(),
    authorization_details: z
      .string()
      .optional()
      .meta({ description: 'JSON: [{ "type": "task_intent", ... }]' }),
    requested_token_type: z.string().optional(),
    client_id: z.string().optional(),
  })
  .meta({ id: 'TokenRequest' });

const TaskIntentSchema = z
  .object({
    type: z.literal('task_intent'),
    task_id: z.string(),
    purpose: z.string(),
    actions: z.array(z.string()),
    resources: z.array(z.string()),
    template: z.string(),
  })
  .meta({ id: 'TaskIntentDetail' });

const TokenResponseSchema = z
  .object({
    access_token: z.string(),
    issued_token_type: z.string(),
    token_type: z.enum(['Bearer', 'N_A']),
    expires_in: z.number().int(),
    scope: z.string(),
    task_id: z.string(),
    lease_id: z.string(),
    authorization_details: z.array(TaskIntentSchema),
  })
  .meta({ id: 'TokenResponse' });

const OAuthErrorSchema = z
  .object({
    error: z.string(),
    error_description: z.string(),
    policies: z.array(z.string()).optional(),
    reasons: z.array(z.string()).optional(),
    auth_req_id: z.string().optional(),
    interval: z.number().int().optional(),
    expires_in: z.number().int().optional(),
    /** Over a broker.yaml limit (429): which one, its value and, for a template's own cap, the template. */
    limit: z.string().optional(),
    limit_value: z.number().int().optional(),
    template: z.string().optional(),
    request_id: z.string().optional(),
  })
  .meta({ id: 'OAuthError' });

const oauthError = (description: string) => ({ description, content: jsonContent(OAuthErrorSchema) });

const route = createRoute({
  method: 'post',
  path: TOKEN_PATH,
  operationId: 'requestToken',
  summary: 'OAuth 2.0 token endpoint: token exchange, jwt-bearer, CIBA poll',
  // No bearer token: the workload proves itself with the identity token inside the form.
  security: publicSecurity,
  parameters: [idempotencyKeyParameter],
  request: {
    body: {
      content: { 'application/x-www-form-urlencoded': { schema: TokenRequestSchema } },
      required: true,
    },
  },
  responses: {
    200: { description: 'Token issued', content: jsonContent(TokenResponseSchema) },
    400: oauthError('OAuth error (RFC 6749 §5.2), including CIBA authorization_pending and slow_down'),
    403: oauthError('access_denied: denied by policy (names the deciding policies)'),
    413: oauthError('invalid_request: body over 64 KiB'),
    429: oauthError(
      'temporarily_unavailable: over a broker.yaml limit (`limit` names it; Retry-After says when to retry)',
    ),
    503: oauthError('temporarily_unavailable'),
  },
});

export function registerTokenRoute(app: App, deps: { tokenEndpoint: TokenEndpointDeps }) {
  // Registered by hand (not app.openapi): the form is read once, with duplicate parameters refused.
  app.openAPIRegistry.registerPath(route);
  app.post(TOKEN_PATH, async (c) => {
    const form = parseTokenForm(c.req.header('content-type'), await c.req.text());
    const response = await handleTokenRequest(deps.tokenEndpoint, {
      form,
      idempotencyKey: idempotencyKey(c.req.header('idempotency-key')),
      requestId: c.get('requestId'),
    });
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    return c.json(response, 200);
  });
}
