// RFC 7662 token introspection for JWTs this broker minted. A token is active only while its
// lease is: once revoked or expired, the answer is `{ "active": false }` and nothing else. With
// `resource_servers:` in broker.yaml, callers must authenticate (§2.1) and each learns only about
// tokens minted for its own audience; without it the endpoint is open. Errors are OAuth JSON.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import type { Config } from '../../config.js';
import type { Database } from '../../db/client.js';
import {
  createResourceServerAuthenticator,
  type ResourceServerAuthenticator,
} from '../../identity/resource-server-auth.js';
import type { Logger } from '../../logger.js';
import { oauthError } from '../../oauth-error.js';
import type { ResourceServerConfig } from '../../policy-config/broker-yaml.js';
import type { PolicySet } from '../../policy/policy-set.js';
import type { PolicyStore } from '../../policy/policy-store.js';
import { TXN_TOKEN_TYP } from '../../providers/jwt/jwt-provider.js';
import type { KeyStore } from '../../providers/jwt/key-store.js';
import { jwtLeaseState } from '../../leases/lease-reads.js';
import { UUID_PATTERN } from '../../core/ids.js';
import type { App } from '../env.js';
import { jsonContent, publicSecurity } from '../openapi-common.js';

const param = (max: number) => z.string().min(1).max(max).optional();

/** The token, and the client authentication parameters of RFC 6749 §2.3.1 and RFC 7523 §2.2. */
const IntrospectionRequest = z.strictObject({
  token: z.string().min(1).max(16_384),
  token_type_hint: param(64),
  client_id: param(128),
  client_secret: param(1024),
  client_assertion_type: param(256),
  client_assertion: param(16_384),
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

const OAuthErrorSchema = z
  .object({ error: z.string(), error_description: z.string().optional() })
  .meta({ id: 'OAuthError' });

const oauthErrorContent = jsonContent(OAuthErrorSchema);

const route = createRoute({
  method: 'post',
  path: '/v1/introspect',
  operationId: 'introspectToken',
  summary: 'RFC 7662 introspection of broker-minted JWTs',
  description:
    'When broker.yaml lists `resource_servers`, the caller authenticates with HTTP Basic, client_secret_post or ' +
    "private_key_jwt, and only tokens whose `aud` is that resource server's audience are active for it. " +
    'Without the section the endpoint is open.',
  security: publicSecurity,
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
    400: { description: 'invalid_request (RFC 6749 §5.2)', content: oauthErrorContent },
    401: {
      description: 'invalid_client: the resource server did not authenticate',
      content: oauthErrorContent,
    },
    413: { description: 'invalid_request: body over 64 KiB', content: oauthErrorContent },
    415: { description: 'invalid_request: neither a form nor JSON', content: oauthErrorContent },
    503: { description: 'temporarily_unavailable', content: oauthErrorContent },
  },
});

type IntrospectionBody = z.infer<typeof IntrospectionRequest>;

async function readBody(
  contentType: string,
  req: { parseBody(opts: { all: true }): Promise<Record<string, unknown>>; json(): Promise<unknown> },
): Promise<IntrospectionBody> {
  // all: a repeated parameter arrives as an array and is refused (RFC 6749 §3.1: at most once).
  const raw = contentType.includes('application/json')
    ? await req.json().catch(() => undefined)
    : await req.parseBody({ all: true });
  const parsed = IntrospectionRequest.safeParse(raw);
  if (parsed.success) return parsed.data;
  const missingToken = typeof raw !== 'object' || raw === null || !('token' in raw);
  throw oauthError(
    400,
    'invalid_request',
    missingToken
      ? 'send the token to introspect as `token`'
      : 'the request has a malformed, repeated or unknown parameter',
    {
      cause: parsed.error,
    },
  );
}

function audienceMatches(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

export interface IntrospectionDeps {
  config: Config;
  keyStore: KeyStore;
  database: Database;
  clock: Clock;
  logger: Logger;
  policies: PolicyStore;
}

export function registerIntrospectionRoute(app: App, deps: IntrospectionDeps) {
  // One authenticator per loaded policy set: a SIGHUP that changes resource_servers takes effect.
  const authenticators = new WeakMap<PolicySet, ResourceServerAuthenticator>();
  const authenticatorFor = (set: PolicySet) => {
    let auth = authenticators.get(set);
    if (auth === undefined) {
      auth = createResourceServerAuthenticator(set.config.resource_servers, {
        policyDir: set.dir,
        clock: deps.clock,
        logger: deps.logger,
        assertionAudiences: [`${deps.config.publicUrl}/v1/introspect`, deps.config.brokerIssuer],
      });
      authenticators.set(set, auth);
    }
    return auth;
  };

  // Registered by hand (not app.openapi) so both form and JSON bodies are read the same way.
  app.openAPIRegistry.registerPath(route);
  app.post('/v1/introspect', async (c) => {
    const contentType = c.req.header('content-type') ?? '';
    if (!/application\/(json|x-www-form-urlencoded)/.test(contentType)) {
      throw oauthError(
        415,
        'invalid_request',
        'send the body as application/x-www-form-urlencoded (or application/json)',
        {
          headers: { 'Accept-Post': 'application/x-www-form-urlencoded, application/json' },
        },
      );
    }
    const body = await readBody(contentType, c.req);
    const set = deps.policies.current();
    let caller: ResourceServerConfig | undefined;
    if (set.config.resource_servers.length > 0) {
      caller = await authenticatorFor(set).authenticate({
        authorization: c.req.header('authorization'),
        ...body,
      });
    }
    const inactive = () => c.json({ active: false }, 200);
    // Transaction tokens are leases too: introspection tells their holders when one is revoked.
    const claims = await deps.keyStore.verify(body.token, ['JWT', TXN_TOKEN_TYP]);
    if (!claims || typeof claims.jti !== 'string' || !UUID_PATTERN.test(claims.jti)) return inactive();
    // A resource server learns nothing about tokens meant for another audience (not even that they exist).
    if (caller !== undefined && !audienceMatches(claims.aud, caller.audience)) return inactive();
    const now = deps.clock.now();
    const lease = await jwtLeaseState(deps.database.db, claims.jti);
    if (lease?.state !== 'active' || lease.expiresAt.getTime() <= now.getTime()) return inactive();
    const exp = Math.min(
      claims.exp ?? Number.POSITIVE_INFINITY,
      Math.floor(lease.expiresAt.getTime() / 1000),
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
