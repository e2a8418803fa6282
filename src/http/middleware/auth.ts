// Bearer authentication for agents (workload identity tokens) and staff (staff OIDC tokens).
import type { MiddlewareHandler } from 'hono';
import type { HumanIdentity, WorkloadIdentity } from '../../identity/types.js';
import { Problem, problems } from '../../problem.js';
import type { AppEnv } from '../env.js';

export interface Verifiers {
  workload(token: string): Promise<WorkloadIdentity>;
  /** Undefined when broker.yaml has no `staff:` section. */
  staff(token: string): Promise<HumanIdentity>;
}

export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') throw problems.missingCredentials();
  const match = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  if (!match) throw problems.unauthorized('the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

export function workloadAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('identity', await verifiers.workload(bearerToken(c.req.header('authorization'))));
    await next();
  };
}

/**
 * Verifies a staff token; a token that is not one but verifies as a workload identity is handed
 * to `asAgent`, and any other bad token stays a 401.
 */
function staffOr(
  verifiers: Verifiers,
  asAgent: (c: Parameters<MiddlewareHandler<AppEnv>>[0], identity: WorkloadIdentity) => void,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    try {
      c.set('staff', await verifiers.staff(token));
    } catch (error) {
      if (!(error instanceof Problem) || error.status !== 401) throw error;
      const identity = await verifiers.workload(token).catch(() => undefined);
      if (identity === undefined) throw error;
      asAgent(c, identity);
    }
    await next();
  };
}

/**
 * Staff bearer auth. An agent's valid token reaching for a reviewer's power is authenticated but
 * not allowed: 403 rather than 401.
 */
export function staffAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return staffOr(verifiers, () => {
    throw problems.forbidden('only security staff may use this route; agents may not');
  });
}

/**
 * A route that staff and agents share (GET /v1/leases): a staff token sets `staff`, else a
 * workload token sets `identity`; the route narrows what an agent sees to its own.
 */
export function staffOrAgentAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return staffOr(verifiers, (c, identity) => c.set('identity', identity));
}
