// A broker rate as a share of what this PostgreSQL allows, measured in the same run. The ceiling
// is measured before and again right after the broker's load, and the broker is held to their
// mean: on a small virtual machine the same ceiling moves by 2x within minutes (disk flushes,
// neighbours), and a single measurement would make the ratio say more about the moment than the
// broker.
import type { Ceiling } from './context.js';
import type { TableRow } from './report.js';
import { round } from './stats.js';

/** A ceiling measurement as the ratios use it. */
export function asCeiling(m: { throughput: number; latencyMs: { p50: number; p99: number } }): Ceiling {
  return { throughput: m.throughput, p50: m.latencyMs.p50, p99: m.latencyMs.p99 };
}

/** The mean of the measurements that exist (throughput and p99 each). */
export function meanCeiling(...measured: (Ceiling | undefined)[]): Ceiling | undefined {
  const all = measured.filter((c): c is Ceiling => c !== undefined);
  if (all.length === 0) return undefined;
  const mean = (pick: (c: Ceiling) => number) =>
    round(all.reduce((sum, c) => sum + pick(c), 0) / all.length, 2);
  return { throughput: mean((c) => c.throughput), p50: mean((c) => c.p50), p99: mean((c) => c.p99) };
}

export function describeCeiling(before: Ceiling | undefined, after: Ceiling | undefined): string {
  const parts = [
    before && `before ${before.throughput.toFixed(0)}/s`,
    after && `after ${after.throughput.toFixed(0)}/s`,
  ];
  return parts.filter(Boolean).join(', ');
}

/** The ratio row and the p99 row against a ceiling: `≥ minRatio` of its rate, p99 `≤ p99Factor ×` its p99. */
export function ceilingRows(
  what: string,
  measured: { throughput: number; p99: number },
  ceiling: { before: Ceiling | undefined; after: Ceiling | undefined },
  targets: { minRatio: number; p99Factor?: number },
): TableRow[] {
  const mean = meanCeiling(ceiling.before, ceiling.after);
  if (mean === undefined) return [{ metric: `${what} vs its ceiling`, value: 'n/a (ceiling not measured)' }];
  const ratio = measured.throughput / mean.throughput;
  const rows: TableRow[] = [
    {
      metric: `${what} vs its ceiling`,
      value: `${(ratio * 100).toFixed(0)}% of ${mean.throughput.toFixed(0)}/s (${describeCeiling(ceiling.before, ceiling.after)})`,
      target: `≥ ${Math.round(targets.minRatio * 100)}%`,
      met: ratio >= targets.minRatio,
    },
  ];
  if (targets.p99Factor !== undefined) {
    rows.push({
      metric: `${what} p99 vs the ceiling's p99`,
      value: `${measured.p99} ms vs ${mean.p99} ms (${round(measured.p99 / mean.p99, 2)}×)`,
      target: `≤ ${targets.p99Factor}×`,
      met: measured.p99 <= targets.p99Factor * mean.p99,
    });
  }
  return rows;
}
