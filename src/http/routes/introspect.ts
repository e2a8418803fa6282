// RFC 7662 token introspection for JWTs this broker minted. A token is active only while its
// lease is: once revoked or expired, the answer is `{ "active": false }` and nothing else.

import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { UUID_PATTERN } from '../../core/ids.js';
import type { Database } from '../../db/client.js';
import { problems } from '../../problem.js';
import { TXN_TOKEN_TYP } from '../../providers/jwt/jwt-provider.js';
import type { KeyStore } from '../../providers/jwt/key-store.js';
import type { App } from '../env.js';
import { jsonContent, problemResponses } from '../openapi-common.js';
import { unsupportedMediaType } from '../problem-response.js';

const IntrospectionRequest = z.strictObject({
  token: z.string().min(1).max(16_384),
  token_type_hint: z.string().max(64).optional(),
});

/** RFC 8693 §4.1: the current actor, and nested inside it each actor before it in the chain. */
type Act = { sub: string; act?: Act };
const ActSchema: z.ZodType<Act> = z
  .object({
    sub: z.string(),
    get act() {
      return ActSchema.optional();
    },
  })
  .meta({ id: 'ActorClaim' });

const IntrospectionResponse = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    token_type: z.string().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    iss: z.string().optional(),
    exp: z.number().optional(),
    iat: z.number().optional(),
    jti: z.string().optional(),
    task_id: z.string().optional(),
    act: ActSchema.optional(),
  })
  .meta({ id: 'Introspection' });

const route = createRoute({
  method: 'post',
  path: '/v1/introspect',
  summary: 'RFC 7662 introspection of broker-minted JWTs',
  request: {
    body: {
      content: {
        'application/x-www-form-urlencoded': { schema: IntrospectionRequest },
        'application/json': { schema: IntrospectionRequest },
      },
      required: true,
    },
  },
  responses: {
    200: { description: 'Token state', content: jsonContent(IntrospectionResponse) },
    ...problemResponses(400, 413, 415, 503),
  },
});

async function readToken(
  contentType: string,
  req: { parseBody(): Promise<Record<string, unknown>>; json(): Promise<unknown> },
) {
  const raw = contentType.includes('application/json')
    ? await req.json().catch(() => undefined)
    : await req.parseBody();
  const parsed = IntrospectionRequest.safeParse(raw);
  if (!parsed.success)
    throw problems.badRequest('send the token as `token=` (form) or {"token": "..."} (JSON)');
  return parsed.data.token;
}

export function registerIntrospectionRoute(
  app: App,
  deps: { keyStore: KeyStore; database: Database; clock: Clock },
) {
  // Registered by hand (not app.openapi) so both form and JSON bodies are read the same way.
  app.openAPIRegistry.registerPath(route);
  app.post('/v1/introspect', async (c) => {
    const contentType = c.req.header('content-type') ?? '';
    if (!/application\/(json|x-www-form-urlencoded)/.test(contentType)) {
      throw unsupportedMediaType(['application/x-www-form-urlencoded', 'application/json']);
    }
    const token = await readToken(contentType, c.req);
    const inactive = () => c.json({ active: false }, 200);
    // Transaction tokens are leases too: introspection tells their holders when one is revoked.
    const claims = await deps.keyStore.verify(token, ['JWT', TXN_TOKEN_TYP]);
    if (!claims || typeof claims.jti !== 'string' || !UUID_PATTERN.test(claims.jti)) return inactive();
    const now = deps.clock.now();
    const [lease] = await deps.database.db.execute<{ state: string; expires_at: Date | string }>(
      sql`select state, expires_at from leases where id = ${claims.jti}::uuid and provider = 'jwt'`,
    );
    if (!lease || lease.state !== 'active' || new Date(lease.expires_at).getTime() <= now.getTime())
      return inactive();
    const exp = Math.min(
      claims.exp ?? Number.POSITIVE_INFINITY,
      Math.floor(new Date(lease.expires_at).getTime() / 1000),
    );
    return c.json(
      {
        active: true,
        // Only the broker's transaction tokens carry `txn`: they are not bearer access tokens.
        token_type: typeof claims.txn === 'string' ? 'N_A' : 'Bearer',
        scope: typeof claims.scope === 'string' ? claims.scope : undefined,
        sub: claims.sub,
        aud: claims.aud,
        iss: claims.iss,
        exp,
        iat: claims.iat,
        jti: claims.jti,
        task_id: typeof claims.task_id === 'string' ? claims.task_id : undefined,
        act: claims.act as Act | undefined,
      },
      200,
    );
  });
}
