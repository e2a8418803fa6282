// Expiry lag: N active JWT leases (seeded with COPY) all expire at the same instant; the broker's
// sweeper (SWEEP_INTERVAL_SECONDS=1 here) must move every one of them to `expired`. Measured from
// the database: per lease, revoked_at − expires_at (when its sweep claimed it), and by polling, the
// wall-clock time from the expiry instant until no live lease is left.
import { randomUUID } from 'node:crypto';
import { type BenchContext, brokerFor } from '../lib/context.js';
import { sleep } from '../lib/processes.js';
import type { ScenarioResult } from '../lib/report.js';
import { seedLeases } from '../lib/seed.js';
import { round } from '../lib/stats.js';

export async function expiryLagScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { params } = ctx;
  const interval = params.sweepIntervalSeconds;
  const db = await ctx.databases.create('expiry');
  const broker = await brokerFor(ctx, db, { label: 'expiry', sweepIntervalSeconds: interval });
  try {
    const agent = `expiry-agent-${randomUUID().slice(0, 8)}`;
    const count = params.expiryLeases;
    // Far enough ahead for the seeding to finish first; whole second, like every lease expiry.
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + 8) * 1000);
    const seedSeconds = await seedLeases(db.sql, {
      count,
      state: 'active',
      template: 'reports-api',
      agent: () => agent,
      agentIssuer: 'bench',
      taskId: (i) => `expiry-task-${i % 100}`,
      createdAt: new Date(expiresAt.getTime() - 300_000),
      expiresAt: () => expiresAt,
      policyVersion: 'seeded',
    });
    await db.sql`analyze leases`;
    if (Date.now() >= expiresAt.getTime())
      throw new Error(`seeding ${count} leases took ${seedSeconds.toFixed(1)} s, past their expiry`);

    await sleep(expiresAt.getTime() - Date.now());
    const deadline = Date.now() + (interval + 30) * 1000;
    let allExpiredAfterMs = Number.NaN;
    for (;;) {
      const [row] = await db.sql<
        { n: number }[]
      >`select count(*)::int as n from leases where agent = ${agent} and state = 'active'`;
      if (row?.n === 0) {
        allExpiredAfterMs = Date.now() - expiresAt.getTime();
        break;
      }
      if (Date.now() > deadline) break;
      await sleep(50);
    }
    const [lag] = await db.sql<{ p50: number; p99: number; max: number; expired: number }[]>`
      select percentile_cont(0.5) within group (order by extract(epoch from revoked_at - expires_at))::float8 as p50,
             percentile_cont(0.99) within group (order by extract(epoch from revoked_at - expires_at))::float8 as p99,
             max(extract(epoch from revoked_at - expires_at))::float8 as max,
             count(*) filter (where state = 'expired')::int as expired
      from leases where agent = ${agent}`;
    const p99 = lag?.p99 ?? Number.NaN;
    const limit = interval + 1;
    return {
      scenario: 'expiry-lag',
      title: `Expiry lag (${count.toLocaleString('en')} leases expiring together, sweep every ${interval} s)`,
      status: 'ok',
      metrics: {
        count,
        sweepIntervalSeconds: interval,
        expired: lag?.expired,
        lagSeconds: {
          p50: round(lag?.p50 ?? Number.NaN, 3),
          p99: round(p99, 3),
          max: round(lag?.max ?? Number.NaN, 3),
        },
        allExpiredAfterSeconds: round(allExpiredAfterMs / 1000, 3),
        seedSeconds: round(seedSeconds, 2),
      },
      rows: [
        {
          metric: 'lag per lease (revoked_at − expires_at) p50 / p99',
          value: `${round(lag?.p50 ?? Number.NaN, 2)} / ${round(p99, 2)} s`,
          target: `p99 ≤ ${limit} s`,
          met: p99 <= limit,
        },
        {
          metric: 'all expired (wall clock after the expiry instant)',
          value: `${round(allExpiredAfterMs / 1000, 2)} s (${lag?.expired ?? '?'} of ${count} expired)`,
          target: `≤ ${limit} s`,
          met: allExpiredAfterMs / 1000 <= limit && lag?.expired === count,
        },
      ],
    };
  } finally {
    const code = await broker.stop();
    if (code !== 0) ctx.log(`  broker exited with ${code}`);
    await ctx.databases.drop(db);
  }
}
