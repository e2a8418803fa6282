// The expiry sweep. node-cron ticks every SWEEP_INTERVAL_SECONDS; the work is claimed from
// PostgreSQL with FOR UPDATE SKIP LOCKED, so any number of replicas share it without overlap.
// Tests call sweep() directly with a moved clock instead of waiting for a tick.
import { sql } from 'drizzle-orm';
import cron, { type ScheduledTask } from 'node-cron';
import { reportRefusedRows } from '../audit/audit-alarms.js';
import { sealAuditLog } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { type BrokerInstance, claimedByDeadInstance } from '../db/broker-instance.js';
import type { Database } from '../db/client.js';
import { pruneFinishedLeases } from '../leases/retention.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { pruneDeliveries } from '../webhooks/delivery-store.js';
import type { Revoker } from './revoker.js';

const BATCH = 1000;
/**
 * Audit rows sealed per transaction, and how long one sweep keeps sealing. Small batches keep each
 * stretch of hashing on the event loop short (5,000 rows at once held requests for ~100 ms).
 */
const SEAL_BATCH = 500;
const SEAL_BUDGET_MS = 2000;
/** Retention deletes at most this many batches of each kind per sweep; the next tick continues. */
const PRUNE_BATCHES = 10;
/** A lease still `issuing` after this long was abandoned mid-issue (crash, lost connection). */
const ISSUE_GRACE_SECONDS = 120;

export interface SweepReport {
  expired: number;
  abandoned: number;
  retried: number;
  sealed: number;
  /** Rows deleted by retention: finished leases and old webhook delivery ids. */
  pruned: { leases: number; deliveries: number };
  extra: Record<string, number>;
}

/** Additional periodic work (approval expiry, orphan reconciliation, key refresh). */
export type SweepTask = (now: Date) => Promise<number>;

export interface SweeperDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  revoker: Revoker;
  /** This process's liveness lock, refreshed every tick. */
  instance: BrokerInstance;
  intervalSeconds: number;
  /** How long finished leases and accepted webhook delivery ids are kept. */
  retention: { leaseSeconds: number; deliverySeconds: number };
  /** Further periodic work, by name (approval expiry, provider reconciliation, key refresh). */
  tasks?: Readonly<Record<string, SweepTask>>;
  /** How long one sweep keeps sealing the audit backlog (default SEAL_BUDGET_MS). */
  sealBudgetMs?: number;
}

export class Sweeper {
  #task: ScheduledTask | undefined;
  #running: Promise<SweepReport> | undefined;

  constructor(private readonly deps: SweeperDeps) {}

  start(): void {
    const seconds = this.deps.intervalSeconds;
    // node-cron's six-field form has a seconds field; longer intervals fall back to minutes.
    const expression =
      seconds < 60 ? `*/${seconds} * * * * *` : `0 */${Math.max(1, Math.round(seconds / 60))} * * * *`;
    const tick = () => {
      void this.sweep().catch((error) => this.deps.logger.error({ err: error }, 'sweep failed'));
    };
    this.#task = cron.schedule(expression, tick);
    // At once, not at the first tick: a restarted broker takes over a dead one's work right away.
    tick();
  }

  async stop(): Promise<void> {
    await this.#task?.stop();
    this.#task = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One pass. Overlapping ticks share the pass that is already running. */
  sweep(): Promise<SweepReport> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(): Promise<SweepReport> {
    const { revoker, clock } = this.deps;
    const report: SweepReport = {
      expired: 0,
      abandoned: 0,
      retried: 0,
      sealed: 0,
      pruned: { leases: 0, deliveries: 0 },
      extra: {},
    };
    const now = clock.now();
    await this.deps.instance.heartbeat();
    await this.recordLag(now);

    for (;;) {
      const rows = await revoker.mark({
        filter: sql`expires_at <= ${now.toISOString()}::timestamptz`,
        outcome: 'expired',
        reason: 'ttl expired',
        actor: 'sweeper',
        requestId: undefined,
        skipLocked: true,
        limit: BATCH,
        states: ['active'],
      });
      await revoker.confirm(rows);
      report.expired += rows.length;
      if (rows.length < BATCH) break;
    }

    const abandonedBefore = new Date(now.getTime() - ISSUE_GRACE_SECONDS * 1000);
    const abandoned = await revoker.mark({
      // A dead instance's issue is abandoned now; one without a claim (or a live instance's that
      // hangs) after the grace period.
      filter: sql`(created_at <= ${abandonedBefore.toISOString()}::timestamptz or ${claimedByDeadInstance(sql`claimed_by`)})`,
      outcome: 'issue_failed',
      reason: 'issue did not complete',
      actor: 'sweeper',
      requestId: undefined,
      skipLocked: true,
      limit: BATCH,
      states: ['issuing'],
    });
    await revoker.confirm(abandoned);
    report.abandoned = abandoned.length;

    report.retried = await revoker.retryDue(BATCH);
    for (const [name, task] of Object.entries(this.deps.tasks ?? {})) {
      try {
        report.extra[name] = await task(now);
      } catch (error) {
        this.deps.logger.warn({ err: error, task: name }, 'sweep task failed');
      }
    }
    report.pruned = await this.prune(now);
    report.sealed = await this.seal();
    const pruned = report.pruned.leases + report.pruned.deliveries;
    if (report.expired + report.abandoned + report.retried + pruned > 0)
      this.deps.logger.info({ ...report }, 'sweep');
    return report;
  }

  private async prune(now: Date): Promise<SweepReport['pruned']> {
    const { db } = this.deps.database;
    const { leaseSeconds, deliverySeconds } = this.deps.retention;
    const leasesBefore = new Date(now.getTime() - leaseSeconds * 1000);
    const deliveriesBefore = new Date(now.getTime() - deliverySeconds * 1000);
    const pruned = { leases: 0, deliveries: 0 };
    for (let i = 0; i < PRUNE_BATCHES; i++) {
      const n = await pruneFinishedLeases(db, leasesBefore, BATCH);
      pruned.leases += n;
      if (n < BATCH) break;
    }
    for (let i = 0; i < PRUNE_BATCHES; i++) {
      const n = await pruneDeliveries(db, deliveriesBefore, BATCH);
      pruned.deliveries += n;
      if (n < BATCH) break;
    }
    return pruned;
  }

  /**
   * Seals batch after batch until the backlog is gone: at a few thousand decisions a second, one
   * batch per tick would fall further behind every tick. Bounded in time so a huge backlog (after
   * an outage) cannot hold the sweep; the next tick continues.
   */
  private async seal(): Promise<number> {
    const deadline = performance.now() + (this.deps.sealBudgetMs ?? SEAL_BUDGET_MS);
    let sealed = 0;
    for (;;) {
      const n = await sealAuditLog(this.deps.database.sql, {
        batchSize: SEAL_BATCH,
        onRefused: reportRefusedRows(this.deps.logger, this.deps.metrics),
      });
      sealed += n;
      if (n < SEAL_BATCH || performance.now() >= deadline) return sealed;
    }
  }

  private async recordLag(now: Date): Promise<void> {
    const [row] = await this.deps.database.db.execute<{ oldest: Date | string | null }>(
      sql`select min(expires_at) as oldest from leases where state = 'active' and expires_at <= ${now.toISOString()}::timestamptz`,
    );
    const oldest = row?.oldest ? new Date(row.oldest) : undefined;
    this.deps.metrics.sweeperLag.set(oldest ? (now.getTime() - oldest.getTime()) / 1000 : 0);
  }
}
