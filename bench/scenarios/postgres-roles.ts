// PostgreSQL-role issuance and revocation over HTTP: agents mint `orders-db-read` leases (the
// broker creates a LOGIN role with its grants in the target database) for a fixed time, then every
// lease is revoked one request at a time (NOLOGIN, terminate sessions, REASSIGN/DROP OWNED, DROP
// ROLE). Both rates, their latencies, and whether any role outlived its lease.
import { asCeiling, ceilingRows } from '../lib/ceiling.js';
import { agentHeaders, type BenchContext, brokerFor } from '../lib/context.js';
import { runLoad } from '../lib/load.js';
import type { ScenarioResult } from '../lib/report.js';
import { runRequests } from '../lib/requests.js';
import { measureRoleCeiling } from './baselines.js';

const ROLE_PREFIX = 'jit_';

/** Request `n`: a task of its own, alternating between the two postgres templates (two privilege groups). */
export function ordersBody(n: number): string {
  const customers = n % 2 === 1;
  return JSON.stringify({
    template: customers ? 'bench-customers-read' : 'orders-db-read',
    intent: {
      task_id: `bench-orders-${n}`,
      purpose: 'bench',
      actions: ['SELECT'],
      resources: [customers ? 'public.customers' : 'public.orders'],
    },
  });
}

export async function postgresRolesScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { params } = ctx;
  const db = await ctx.databases.create('pgroles');
  const broker = await brokerFor(ctx, db, { label: 'pgroles', profile: true });
  try {
    // lease id and the token it was minted with (revocation is the owner's own request).
    const minted: { leaseId: string; token: string }[] = [];
    const headers = agentHeaders(ctx);
    const load = {
      url: `${broker.url}/v1/credentials`,
      method: 'POST' as const,
      requestBody: ordersBody,
      headers: { 'content-type': 'application/json' },
      connectionHeaders: headers,
      connections: params.postgresConnections,
      onBody: (connection: number, body: Buffer) => {
        const leaseId = /"lease_id":"([0-9a-f-]{36})"/.exec(body.toString('utf8'))?.[1];
        if (leaseId) minted.push({ leaseId, token: headers(connection).authorization });
      },
    };
    await runLoad({ ...load, durationSeconds: params.warmupSeconds });
    const warmup = minted.splice(0);
    const issue = await runLoad({ ...load, durationSeconds: params.postgresSeconds });
    const issuedIds = minted.slice();

    const revoke = await runRequests(issuedIds, params.postgresConnections, async ({ leaseId, token }) => {
      const res = await fetch(`${broker.url}/v1/leases/${leaseId}/revoke`, {
        method: 'POST',
        headers: { authorization: token },
      });
      const body = (await res.json()) as { state?: string };
      if (res.status !== 200) return `HTTP ${res.status}`;
      return body.state === 'revoked' ? true : `state ${body.state}`;
    });

    // Not measured: the warm-up's leases, and anything else still live, so no role outlives the run
    // (roles belong to the whole PostgreSQL cluster, not to the throw-away databases).
    await runRequests(warmup, params.postgresConnections, async ({ leaseId, token }) => {
      const res = await fetch(`${broker.url}/v1/leases/${leaseId}/revoke`, {
        method: 'POST',
        headers: { authorization: token },
      });
      await res.arrayBuffer();
      return res.status === 200 ? true : `HTTP ${res.status}`;
    });
    for (const template of ['orders-db-read', 'bench-customers-read']) {
      const sweep = await fetch(`${broker.url}/v1/leases/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.staffToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ template, reason: 'bench clean-up' }),
      });
      await sweep.arrayBuffer();
      if (sweep.status !== 200)
        ctx.log(`  clean-up revoke of the remaining ${template} leases answered ${sweep.status}`);
    }

    const all = await db.sql<{ id: string }[]>`select id::text as id from leases where provider = 'postgres'`;
    const roles = all.map(({ id }) => `${ROLE_PREFIX}${id.replaceAll('-', '')}`);
    const [left] = await ctx.target.sql<
      { n: number }[]
    >`select count(*)::int as n from pg_roles where rolname = any(${roles})`;
    const rolesLeft = left?.n ?? -1;
    // The ceiling again, right after the load (see lib/ceiling.ts).
    const ceilingAfter = asCeiling(await measureRoleCeiling(ctx));
    return {
      scenario: 'postgres-roles',
      title: `PostgreSQL roles (HTTP, c=${params.postgresConnections})`,
      status: 'ok',
      metrics: {
        issue,
        revoke,
        issuedLeases: issuedIds.length,
        warmupLeases: warmup.length,
        allLeases: all.length,
        rolesLeft,
        ceilingBefore: ctx.shared.pgRoleCeiling,
        ceilingAfter,
      },
      rows: [
        { metric: 'issuances/s', value: issue.throughput.toFixed(0) },
        { metric: 'issuance p50 / p99', value: `${issue.latencyMs.p50} / ${issue.latencyMs.p99} ms` },
        ...ceilingRows(
          'issuances/s',
          { throughput: issue.throughput, p99: issue.latencyMs.p99 },
          { before: ctx.shared.pgRoleCeiling, after: ceilingAfter },
          { minRatio: 0.5, p99Factor: 3 },
        ),
        { metric: 'revocations/s (one request per lease)', value: revoke.throughput.toFixed(0) },
        { metric: 'revocation p50 / p99', value: `${revoke.latencyMs.p50} / ${revoke.latencyMs.p99} ms` },
        ...ceilingRows(
          'revocations/s',
          { throughput: revoke.throughput, p99: revoke.latencyMs.p99 },
          { before: ctx.shared.pgRoleCeiling, after: ceilingAfter },
          { minRatio: 0.5 },
        ),
        {
          metric: 'errors (issue non-2xx, revoke failed, roles left)',
          value: `${issue.non2xx + issue.errors} / ${revoke.failed} / ${rolesLeft}`,
          target: '0',
          met: issue.non2xx + issue.errors === 0 && revoke.failed === 0 && rolesLeft === 0,
        },
      ],
    };
  } finally {
    const code = await broker.stop();
    if (code !== 0) ctx.log(`  broker exited with ${code}`);
    await ctx.databases.drop(db);
  }
}
