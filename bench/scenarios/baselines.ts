// The baselines every broker number is divided by, measured in the same run on the same machine:
// the lease-write ceiling of this PostgreSQL through postgres.js (insert + update of a lease-shaped
// row in one transaction, the broker's pool size, the same number of requests in flight), and the
// request throughput of a bare Hono server under the same autocannon load.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import postgres from 'postgres';
import { generatePassword, scramSha256Verifier } from '../../src/providers/postgres/password.js';
import {
  createGroupSql,
  createRoleSql,
  grantSchemaUsageSql,
  grantTablesSql,
} from '../../src/providers/postgres/role-sql.js';
import { asCeiling } from '../lib/ceiling.js';
import type { BenchContext } from '../lib/context.js';
import { runLoad } from '../lib/load.js';
import { startHonoBaseline } from '../lib/processes.js';
import type { ScenarioResult } from '../lib/report.js';
import { round, summarize } from '../lib/stats.js';

/** The broker's own pool size (main.ts: createDatabase(url, { max: 10 })). */
const BROKER_POOL_SIZE = 10;

type Writer = (sql: postgres.Sql, now: Date) => Promise<unknown>;

const INTENT = { taskId: 'bench-task', purpose: 'bench', actions: ['reports:read'], resources: [] };

/** BEGIN; INSERT lease (issuing); UPDATE it to active; COMMIT: four round trips. */
const insertThenUpdate: Writer = (sql, now) => {
  const id = randomUUID();
  const expires = new Date(now.getTime() + 300_000);
  return sql.begin(async (tx) => {
    await tx`insert into leases (id, state, template, provider, agent, agent_issuer, task_id, intent, "grant",
      policy_version, policies, requested_ttl_seconds, created_at, expires_at, max_expires_at, updated_at)
      values (${id}, 'issuing', 'reports-api', 'jwt', 'bench-agent-0', 'bench', 'bench-task', ${tx.json(INTENT)},
      ${tx.json({ scopes: ['reports:read'] })}, 'bench-policy-version', ${tx.json(['reports-agents-mint-reports'])},
      300, ${now}, ${expires}, ${expires}, ${now})`;
    await tx`update leases set state = 'active', issued_at = ${now}, revocation = ${tx.json({ jti: id })},
      updated_at = ${now} where id = ${id}`;
  });
};

/** Runs `connections` writers for `seconds`; every transaction is timed. */
async function ceiling(
  url: string,
  connections: number,
  seconds: number,
  write: Writer,
  poolSize = BROKER_POOL_SIZE,
) {
  const sql = postgres(url, {
    max: poolSize,
    onnotice: () => {},
    connection: { application_name: 'jit-bench' },
  });
  try {
    const latencies: number[] = [];
    let errors = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          try {
            await write(sql, new Date());
            latencies.push(performance.now() - t);
          } catch {
            errors += 1;
          }
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return { throughput: round(latencies.length / elapsed, 1), errors, latencyMs: summarize(latencies) };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The lease-write ceiling on a throw-away database of its own: warm-up, then the measured run. */
export async function measureLeaseWriteCeiling(ctx: BenchContext) {
  const { params } = ctx;
  const db = await ctx.databases.create('ceiling');
  try {
    await ceiling(db.url, params.connections, params.warmupSeconds, insertThenUpdate);
    await db.sql`truncate leases`;
    return await ceiling(db.url, params.connections, params.loadSeconds, insertThenUpdate);
  } finally {
    await ctx.databases.drop(db);
  }
}

export async function pgCeilingScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { params } = ctx;
  const result = await measureLeaseWriteCeiling(ctx);
  ctx.shared.pgCeiling = asCeiling(result);
  return {
    scenario: 'baseline-postgres',
    title: 'Baseline: PostgreSQL lease writes',
    status: 'ok',
    metrics: {
      ...result,
      connections: params.connections,
      poolSize: BROKER_POOL_SIZE,
      seconds: params.loadSeconds,
    },
    rows: [
      {
        metric: `insert + update in one transaction, ${params.connections} in flight, pool ${BROKER_POOL_SIZE}`,
        value: `${result.throughput.toFixed(0)}/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      },
    ],
  };
}

export async function honoBaselineScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { params } = ctx;
  const server = await startHonoBaseline(path.join(ctx.logsDir, 'hono-baseline.log'));
  try {
    const load = {
      url: `${server.url}/v1/credentials`,
      method: 'POST' as const,
      body: JSON.stringify({
        template: 'reports-api',
        intent: { task_id: 't', purpose: 'p', actions: ['a'], resources: [] },
      }),
      headers: { 'content-type': 'application/json' },
      connections: params.connections,
    };
    await runLoad({ ...load, durationSeconds: params.warmupSeconds });
    const result = await runLoad({ ...load, durationSeconds: params.loadSeconds });
    ctx.shared.honoThroughput = result.throughput;
    return {
      scenario: 'baseline-hono',
      title: 'Baseline: bare Hono',
      status: 'ok',
      metrics: { ...result },
      rows: [
        {
          metric: `POST JSON → 201 JSON, c=${params.connections}`,
          value: `${result.throughput.toFixed(0)}/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
        },
      ],
    };
  } finally {
    await server.stop();
  }
}

