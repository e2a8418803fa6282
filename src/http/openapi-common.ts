// Schemas and response descriptions shared by the route files and the OpenAPI document.
import { z } from 'zod';
import { LEASE_STATES } from '../db/schema/index.js';
import { PROBLEM_CATALOGUE, PROBLEM_TYPE_PREFIX, type ProblemType } from '../problem.js';
import { PROBLEM_CONTENT_TYPE } from './problem-response.js';

const PROBLEM_TYPE_URIS = (Object.keys(PROBLEM_CATALOGUE) as ProblemType[]).map(
  (type) => `${PROBLEM_TYPE_PREFIX}${type}`,
);

export const ProblemSchema = z
  .object({
    type: z
      .enum(PROBLEM_TYPE_URIS as [string, ...string[]])
      .meta({ description: "One of the broker's problem types (closed list); the title is fixed per type" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    request_id: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    policies: z.array(z.string()).optional(),
    reasons: z.array(z.string()).optional(),
  })
  .meta({ id: 'Problem' });

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request or failed validation',
  401: 'Missing or invalid bearer token / webhook signature',
  403: 'Denied by policy (names the deciding policies and reasons)',
  404: "No such resource (or not the caller's)",
  409: 'The resource is not in a state that allows this',
  413: 'Request body over 64 KiB',
  415: 'Body sent with a Content-Type the route does not read',
  422: 'Well-formed but unprocessable request',
  429: 'Over a broker.yaml limit (`limit` names it; Retry-After says when to retry)',
  502: 'The provider refused or failed',
  503: 'A dependency (database, provider, identity provider) is unavailable',
};

export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
      },
    ]),
  );
}

export function jsonContent<T extends z.ZodType>(schema: T) {
  return { 'application/json': { schema } };
}

/** Path ids are plain strings so that a malformed id is a 404 like any unknown id. */
export const LeaseIdParam = z.object({ id: z.string().max(128).meta({ description: 'Lease id (uuid)' }) });

export const LeaseSchema = z
  .object({
    lease_id: z.string(),
    state: z.enum(LEASE_STATES),
    template: z.string(),
    task_id: z.string(),
    agent: z.string(),
    expires_at: z.string(),
    revoked_at: z.string().nullable(),
    revoke_reason: z.string().nullable(),
    provider: z.string().meta({ description: 'jwt, postgres or aws_sts' }),
    issued_at: z.string().nullable().meta({ description: 'When the credential was handed out; null before' }),
    intent: z
      .object({
        task_id: z.string(),
        purpose: z.string(),
        actions: z.array(z.string()),
        resources: z.array(z.string()),
      })
      .meta({ description: 'The intent as granted: what the credential is scoped to' }),
  })
  .meta({ id: 'Lease' });

export const CredentialSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('jwt'), token: z.string(), expires_at: z.string() }),
    z.object({
      type: z.literal('postgres'),
      username: z.string(),
      password: z.string(),
      host: z.string(),
      port: z.number().int(),
      database: z.string(),
      url: z.string(),
      expires_at: z.string(),
    }),
    z.object({
      type: z.literal('aws_sts'),
      access_key_id: z.string(),
      secret_access_key: z.string(),
      session_token: z.string(),
      expires_at: z.string(),
      region: z.string(),
      env: z.record(z.string(), z.string()),
    }),
  ])
  .meta({ id: 'Credential' });

export const IssuedSchema = z
  .object({
    lease_id: z.string(),
    template: z.string(),
    expires_at: z.string(),
    credential: CredentialSchema,
  })
  .meta({ id: 'IssuedCredential' });

export const PendingSchema = z
  .object({ approval_id: z.string(), status: z.literal('pending'), lease_id: z.string() })
  .meta({ id: 'PendingApproval' });

export const bearerSecurity = [{ workloadToken: [] }];
export const staffSecurity = [{ staffToken: [] }];
/** A route anyone may call says so (`security: []`), so that an SDK never attaches a token to it. */
export const publicSecurity: [] = [];

/**
 * For routes whose only refusals are generic (a method the path does not serve, an unknown
 * path below it): whatever is refused is a problem document.
 */
export const refusalResponses = {
  '4XX': {
    description: 'Refused; the body is a problem document',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
  },
};
