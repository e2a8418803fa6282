// Liveness, readiness and Prometheus metrics.
import { createRoute } from '@hono/zod-openapi';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { migrationsCurrent } from '../../db/migrate.js';
import type { Metrics } from '../../metrics.js';
import type { PolicyStore } from '../../policy/policy-store.js';
import { problems } from '../../problem.js';
import type { App } from '../env.js';
import { jsonContent, problemResponses, publicSecurity, refusalResponses } from '../openapi-common.js';

const ReadySchema = z
  .object({ status: z.literal('ready'), policy_version: z.string(), migrations: z.number().int() })
  .meta({ id: 'Readiness' });

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'getHealth',
  summary: 'The process is up',
  security: publicSecurity,
  responses: {
    200: { description: 'Up', content: jsonContent(z.object({ status: z.literal('ok') })) },
    ...refusalResponses,
  },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'getReadiness',
  summary: 'Database reachable, migrations applied, policies loaded',
  security: publicSecurity,
  responses: {
    200: { description: 'Ready', content: jsonContent(ReadySchema) },
    ...refusalResponses,
    ...problemResponses(503),
  },
});

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  operationId: 'getMetrics',
  summary: 'Prometheus metrics',
  security: publicSecurity,
  responses: {
    200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    ...refusalResponses,
  },
});

export function registerHealthRoutes(
  app: App,
  deps: { database: Database; policies: PolicyStore; metrics: Metrics; migrationTags: readonly string[] },
) {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));

  app.openapi(readyz, async (c) => {
    let current = false;
    try {
      current = await migrationsCurrent(deps.database.sql, deps.migrationTags);
    } catch (error) {
      throw problems.unavailable('the database is unreachable', { retryAfterSeconds: 5, cause: error });
    }
    if (!current) throw problems.unavailable('database migrations are not applied', { retryAfterSeconds: 5 });
    return c.json(
      {
        status: 'ready' as const,
        policy_version: deps.policies.current().version,
        migrations: deps.migrationTags.length,
      },
      200,
    );
  });

  app.openapi(metricsRoute, async (c) => {
    const body = await deps.metrics.registry.metrics();
    return c.text(body, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });
}
