// What every scenario receives from the runner, and what earlier scenarios leave for later ones
// (the baselines that broker results are divided by, the empty-table issuance p50).
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchDatabase, BenchDatabases } from './databases.js';
import type { BenchFixture } from './fixture.js';
import type { LoadResult } from './load.js';
import type { BenchParams } from './params.js';
import { type ServerProcess, startBroker } from './processes.js';

export interface Shared {
  /** Lease-write ceiling of this PostgreSQL (insert + update in one transaction), per second. */
  pgCeiling?: { throughput: number; p50: number; p99: number };
  honoThroughput?: number;
  /** Role-issuance ceiling of the target (CREATE ROLE + grants in one transaction), per second. */
  pgRoleCeiling?: number;
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

/**
 * The body of issuance `n`: each request is a task of its own, as agents send them (a repeated body
 * would make every decision a cache hit and flatter the broker).
 */
export function credentialBody(n: number): string {
  return JSON.stringify({
    template: 'reports-api',
    intent: { task_id: `bench-task-${n}`, purpose: 'bench', actions: ['reports:read'], resources: [] },
  });
}

export const CREDENTIAL_BODY = JSON.stringify({
  template: 'reports-api',
  intent: { task_id: 'bench-task', purpose: 'bench', actions: ['reports:read'], resources: [] },
});
