// HTTP load with autocannon (programmatic), bounded by duration or request count. Each connection
// carries its own headers (a rotating set of pre-signed workload tokens). Latency is recorded per
// 2xx response at full precision.
import autocannon, { type Client } from 'autocannon';
import { type LatencySummary, round, summarize } from './stats.js';

export interface LoadOptions {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  /** Headers of connection `index` (merged over `headers`). */
  connectionHeaders?: (index: number) => Record<string, string>;
  /** Body of the n-th request of the run (instead of `body`). */
  requestBody?: (n: number) => string;
  /** Body of connection `index` (instead of `body`). */
  connectionBody?: (index: number) => string;
  connections: number;
  /** Seconds; the load stops then. */
  durationSeconds: number;
  /** A response body that fails this is counted in `mismatches`. */
  verifyBody?: (body: string) => boolean;
  /** Every response body, with the index of its connection. */
  onBody?: (connection: number, body: Buffer) => void;
}

export interface LoadResult {
  connections: number;
  durationSeconds: number;
  /** 2xx responses per second over the whole run. */
  throughput: number;
  responses2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  statusCodes: Record<string, number>;
  latencyMs: LatencySummary;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let connection = 0;
  let sent = 0;
  const requestBody = opts.requestBody;
  const instance = autocannon({
    url: opts.url,
    method: opts.method,
    body: opts.body,
    headers: opts.headers ?? {},
    connections: opts.connections,
    duration: opts.durationSeconds,
    timeout: 10,
    verifyBody: opts.verifyBody,
    ...(requestBody
      ? {
          requests: [
            {
              setupRequest: (request: Record<string, unknown>) => ({ ...request, body: requestBody(sent++) }),
            },
          ],
        }
      : {}),
    setupClient: (client: Client) => {
      const index = connection++;
      const headers = { ...opts.headers, ...opts.connectionHeaders?.(index) };
      if (opts.connectionBody) client.setHeadersAndBody(headers, opts.connectionBody(index));
      else if (opts.connectionHeaders) client.setHeaders(headers);
      if (opts.onBody) client.on('body', (body: Buffer) => opts.onBody!(index, body));
    },
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
    if (status >= 200 && status < 300) latencies.push(responseTime);
  });
  const result = await instance;
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  return {
    connections: opts.connections,
    durationSeconds: round(seconds),
    throughput: round(latencies.length / seconds, 1),
    responses2xx: latencies.length,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    latencyMs: summarize(latencies),
  };
}
