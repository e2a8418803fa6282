// Shared set-up for the postgres provider tests: templates, issue inputs, a provider whose logs are
// captured, and clients that connect with a minted credential.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import postgres from 'postgres';
import { createLogger } from '../../../src/logger.js';
import type { PostgresTemplate } from '../../../src/providers/templates.js';
import type { Intent } from '../../../src/core/intent.js';
import {
  createPostgresProvider,
  type PgGrant,
  type PostgresProvider,
} from '../../../src/providers/postgres/index.js';
import type { IssueInput, PostgresCredential } from '../../../src/providers/types.js';

export function pgTemplate(overrides: Partial<PostgresTemplate> = {}): PostgresTemplate {
  return {
    name: 'orders-db',
    provider: 'postgres',
    target: 'orders',
    privileges: { SELECT: ['public.orders', 'public.customers'], INSERT: ['public.orders'] },
    connection_limit: 3,
    default_ttl: 300,
    max_ttl: 1800,
    ...overrides,
  };
}

export function intent(actions: string[], resources: string[] = []): Intent {
  return { taskId: 't-42', purpose: 'monthly report', actions, resources };
}

/** The grant scope() gives for this intent; fails the test when it is denied. */
export function grantFor(
  provider: PostgresProvider,
  template: PostgresTemplate,
  actions: string[],
  resources: string[] = [],
): PgGrant {
  const scoped = provider.scope(template, intent(actions, resources));
  if (!scoped.ok) throw new Error(`unexpectedly denied: ${scoped.reason}`);
  return scoped.grant;
}

export function issueInput(
  template: PostgresTemplate,
  grant: PgGrant,
  options: { leaseId?: string; expiresAt?: Date } = {},
): IssueInput<PostgresTemplate, PgGrant> {
  const issuedAt = new Date();
  return {
    leaseId: options.leaseId ?? randomUUID(),
    template,
    grant,
    agent: { subject: 'system:serviceaccount:reports:agent', issuer: 'k8s-prod' },
    onBehalfOf: undefined,
    taskId: 't-42',
    issuedAt,
    expiresAt: options.expiresAt ?? new Date(issuedAt.getTime() + 300_000),
  };
}

export interface CapturedProvider {
  provider: PostgresProvider;
  /** Every log line the provider wrote, raw JSON. */
  logs: string[];
}

export function providerFor(targetUrls: Record<string, string>, rolePrefix: string): CapturedProvider {
  const logs: string[] = [];
  const logger = createLogger('trace', { write: (line: string) => void logs.push(line) });
  return { provider: createPostgresProvider({ targetUrls, logger, rolePrefix }), logs };
}

/** A client that logs in with the minted credential (one connection, so a session is one backend). */
export function connectAs(credential: PostgresCredential): postgres.Sql {
  return postgres(credential.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
}

export async function roleExists(sql: postgres.Sql, role: string): Promise<boolean> {
  const rows = await sql`select 1 from pg_roles where rolname = ${role}`;
  return rows.length > 0;
}

/** A port nothing listens on right now: bound on 127.0.0.1, then released. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
