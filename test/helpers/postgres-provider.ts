// Shared set-up for the postgres provider tests: templates, issue inputs, a provider whose logs are
// captured, clients that connect with a minted credential, and the harness that owns them per file.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Intent } from '../../src/core/intent.js';
import { createLogger } from '../../src/logger.js';
import {
  createPostgresProvider,
  type PgGrant,
  type PostgresProvider,
} from '../../src/providers/postgres/index.js';
import type { PostgresTemplate } from '../../src/providers/templates.js';
import type { IssueInput, PostgresCredential } from '../../src/providers/types.js';
import { createTargetDatabase, type TargetDatabase } from './target-db.js';

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

export interface PostgresProviderHarness {
  /** The target database (set in beforeAll). */
  readonly target: TargetDatabase;
  /** The provider under test, pointed at the target as database "orders" (set in beforeAll). */
  readonly captured: CapturedProvider;
  /** A client logged in with the credential; closed after each test. */
  client(credential: PostgresCredential): postgres.Sql;
  /** Closes the clients opened so far (before dropping a database they are logged in to). */
  closeClients(): Promise<void>;
}

export interface PostgresProviderHarnessOptions {
  /** Where the target lives (default: a fresh database on the machine's PostgreSQL). */
  createTarget?: () => Promise<TargetDatabase>;
  /** The admin URL the provider uses (default: the target's superuser URL). */
  adminUrl?: (target: TargetDatabase) => string;
  /** Runs after the provider is closed and the target dropped (e.g. stop a server). */
  afterDrop?: () => Promise<void>;
}

/**
 * Registers the file's hooks: a target database and a provider on it before all tests, the
 * clients a test opened closed after it, provider and target gone after all.
 */
export function usePostgresProviderHarness(
  options: PostgresProviderHarnessOptions = {},
): PostgresProviderHarness {
  let target: TargetDatabase | undefined;
  let captured: CapturedProvider | undefined;
  const clients: postgres.Sql[] = [];
  beforeAll(async () => {
    target = await (options.createTarget ?? (() => createTargetDatabase()))();
    captured = providerFor({ orders: options.adminUrl?.(target) ?? target.url }, target.rolePrefix);
  });
  const closeClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.end({ timeout: 1 })));
  };
  afterEach(closeClients);
  afterAll(async () => {
    await captured?.provider.close();
    await target?.drop();
    await options.afterDrop?.();
  });
  return {
    get target() {
      if (target === undefined) throw new Error('the target database is made in beforeAll');
      return target;
    },
    get captured() {
      if (captured === undefined) throw new Error('the provider is made in beforeAll');
      return captured;
    },
    client(credential) {
      const c = connectAs(credential);
      clients.push(c);
      return c;
    },
    closeClients,
  };
}
