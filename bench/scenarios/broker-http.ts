// Scenarios that share one broker on one database: JWT issuance (REST, then token exchange), then introspection of minted
// tokens, then a bulk revoke of seeded leases.
import { randomUUID } from 'node:crypto';
import { asCeiling } from '../lib/ceiling.js';
import { type BenchContext, brokerFor, type Ceiling, CREDENTIAL_BODY } from '../lib/context.js';
import type { BenchDatabase } from '../lib/databases.js';
import { runLoad } from '../lib/load.js';
import type { ServerProcess } from '../lib/processes.js';
import { sleep } from '../lib/processes.js';
import type { ScenarioResult } from '../lib/report.js';
import { seedLeases } from '../lib/seed.js';
import { round } from '../lib/stats.js';
import { measureLeaseWriteCeiling } from './baselines.js';
import { type IssuanceRun, issuanceRows, measureIssuance } from './jwt-issuance.js';
import { tokenExchangeIssuance } from './token-exchange.js';

export async function brokerHttpScenarios(ctx: BenchContext): Promise<ScenarioResult[]> {
  const db = await ctx.databases.create('http');
  const broker = await brokerFor(ctx, db, { label: 'http', profile: true });
  const results: ScenarioResult[] = [];
  try {
    // Idle: started, policies loaded, nothing served yet.
    await sleep(1000);
    const idleMiB = broker.rssMiB();
    if (ctx.selected('jwt-issuance') || ctx.selected('broker-rss')) {
      const run = await measureIssuance(ctx, broker, ctx.params.loadSeconds);
      ctx.shared.emptyIssuance = run.load;
      ctx.shared.emptyReadyMs = broker.readyMs;
      // The ceiling again, right after the load (see lib/ceiling.ts).
      const after = ctx.selected('jwt-issuance') ? await measureLeaseWriteCeiling(ctx) : undefined;
      const ceilingAfter = after && asCeiling(after);
      if (ctx.selected('jwt-issuance')) results.push(jwtIssuance(ctx, run, ceilingAfter));
      if (ctx.selected('broker-rss')) results.push(brokerRss(idleMiB, run));
    }
    if (ctx.selected('token-exchange-issuance'))
      results.push(
        await guard('token-exchange-issuance', 'Token-exchange issuance', () =>
          tokenExchangeIssuance(ctx, broker),
        ),
      );
    if (ctx.selected('introspection'))
      results.push(await guard('introspection', 'Introspection', () => introspection(ctx, broker)));
    if (ctx.selected('bulk-revoke'))
      results.push(await guard('bulk-revoke', 'Bulk revoke', () => bulkRevoke(ctx, broker, db)));
  } finally {
    const code = await broker.stop();
    if (code !== 0) ctx.log(`  broker exited with ${code}`);
    await ctx.databases.drop(db);
  }
  return results;
}

async function guard(
  scenario: string,
  title: string,
  run: () => Promise<ScenarioResult>,
): Promise<ScenarioResult> {
  try {
    return await run();
  } catch (error) {
    return {
      scenario,
      title,
      status: 'failed',
      reason: error instanceof Error ? error.message : String(error),
      metrics: {},
      rows: [],
    };
  }
}

function jwtIssuance(ctx: BenchContext, run: IssuanceRun, ceilingAfter: Ceiling | undefined): ScenarioResult {
  return {
    scenario: 'jwt-issuance',
    title: `JWT issuance (HTTP, c=${ctx.params.connections})`,
    status: 'ok',
    metrics: { ...run, seconds: ctx.params.loadSeconds, baselines: ctx.shared, ceilingAfter },
    rows: issuanceRows(ctx, run, ceilingAfter),
  };
}

function brokerRss(idleMiB: number, run: IssuanceRun): ScenarioResult {
  const steadyMB = run.rss.steadyMiB * 1.048576;
  return {
    scenario: 'broker-rss',
    title: 'Broker RSS',
    status: 'ok',
    metrics: { idleMiB: round(idleMiB, 1), ...run.rss },
    rows: [
      { metric: 'idle after start (MiB)', value: round(idleMiB, 1).toString() },
      {
        metric: 'steady under the issuance load, median of the second half (max) (MiB)',
        value: `${run.rss.steadyMiB} (${run.rss.maxMiB})`,
        target: '≤ 150 MB',
        met: steadyMB <= 150,
      },
    ],
  };
}

