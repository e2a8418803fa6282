// The composition root: builds the broker's services and HTTP app from its dependencies.
// main.ts passes the real ones; tests pass the same kinds of objects over a test database.

import { sql } from 'drizzle-orm';
import { Approvals } from './approvals/approval-service.js';
import { createApprovalNotifier } from './approvals/notifier.js';
import { deriveAuditKeys, installAuditKeys, readAuditHead, signCheckpoint } from './audit/audit-log.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { deriveConsoleSessionKey } from './console/session-key.js';
import type { Database } from './db/client.js';
import { readMigrations } from './db/migrate.js';
import { type AppDeps, createApp } from './http/app.js';
import type { App } from './http/env.js';
import { apiExtensions } from './http/extensions.js';
import type { Verifiers } from './http/middleware/auth.js';
import { ShutdownState } from './http/shutdown.js';
import { createStaffVerifier } from './identity/staff-verifier.js';
import { createWorkloadVerifier } from './identity/workload-verifier.js';
import { LeaseService } from './leases/lease-service.js';
import { reconcileOrphanRoles } from './leases/orphan-roles.js';
import { Revoker } from './leases/revocation.js';
import { Sweeper } from './leases/sweeper.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { PolicySet } from './policy/policy-set.js';
import type { PolicyStore } from './policy/policy-store.js';
import { problems } from './problem.js';
import type { KeyStore } from './providers/jwt/key-store.js';
import type { PostgresProvider } from './providers/postgres/postgres-provider.js';
import type { ProviderRegistry } from './providers/types.js';

/** Orphaned roles are rare (a crash mid-issue): looking for them once a minute is plenty. */
const ORPHAN_SWEEP_SECONDS = 60;

export interface BrokerDeps {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
  policies: PolicyStore;
  keyStore: KeyStore;
  providers: ProviderRegistry;
  metrics?: Metrics;
  /** BROKER_MASTER_KEY (or the development key main.ts made); the audit keys derive from it. */
  masterKey?: Buffer;
}

export interface Broker {
  /** main.ts begins it on SIGTERM (see src/http/shutdown.ts). */
  shutdown: ShutdownState;
  app: App;
  leases: LeaseService;
  revoker: Revoker;
  sweeper: Sweeper;
  metrics: Metrics;
  verifiers: Verifiers;
  approvals: Approvals;
}

/** A sweep task that logs a signed checkpoint of the audit head once a minute, when it moved. */
function logCheckpoints(database: Database, keyStore: KeyStore, issuer: string, logger: Logger) {
  let last: { seq: number; at: number } | undefined;
  return async (now: Date) => {
    if (last && now.getTime() - last.at < CHECKPOINT_LOG_SECONDS * 1000) return 0;
    const head = await readAuditHead(database.sql);
    if (head.seq === 0 || head.seq === last?.seq) return 0;
    const checkpoint = await signCheckpoint(keyStore, issuer, head, now);
    logger.info({ seq: head.seq, hash: head.hash, checkpoint }, 'audit checkpoint');
    last = { seq: head.seq, at: now.getTime() };
    return 0;
  };
}

/** Verifiers follow the policy set: a SIGHUP that changes issuers swaps them atomically. */
export function createVerifiers(policies: PolicyStore, clock: Clock, logger: Logger): Verifiers {
  const build = (set: PolicySet) => ({
    workload: createWorkloadVerifier(set.issuers, { policyDir: set.dir, clock, logger }),
    staff: set.staff ? createStaffVerifier(set.staff, { policyDir: set.dir, clock, logger }) : undefined,
  });
  let built = build(policies.current());
  policies.onChange((set) => {
    built = build(set);
  });
  return {
    workload: (token) => built.workload.verify(token),
    staff: (token) => {
      if (!built.staff)
        throw problems.unauthorized(
          'no staff identity provider is configured (broker.yaml has no staff: section)',
        );
      return built.staff.verify(token);
    },
  };
}

/** How often the head of the audit chain is signed into the log (when it moved). */
const CHECKPOINT_LOG_SECONDS = 60;

export async function createBroker(deps: BrokerDeps): Promise<Broker> {
  const { database, clock, logger, policies, providers } = deps;
  const masterKey = deps.masterKey ?? deps.config.masterKey;
  if (masterKey === undefined) throw new Error('createBroker: a master key is required (BROKER_MASTER_KEY)');
  installAuditKeys(deriveAuditKeys(masterKey));
  const metrics =
    deps.metrics ??
    createMetrics({
      activeLeases: async () => {
        const [row] = await database.db.execute<{ n: number }>(
          sql`select count(*)::int as n from leases where state = 'active'`,
        );
        return row?.n ?? 0;
      },
    });
  const revoker = new Revoker({ db: database.db, clock, logger, providers, policies, metrics });
  const leases = new LeaseService({ database, clock, logger, metrics, policies, providers, revoker });
  const sweeper = new Sweeper({
    database,
    clock,
    logger,
    metrics,
    revoker,
    intervalSeconds: deps.config.sweepIntervalSeconds,
  });
  sweeper.addTask('signing-keys', async () => {
    await deps.keyStore.refresh();
    return 0;
  });
  const postgres = providers.postgres as PostgresProvider | undefined;
  const targets = Object.keys(deps.config.targetUrls);
  if (postgres && targets.length > 0) {
    let lastRun = Number.NEGATIVE_INFINITY;
    sweeper.addTask('postgres-orphans', async (now) => {
      if (now.getTime() - lastRun < ORPHAN_SWEEP_SECONDS * 1000) return 0;
      lastRun = now.getTime();
      return reconcileOrphanRoles(database.db, postgres, targets, logger);
    });
  }
  const notifier = deps.config.approvalWebhookUrl
    ? createApprovalNotifier({
        url: deps.config.approvalWebhookUrl,
        secret: deps.config.webhookSecret,
        publicUrl: deps.config.publicUrl,
        clock,
        logger,
      })
    : undefined;
  const approvals = new Approvals({ database, clock, logger, metrics, policies, leases, revoker, notifier });
  approvals.install();
  sweeper.addTask('approvals', (now) => approvals.expire(now));
  sweeper.addTask(
    'audit-checkpoint',
    logCheckpoints(database, deps.keyStore, deps.config.brokerIssuer, logger),
  );
  const verifiers = createVerifiers(policies, clock, logger);
  const shutdown = new ShutdownState();
  const migrationTags = (await readMigrations()).map((m) => m.tag);
  const appDeps: AppDeps = {
    config: deps.config,
    database,
    clock,
    logger,
    metrics,
    policies,
    keyStore: deps.keyStore,
    leases,
    revoker,
    verifiers,
    migrationTags,
    approvals,
    consoleSessionKey: deriveConsoleSessionKey(deps.config.masterKey, logger),
    shutdown,
  };
  const app = createApp({ ...appDeps, extensions: apiExtensions(appDeps) });
  return { app, leases, revoker, sweeper, metrics, verifiers, approvals, shutdown };
}
