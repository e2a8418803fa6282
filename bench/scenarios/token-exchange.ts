// Token-exchange issuance over HTTP: the same load as jwt-issuance, through POST /v1/token (RFC 8693
// form, resource → template, authorization_details → intent). Both front doors share one issuance
// path, so the rate should match POST /v1/credentials; the ratio row says what the OAuth door costs.
import type { BenchContext } from '../lib/context.js';
import { runLoad } from '../lib/load.js';
import type { ServerProcess } from '../lib/processes.js';
import type { ScenarioResult } from '../lib/report.js';

/** Request `n`: a task of its own, with one of the pre-signed workload tokens as subject_token. */
function exchangeBody(ctx: BenchContext, n: number): string {
  return new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: ctx.agentTokens[n % ctx.agentTokens.length]!,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    resource: 'https://reports.internal',
    authorization_details: JSON.stringify([
      {
        type: 'task_intent',
        task_id: `bench-oauth-${n}`,
        purpose: 'bench',
        actions: ['reports:read'],
        resources: [],
      },
    ]),
  }).toString();
}

export async function tokenExchangeIssuance(
  ctx: BenchContext,
  broker: ServerProcess,
): Promise<ScenarioResult> {
  const load = {
    url: `${broker.url}/v1/token`,
    method: 'POST' as const,
    requestBody: (n: number) => exchangeBody(ctx, n),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    connections: ctx.params.connections,
  };
  await runLoad({ ...load, durationSeconds: ctx.params.warmupSeconds });
  const result = await runLoad({ ...load, durationSeconds: ctx.params.loadSeconds });
  const rest = ctx.shared.emptyIssuance?.throughput;
  const rows: ScenarioResult['rows'] = [
    { metric: 'token exchanges/s', value: result.throughput.toFixed(0) },
    { metric: 'p50 / p99 latency', value: `${result.latencyMs.p50} / ${result.latencyMs.p99} ms` },
    {
      metric: 'errors (non-2xx, socket, timeouts)',
      value: `${result.non2xx} / ${result.errors} / ${result.timeouts}`,
      target: '0',
      met: result.non2xx + result.errors + result.timeouts === 0,
    },
  ];
  if (rest !== undefined) {
    const ratio = result.throughput / rest;
    rows.push({
      metric: 'ratio to POST /v1/credentials (same run)',
      value: `${(ratio * 100).toFixed(0)}% (of ${rest.toFixed(0)}/s)`,
      target: '≥ 90%',
      met: ratio >= 0.9,
    });
  }
  return {
    scenario: 'token-exchange-issuance',
    title: `Token-exchange issuance (POST /v1/token, c=${ctx.params.connections})`,
    status: 'ok',
    metrics: { ...result, seconds: ctx.params.loadSeconds, restThroughput: rest },
    rows,
  };
}
