// The composition root: builds the broker's services and HTTP app from its dependencies.
// main.ts passes the real ones; tests pass the same kinds of objects over a test database.

import { sql } from 'drizzle-orm';
import { Approvals } from './approvals/approval-service.js';
import { deriveAuditKeys, installAuditKeys, readAuditHead, signCheckpoint } from './audit/audit-log.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import { BrokerInstance } from './db/broker-instance.js';
import type { Database } from './db/client.js';
import { readMigrations } from './db/migrate.js';
import { type AppDeps, createApp } from './http/app.js';
import { deriveConsoleSessionKey } from './http/console/session-key.js';
import type { App } from './http/env.js';
import { apiExtensions } from './http/extensions.js';
import type { Verifiers } from './http/middleware/auth.js';
import { ShutdownState } from './http/shutdown.js';
import { createStaffVerifier } from './identity/staff-verifier.js';
import { createWorkloadVerifier } from './identity/workload-verifier.js';
import { Issuance } from './issuance/issuance.js';
import { endedLeases } from './leases/lease-reads.js';
import { LeaseWriter } from './leases/lease-writer.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { PolicySet } from './policy/policy-set.js';
import type { PolicyStore } from './policy/policy-store.js';
import { problems } from './problem.js';
import type { KeyStore } from './providers/jwt/key-store.js';
import type { ProviderRegistry } from './providers/types.js';
import { createRevokeFailedNotifier } from './revocation/revoke-failed-notifier.js';
import { Revoker } from './revocation/revoker.js';
import { Sweeper, type SweepTask } from './revocation/sweeper.js';
import { createApprovalNotifier } from './step-up/notifier.js';
import { StepUpRequests } from './step-up/step-up-requests.js';

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
  issuance: Issuance;
  revoker: Revoker;
  sweeper: Sweeper;
  /** This process's liveness lock: release it on shutdown, before closing the database. */
  instance: BrokerInstance;
  metrics: Metrics;
  verifiers: Verifiers;
  stepUp: StepUpRequests;
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
  const countLeases = async (state: string) => {
    const [row] = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from leases where state = ${state}`,
    );
    return row?.n ?? 0;
  };
  const metrics =
    deps.metrics ??
    createMetrics({
      activeLeases: () => countLeases('active'),
      revokeFailedLeases: () => countLeases('revoke_failed'),
      decisionCacheLookups: () => policies.decisionCacheLookups(),
    });
  const notifier = deps.config.approvalWebhookUrl
    ? createApprovalNotifier({
        url: deps.config.approvalWebhookUrl,
        secret: deps.config.webhookSecret,
        publicUrl: deps.config.publicUrl,
        clock,
        logger,
      })
    : undefined;
  const failureNotifier = deps.config.approvalWebhookUrl
    ? createRevokeFailedNotifier({
        url: deps.config.approvalWebhookUrl,
        // createApprovalNotifier above has refused a URL without a secret.
        secret: deps.config.webhookSecret!,
        publicUrl: deps.config.publicUrl,
        clock,
        logger,
      })
    : undefined;
  const instance = await BrokerInstance.register(database, logger);
  const stepUp = new StepUpRequests({ database, clock, logger, notifier });
  const revoker = new Revoker({
    db: database.db,
    sql: database.sql,
    clock,
    logger,
    providers,
    policies,
    metrics,
    stepUp,
    maxAttempts: deps.config.revokeMaxAttempts,
    instanceKey: instance.key,
    failureNotifier,
  });
  const issuance = new Issuance({
    database,
    clock,
    logger,
    metrics,
    policies,
    providers,
    stepUp,
    instanceKey: instance.key,
    leaseWriter: new LeaseWriter(database.sql),
  });
  const approvals = new Approvals({ database, clock, logger, metrics, policies, issuance, stepUp });
  const tasks: Record<string, SweepTask> = {
    'signing-keys': async () => {
      await deps.keyStore.refresh();
      return 0;
    },
    approvals: (now) => stepUp.expire(now),
    'audit-checkpoint': logCheckpoints(database, deps.keyStore, deps.config.brokerIssuer, logger),
  };
  for (const provider of Object.values(providers)) {
    if (!provider?.reconcile) continue;
    const reconcile = provider.reconcile.bind(provider);
    // Every tick (one catalogue query per target): nothing may outlive its lease by more than a
    // sweep interval, even when a crash came between the provider's work and the lease update.
    tasks[`${provider.kind}-reconcile`] = () => reconcile((ids) => endedLeases(database.db, ids));
  }
  const sweeper = new Sweeper({
    database,
    clock,
    logger,
    metrics,
    revoker,
    instance,
    intervalSeconds: deps.config.sweepIntervalSeconds,
    retention: {
      leaseSeconds: deps.config.leaseRetentionDays * 86_400,
      deliverySeconds: deps.config.webhookDeliveryRetentionSeconds,
    },
    tasks,
  });
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
    issuance,
    revoker,
    verifiers,
    migrationTags,
    approvals,
    consoleSessionKey: deriveConsoleSessionKey(deps.config.masterKey, logger),
    shutdown,
  };
  const app = createApp({ ...appDeps, extensions: apiExtensions(appDeps) });
  return { app, issuance, revoker, sweeper, instance, metrics, verifiers, stepUp, approvals, shutdown };
}
