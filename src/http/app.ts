// Assembles the HTTP API: middleware, routes, problem rendering, the OpenAPI document.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApprovalService } from '../approvals/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Issuance } from '../issuance/issuance.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { TOKEN_PATH } from '../oauth/metadata.js';
import { createTokenEndpoint } from '../oauth/token-endpoint-deps.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { Problem, problems } from '../problem.js';
import type { KeyStore } from '../providers/jwt/key-store.js';
import type { Revoker } from '../revocation/revoker.js';
import type { App, AppEnv } from './env.js';
import { staffAuth, staffOrAgentAuth, type Verifiers, workloadAuth } from './middleware/auth.js';
import { limitBody } from './middleware/body-limit.js';
import { oauthErrorShape } from './middleware/oauth-errors.js';
import { requestContext } from './middleware/request-context.js';
import { renderOAuthError } from './oauth-error-response.js';
import { renderProblem, zodFieldErrors } from './problem-response.js';
import { setResponseHeader } from './response-headers.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerCredentialRoutes } from './routes/credentials.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIntrospectionRoute } from './routes/introspect.js';
import { registerLeaseRoutes } from './routes/leases.js';
import { registerStaffLeaseRoutes } from './routes/staff-leases.js';
import { registerTokenRoute } from './routes/token.js';
import { registerWebhookRoutes } from './routes/webhooks.js';
import { registerWellKnownRoutes } from './routes/well-known.js';

export interface AppDeps {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  keyStore: KeyStore;
  issuance: Issuance;
  revoker: Revoker;
  verifiers: Verifiers;
  migrationTags: readonly string[];
  /** Step-up approvals; without it the /v1/approvals routes are not served. */
  approvals?: ApprovalService;
  /** Seals the console's session cookies (32 bytes; see src/http/console/session-key.ts). */
  consoleSessionKey?: Buffer;
  /** Further routes (approvals, console) registered by their own modules. */
  extensions?: ((app: App) => void)[];
}

export const API_VERSION = '1.0.0';

export function openApiDocument(app: App) {
  return app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'jit-broker',
      version: API_VERSION,
      description:
        'Just-in-time credential broker: workload identity + task intent + Cedar policy → short-lived, scoped credentials.',
      license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
    },
    // Relative (OpenAPI 3.1 §4.8.5): the broker that serves this document; PUBLIC_URL differs per deployment.
    servers: [{ url: '/', description: 'The broker serving this document' }],
  });
}

/** Matches a request path against the registered routes, to tell 405 from 404. */
function allowedMethods(app: App, path: string): string[] {
  const methods = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL' || route.path.includes('*')) continue;
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, '[^/]+')}$`);
    if (pattern.test(path)) methods.add(route.method);
  }
  return [...methods];
}

export function createApp(deps: AppDeps): App {
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const where = result.target === 'json' ? undefined : result.target;
        throw problems.validation('the request is invalid', { errors: zodFieldErrors(result.error, where) });
      }
    },
  });

  app.use('*', requestContext(deps.logger, deps.metrics));
  app.use('*', async (c, next) => {
    await next();
    if (!c.res.headers.has('Cache-Control')) setResponseHeader(c, 'Cache-Control', 'no-store');
    setResponseHeader(c, 'X-Content-Type-Options', 'nosniff');
  });
  app.use('/v1/introspect', oauthErrorShape());
  app.use('*', limitBody());
  // The token endpoint speaks OAuth (RFC 6749 §5.2) in every refusal, a 413 from limitBody included.
  app.onError((error, c) =>
    c.req.path === TOKEN_PATH ? renderOAuthError(c, error) : renderProblem(c, error),
  );
  app.notFound((c) => {
    const allow = allowedMethods(app, c.req.path);
    if (allow.length > 0) {
      c.header('Allow', allow.join(', '));
      return renderProblem(
        c,
        problems.methodNotAllowed(`${c.req.method} is not allowed on ${c.req.path}; use ${allow.join(', ')}`),
      );
    }
    return renderProblem(c, problems.notFound(`no route ${c.req.method} ${c.req.path}`));
  });

  app.openAPIRegistry.registerComponent('securitySchemes', 'workloadToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'A workload identity token (OIDC JWT) from a configured issuer',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'staffToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'A staff OIDC token from the staff issuer',
  });

  // Agents. Staff-only routes share some paths (GET /v1/leases), so auth is attached per route.
  const agent = workloadAuth(deps.verifiers);
  const staff = staffAuth(deps.verifiers);
  app.use('/v1/credentials', agent);
  // `/v1/leases/:id/*` matches `/v1/leases/revoke` too (a trailing /* also matches nothing), so
  // both agent patterns must step aside for the staff bulk revoke.
  const agentLease: typeof agent = async (c, next) =>
    c.req.path === '/v1/leases/revoke' ? next() : agent(c, next);
  app.use('/v1/leases/:id', agentLease);
  app.use('/v1/leases/:id/*', agentLease);
  app.use('/v1/tasks/*', agent);
  app.use('/v1/leases', staffOrAgentAuth(deps.verifiers));
  app.use('/v1/leases/revoke', staff);
  app.use('/v1/audit', staff);
  app.use('/v1/audit/*', staff);

  registerCredentialRoutes(app, deps);
  registerTokenRoute(app, {
    tokenEndpoint: createTokenEndpoint({
      ...deps,
      approvals: deps.approvals,
      txnTokenAudience: deps.config.txnTokenAudience,
    }),
  });
  registerStaffLeaseRoutes(app, deps);
  registerLeaseRoutes(app, deps);
  registerIntrospectionRoute(app, deps);
  registerWellKnownRoutes(app, deps);
  registerWebhookRoutes(app, { ...deps, webhookSecret: deps.config.webhookSecret });
  registerAuditRoutes(app, deps);
  registerHealthRoutes(app, deps);
  for (const extend of deps.extensions ?? []) extend(app);

  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get('/openapi.json', (c) => {
    document ??= openApiDocument(app);
    return c.json(document);
  });
  return app;
}
