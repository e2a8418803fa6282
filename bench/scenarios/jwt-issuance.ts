// JWT issuance end to end over HTTP: autocannon POSTs /v1/credentials at c=32 with a handful of
// pre-signed workload tokens; the broker verifies, decides with Cedar, signs and writes the lease
// with its audit rows. Results are absolute and as ratios to the same run's baselines.

import { ceilingRows } from '../lib/ceiling.js';
import { agentHeaders, type BenchContext, type Ceiling, credentialBody } from '../lib/context.js';
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

export function issuanceRows(
  ctx: BenchContext,
  run: IssuanceRun,
  ceilingAfter: Ceiling | undefined,
): TableRow[] {
  const { load } = run;
  const hono = ctx.shared.honoThroughput;
  const rows: TableRow[] = [
    { metric: 'issuances/s', value: load.throughput.toFixed(0) },
    { metric: 'p50 / p99 latency', value: `${load.latencyMs.p50} / ${load.latencyMs.p99} ms` },
    {
      metric: 'errors (non-2xx, socket, timeouts)',
      value: `${load.non2xx} / ${load.errors} / ${load.timeouts}`,
      target: '0',
      met: load.non2xx + load.errors + load.timeouts === 0,
    },
    ...ceilingRows(
      'issuances/s',
      { throughput: load.throughput, p99: load.latencyMs.p99 },
      { before: ctx.shared.pgCeiling, after: ceilingAfter },
      { minRatio: 0.7, p99Factor: 2 },
    ),
  ];
  if (hono !== undefined) {
    rows.push({
      metric: 'ratio to bare Hono',
      value: `${((load.throughput / hono) * 100).toFixed(0)}% (of ${hono.toFixed(0)}/s)`,
    });
  }
  return rows;
}
