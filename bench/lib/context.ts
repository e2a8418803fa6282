// What every scenario receives from the runner, and what earlier scenarios leave for later ones
// (the baselines that broker results are divided by, the empty-table issuance p50).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchDatabase, BenchDatabases } from './databases.js';
import type { BenchFixture } from './fixture.js';
import type { LoadResult } from './load.js';
import type { BenchParams } from './params.js';
import { type ServerProcess, startBroker } from './processes.js';

/** A ceiling measurement: transactions per second and their latency (ms). */
export interface Ceiling {
  throughput: number;
  p50: number;
  p99: number;
}

export interface Shared {
  /** Lease-write ceiling of this PostgreSQL (insert + update in one transaction), per second. */
  pgCeiling?: Ceiling;
  honoThroughput?: number;
  /** Role-issuance ceiling of the target (CREATE ROLE + grants in one transaction), per second. */
  pgRoleCeiling?: Ceiling;
  emptyIssuance?: LoadResult;
  emptyReadyMs?: number;
}

export interface BenchContext {
  params: BenchParams;
  fixture: BenchFixture;
  databases: BenchDatabases;
  /** Database of the throw-away target of the postgres provider (TARGET_ORDERS_URL). */
  target: BenchDatabase;
  agentTokens: string[];
  staffToken: string;
  logsDir: string;
  /** Set by --profile: the issuance broker writes a V8 CPU profile here. */
  profileDir: string | undefined;
  shared: Shared;
  /** False when --only names other scenarios. */
  selected(scenario: string): boolean;
  log(line: string): void;
}

let brokers = 0;

/** A broker on `database` with a data dir and log file of its own. */
export async function brokerFor(
  ctx: BenchContext,
  database: BenchDatabase,
  opts: { sweepIntervalSeconds?: number; label: string; profile?: boolean },
): Promise<ServerProcess> {
  brokers += 1;
  const dataDir = path.join(ctx.fixture.dir, `data-${brokers}`);
  await mkdir(dataDir, { recursive: true });
  const broker = await startBroker({
    databaseUrl: database.url,
    policyDir: ctx.fixture.policyDir,
    dataDir,
    logFile: path.join(ctx.logsDir, `broker-${brokers}-${opts.label}.log`),
    targetOrdersUrl: ctx.target.url,
    sweepIntervalSeconds: opts.sweepIntervalSeconds,
    cpuProfDir: opts.profile ? ctx.profileDir : undefined,
  });
  ctx.log(`  broker ${opts.label} (pid ${broker.pid}) ready in ${Math.round(broker.readyMs)} ms`);
  return broker;
}

export function agentHeaders(ctx: BenchContext) {
  return (index: number) => ({ authorization: `Bearer ${ctx.agentTokens[index % ctx.agentTokens.length]}` });
}

/** The JWT templates the bench's policies allow without step-up (fixture.ts adds the second). */
export const JWT_TEMPLATES = ['reports-api', 'bench-reports-eu'] as const;
const PURPOSES = ['monthly report', 'weekly digest', 'ad-hoc query'];

/**
 * The body of issuance `n`, as agents send them: a task of its own each time, over several
 * templates and purposes (a repeated body would flatter any cache and any index).
 */
export function credentialBody(n: number): string {
  return JSON.stringify({
    template: JWT_TEMPLATES[n % JWT_TEMPLATES.length],
    intent: {
      task_id: `bench-task-${n}`,
      purpose: PURPOSES[n % PURPOSES.length],
      actions: ['reports:read'],
      resources: [],
    },
  });
}

export const CREDENTIAL_BODY = JSON.stringify({
  template: 'reports-api',
  intent: { task_id: 'bench-task', purpose: 'bench', actions: ['reports:read'], resources: [] },
});