async function post(
  url: string,
  token: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function introspection(ctx: BenchContext, broker: ServerProcess): Promise<ScenarioResult> {
  // One live minted token per connection.
  const tokens: string[] = [];
  for (let i = 0; i < ctx.params.connections; i++) {
    const { status, json } = await post(
      `${broker.url}/v1/credentials`,
      ctx.agentTokens[i % ctx.agentTokens.length]!,
      JSON.parse(CREDENTIAL_BODY),
    );
    if (status !== 201) throw new Error(`minting a token to introspect answered ${status}`);
    tokens.push((json.credential as { token: string }).token);
  }
  // Each connection introspects its own token.
  const load = {
    url: `${broker.url}/v1/introspect`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    connectionBody: (index: number) => `token=${tokens[index % tokens.length]}`,
    connections: ctx.params.connections,
    verifyBody: (body: string) => body.startsWith('{"active":true'),
  };
  await runLoad({ ...load, durationSeconds: ctx.params.warmupSeconds });
  const result = await runLoad({ ...load, durationSeconds: ctx.params.loadSeconds });
  return {
    scenario: 'introspection',
    title: `Introspection (HTTP, c=${ctx.params.connections})`,
    status: 'ok',
    metrics: { ...result },
    rows: [
      { metric: 'introspections/s', value: result.throughput.toFixed(0) },
      { metric: 'p50 / p99 latency', value: `${result.latencyMs.p50} / ${result.latencyMs.p99} ms` },
      {
        metric: 'errors (non-2xx, socket, not active)',
        value: `${result.non2xx} / ${result.errors} / ${result.mismatches}`,
        target: '0',
        met: result.non2xx + result.errors + result.mismatches === 0,
      },
    ],
  };
}

async function bulkRevoke(
  ctx: BenchContext,
  broker: ServerProcess,
  db: BenchDatabase,
): Promise<ScenarioResult> {
  const count = ctx.params.bulkRevokeLeases;
  const agent = `bulk-agent-${randomUUID().slice(0, 8)}`;
  const now = new Date();
  const seedSeconds = await seedLeases(db.sql, {
    count,
    state: 'active',
    template: 'reports-api',
    agent: () => agent,
    agentIssuer: 'bench',
    taskId: (i) => `bulk-task-${i % 100}`,
    createdAt: now,
    expiresAt: () => new Date(now.getTime() + 3_600_000),
    policyVersion: 'seeded',
  });
  await db.sql`analyze leases`;
  const started = performance.now();
  const { status, json } = await post(`${broker.url}/v1/leases/revoke`, ctx.staffToken, {
    agent,
    reason: 'bench bulk revoke',
  });
  const seconds = (performance.now() - started) / 1000;
  if (status !== 200)
    throw new Error(
      `bulk revoke answered ${status} after ${round(seconds, 2)} s: ${JSON.stringify(json).slice(0, 300)}`,
    );
  const revoked = (json.revoked as string[]).length;
  const [left] = await db.sql<
    { n: number }[]
  >`select count(*)::int as n from leases where agent = ${agent} and state <> 'revoked'`;
  return {
    scenario: 'bulk-revoke',
    title: `Bulk revoke (${count.toLocaleString('en')} JWT leases)`,
    status: 'ok',
    metrics: {
      count,
      revoked,
      notRevoked: left?.n,
      seconds: round(seconds, 3),
      seedSeconds: round(seedSeconds, 2),
    },
    rows: [
      {
        metric: 'POST /v1/leases/revoke, until the response',
        value: `${round(seconds, 2)} s (${revoked.toLocaleString('en')} revoked, ${left?.n ?? '?'} left)`,
        target: '≤ 5 s',
        met: seconds <= 5 && revoked === count && left?.n === 0,
      },
    ],
  };
}