/** The PostgreSQL provider's pool per target (createPostgresProvider's default). */
const TARGET_POOL_SIZE = 2;
const CEILING_ROLE_PREFIX = 'jit_ceiling_';

const CEILING_GROUP = `${CEILING_ROLE_PREFIX}group`;

/**
 * The role-issuance ceiling of the target: the least work one role credential takes, in one
 * transaction, with nothing else around it: a password of its own and its SCRAM verifier (computed
 * in this process before the transaction, as the provider does; PostgreSQL would spend the same
 * 4096 iterations hashing a cleartext password), CREATE ROLE with it, and its membership in the
 * privilege group of its grant (created once, before the measurement, with USAGE on the schema and
 * SELECT on one table).
 */
function createRoleInGroup(created: string[]): Writer {
  let n = 0;
  return async (sql, now) => {
    const role = `${CEILING_ROLE_PREFIX}${process.pid}_${n++}`;
    created.push(role);
    const verifier = await scramSha256Verifier(generatePassword());
    return sql.begin(async (tx) => {
      await tx.unsafe(
        createRoleSql({ role, verifier, validUntil: new Date(now.getTime() + 300_000), connectionLimit: 2 }),
      );
      await tx.unsafe(`GRANT "${CEILING_GROUP}" TO "${role}"`);
    });
  };
}

/** The role-creation ceiling of the target (roles dropped afterwards). */
export async function measureRoleCeiling(ctx: BenchContext) {
  const { params } = ctx;
  const created: string[] = [];
  try {
    await ctx.target.sql.unsafe(createGroupSql(CEILING_GROUP));
    await ctx.target.sql.unsafe(grantSchemaUsageSql(CEILING_GROUP, ['public']));
    await ctx.target.sql.unsafe(
      grantTablesSql(CEILING_GROUP, ['SELECT'], [{ schema: 'public', name: 'orders' }]),
    );
    const write = createRoleInGroup(created);
    return await ceiling(
      ctx.target.url,
      params.postgresConnections,
      params.postgresSeconds,
      write,
      TARGET_POOL_SIZE,
    );
  } finally {
    for (const role of [...created, CEILING_GROUP]) {
      await ctx.target.sql.unsafe(`drop owned by "${role}"`).catch(() => {});
      await ctx.target.sql.unsafe(`drop role if exists "${role}"`).catch(() => {});
    }
  }
}

export async function pgRoleCeilingScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const { params } = ctx;
  const result = await measureRoleCeiling(ctx);
  ctx.shared.pgRoleCeiling = asCeiling(result);
  return {
    scenario: 'baseline-postgres-roles',
    title: 'Baseline: PostgreSQL role creation',
    status: 'ok',
    metrics: {
      ...result,
      connections: params.postgresConnections,
      poolSize: TARGET_POOL_SIZE,
      seconds: params.postgresSeconds,
    },
    rows: [
      {
        metric: `a fresh SCRAM verifier, then CREATE ROLE + GRANT of its privilege group in one transaction, ${params.postgresConnections} in flight, pool ${TARGET_POOL_SIZE}`,
        value: `${result.throughput.toFixed(0)}/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms`,
      },
    ],
  };
}
