// Scale: the same JWT issuance load with 1,000,000 live leases already in the table (seeded with
// COPY, spread over 1,000 agents and 10,000 tasks, expiring over the next hours), compared with the
// empty-table run; then the broker is restarted on that table and timed until /readyz answers 200.
import { randomUUID } from 'node:crypto';
import { type BenchContext, brokerFor } from '../lib/context.js';
import type { ScenarioResult } from '../lib/report.js';
import { seedLeases } from '../lib/seed.js';
import { round } from '../lib/stats.js';
import { measureIssuance } from './jwt-issuance.js';

export async function scaleScenarios(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { params } = ctx;
  const count = params.scaleLeases;
  const db = await ctx.databases.create('scale');
  try {
    const run = randomUUID().slice(0, 8);
    const now = new Date();
    ctx.log(`  seeding ${count.toLocaleString('en')} leases with COPY`);
    const seedSeconds = await seedLeases(db.sql, {
      count,
      state: 'active',
      template: 'reports-api',
      agent: (i) => `scale-agent-${run}-${i % 1000}`,
      agentIssuer: 'bench',
      taskId: (i) => `scale-task-${i % 10_000}`,
      createdAt: now,
      // Spread over 2..6 hours ahead: live for the whole run, and the sweeper has nothing to do.
      expiresAt: (i) => new Date(now.getTime() + 7_200_000 + (i % 14_400) * 1000),
      policyVersion: 'seeded',
    });
    await db.sql`vacuum analyze leases`;
    ctx.log(`  seeded in ${seedSeconds.toFixed(1)} s`);
    const results: ScenarioResult[] = [];

    let broker = await brokerFor(ctx, db, { label: 'scale' });
    try {
      if (ctx.selected('scale-issuance')) {
        const loaded = await measureIssuance(ctx, broker, params.loadSeconds);
        const empty = ctx.shared.emptyIssuance;
        const ratio = empty ? loaded.load.latencyMs.p50 / empty.latencyMs.p50 : Number.NaN;
        results.push({
          scenario: 'scale-issuance',
          title: `Scale: JWT issuance with ${count.toLocaleString('en')} leases in the table`,
          status: 'ok',
          metrics: {
            count,
            seedSeconds: round(seedSeconds, 2),
            load: loaded.load,
            rss: loaded.rss,
            emptyTable: empty ?? null,
            p50Ratio: round(ratio, 3),
          },
          rows: [
            {
              metric: 'issuances/s',
              value: `${loaded.load.throughput.toFixed(0)}${empty ? ` (empty table: ${empty.throughput.toFixed(0)})` : ''}`,
            },
            {
              metric: 'p50 latency vs the empty table',
              value: empty
                ? `${loaded.load.latencyMs.p50} ms vs ${empty.latencyMs.p50} ms (${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(0)}%)`
                : `${loaded.load.latencyMs.p50} ms (no empty-table run to compare)`,
              target: 'within 20%',
              met: empty ? ratio <= 1.2 : undefined,
            },
            { metric: 'p99 latency', value: `${loaded.load.latencyMs.p99} ms` },
            { metric: `COPY of ${count.toLocaleString('en')} leases`, value: `${round(seedSeconds, 1)} s` },
          ],
        });
      }
      if (ctx.selected('restart-to-ready')) {
        const code = await broker.stop();
        if (code !== 0) ctx.log(`  broker exited with ${code}`);
        broker = await brokerFor(ctx, db, { label: 'scale-restart' });
        const [live] = await db.sql<
          { n: number }[]
        >`select count(*)::int as n from leases where state = 'active'`;
        const empty = ctx.shared.emptyReadyMs;
        results.push({
          scenario: 'restart-to-ready',
          title: `Restart to ready with ${count.toLocaleString('en')} live leases`,
          status: 'ok',
          metrics: {
            liveLeases: live?.n,
            readyMs: round(broker.readyMs, 1),
            emptyTableReadyMs: empty === undefined ? null : round(empty, 1),
          },
          rows: [
            {
              metric: 'spawn of `bin/jit-broker` → first 200 from /readyz',
              value: `${round(broker.readyMs / 1000, 2)} s${empty === undefined ? '' : ` (empty table, first start: ${round(empty / 1000, 2)} s)`}`,
              target: '≤ 3 s',
              met: broker.readyMs <= 3000,
            },
          ],
        });
      }
    } finally {
      const code = await broker.stop();
      if (code !== 0) ctx.log(`  broker exited with ${code}`);
    }
    return results;
  } finally {
    await ctx.databases.drop(db);
  }
}
