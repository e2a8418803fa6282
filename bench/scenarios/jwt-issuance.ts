// JWT issuance end to end over HTTP: autocannon POSTs /v1/credentials at c=32 with a handful of
// pre-signed workload tokens; the broker verifies, decides with Cedar, signs and writes the lease
// with its audit rows. Results are absolute and as ratios to the same run's baselines.

import { agentHeaders, type BenchContext, credentialBody } from '../lib/context.js';
import { type LoadResult, runLoad } from '../lib/load.js';
import type { ServerProcess } from '../lib/processes.js';
import type { TableRow } from '../lib/report.js';
import { median, round } from '../lib/stats.js';

export interface IssuanceRun {
  load: LoadResult;
  /** Broker RSS (MiB) sampled during the measured load. */
  rss: { steadyMiB: number; maxMiB: number; samples: number };
}

/** Warm-up (not counted), then the measured load; every 201 is one lease written. */
export async function measureIssuance(
  ctx: BenchContext,
  broker: ServerProcess,
  seconds: number,
): Promise<IssuanceRun> {
  const load = {
    url: `${broker.url}/v1/credentials`,
    method: 'POST' as const,
    requestBody: credentialBody,
    headers: { 'content-type': 'application/json' },
    connectionHeaders: agentHeaders(ctx),
    connections: ctx.params.connections,
  };
  await runLoad({ ...load, durationSeconds: ctx.params.warmupSeconds });
  const stopSampling = broker.sampleRss(250);
  const result = await runLoad({ ...load, durationSeconds: seconds });
  const samples = stopSampling();
  // Steady state: the second half of the run, once heap growth has settled.
  const steady = samples.slice(Math.floor(samples.length / 2));
  return {
    load: result,
    rss: {
      steadyMiB: round(median(steady), 1),
      maxMiB: round(Math.max(...samples), 1),
      samples: samples.length,
    },
  };
}

export function issuanceRows(ctx: BenchContext, run: IssuanceRun): TableRow[] {
  const { load } = run;
  const ceiling = ctx.shared.pgCeiling?.throughput;
  const hono = ctx.shared.honoThroughput;
  const rows: TableRow[] = [
    {
      metric: 'issuances/s',
      value: load.throughput.toFixed(0),
      target: '≥ 2,000',
      met: load.throughput >= 2000,
    },
    { metric: 'p50 latency', value: `${load.latencyMs.p50} ms` },
    {
      metric: 'p99 latency',
      value: `${load.latencyMs.p99} ms`,
      target: '≤ 25 ms',
      met: load.latencyMs.p99 <= 25,
    },
    {
      metric: 'errors (non-2xx, socket, timeouts)',
      value: `${load.non2xx} / ${load.errors} / ${load.timeouts}`,
      target: '0',
      met: load.non2xx + load.errors + load.timeouts === 0,
    },
  ];
  if (ceiling !== undefined) {
    const ratio = load.throughput / ceiling;
    rows.push({
      metric: 'ratio to the PostgreSQL lease-write ceiling',
      value: `${(ratio * 100).toFixed(0)}% (of ${ceiling.toFixed(0)}/s)`,
      target: '≥ 55%',
      met: ratio >= 0.55,
    });
  }
  if (hono !== undefined) {
    rows.push({
      metric: 'ratio to bare Hono',
      value: `${((load.throughput / hono) * 100).toFixed(0)}% (of ${hono.toFixed(0)}/s)`,
    });
  }
  return rows;
}
