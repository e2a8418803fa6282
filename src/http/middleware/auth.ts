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
 * Staff bearer auth. A token that is not a staff token but verifies as a workload identity is an
 * agent reaching for a reviewer's power: authenticated, not allowed, so 403 rather than 401. Any
 * other bad token stays a 401.
 */
export function staffAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    try {
      c.set('staff', await verifiers.staff(token));
    } catch (error) {
      if (!(error instanceof Problem) || error.status !== 401) throw error;
      const isAgent = await verifiers.workload(token).then(
        () => true,
        () => false,
      );
      if (isAgent) throw problems.forbidden('only security staff may use this route; agents may not');
      throw error;
    }
    await next();
  };
}

/**
 * A route that staff and agents share (GET /v1/leases): a staff token sets `staff`, else a
 * workload token sets `identity`; the route narrows what an agent sees to its own.
 */
export function staffOrAgentAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = bearerToken(c.req.header('authorization'));
    try {
      c.set('staff', await verifiers.staff(token));
    } catch (error) {
      if (!(error instanceof Problem) || error.status !== 401) throw error;
      const identity = await verifiers.workload(token).catch(() => undefined);
      if (identity === undefined) throw error;
      c.set('identity', identity);
    }
    await next();
  };
}
