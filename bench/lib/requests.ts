// A closed-loop load of distinct requests (each item its own URL or body), for what autocannon's
// fixed request per connection cannot express: revoking a list of leases one by one.
import { type LatencySummary, round, summarize } from './stats.js';

export interface RequestsResult {
  count: number;
  concurrency: number;
  seconds: number;
  /** Successful requests per second over the whole run. */
  throughput: number;
  ok: number;
  failed: number;
  /** Status (or error name) of failed requests → count. */
  failures: Record<string, number>;
  latencyMs: LatencySummary;
}

/** Runs `send(item)` for every item, `concurrency` at a time; a request is ok when `send` resolves true. */
export async function runRequests<T>(
  items: readonly T[],
  concurrency: number,
  send: (item: T) => Promise<true | string>,
): Promise<RequestsResult> {
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const t = performance.now();
        let outcome: true | string;
        try {
          outcome = await send(item);
        } catch (error) {
          outcome = error instanceof Error ? error.name : 'error';
        }
        if (outcome === true) latencies.push(performance.now() - t);
        else failures[outcome] = (failures[outcome] ?? 0) + 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return {
    count: items.length,
    concurrency,
    seconds: round(seconds, 3),
    throughput: round(latencies.length / seconds, 1),
    ok: latencies.length,
    failed,
    failures,
    latencyMs: summarize(latencies),
  };
}
