// Bearer authentication for agents (workload identity tokens) and staff (staff OIDC tokens).
import type { MiddlewareHandler } from 'hono';
import type { HumanIdentity, WorkloadIdentity } from '../../identity/types.js';
import { problems } from '../../problem.js';
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

export function staffAuth(verifiers: Verifiers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('staff', await verifiers.staff(bearerToken(c.req.header('authorization'))));
    await next();
  };
}
