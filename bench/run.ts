// npm run bench [-- --quick] [-- --only=<scenario,...>] [-- --profile]
// Runs the broker for real (separate processes, real PostgreSQL on 127.0.0.1:5432, throw-away
// databases) and reports how close it gets to what this machine allows: every scenario writes
// bench/results/<scenario>.json (--quick: bench/results/quick/), and the markdown table is
// printed and written to README.md beside them.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type postgres from 'postgres';
import type { BenchContext, Shared } from './lib/context.js';
import { type BenchDatabase, BenchDatabases } from './lib/databases.js';
import { createFixture, ROOT } from './lib/fixture.js';
import { benchParams } from './lib/params.js';
import { buildBroker } from './lib/processes.js';
import { machineInfo, machineLine, type ScenarioResult, writeResults } from './lib/report.js';
import { honoBaselineScenario, pgCeilingScenario, pgRoleCeilingScenario } from './scenarios/baselines.js';
import { brokerHttpScenarios } from './scenarios/broker-http.js';
import { coldStartScenario } from './scenarios/cold-start.js';
import { expiryLagScenario } from './scenarios/expiry-lag.js';
import { postgresRolesScenario } from './scenarios/postgres-roles.js';
import { scaleScenarios } from './scenarios/scale.js';

type Step = {
  name: string;
  scenarios: string[];
  run: (ctx: BenchContext) => Promise<ScenarioResult | ScenarioResult[]>;
};

const STEPS: Step[] = [
  { name: 'baseline-postgres', scenarios: ['baseline-postgres'], run: pgCeilingScenario },
  { name: 'baseline-hono', scenarios: ['baseline-hono'], run: honoBaselineScenario },
  { name: 'baseline-postgres-roles', scenarios: ['baseline-postgres-roles'], run: pgRoleCeilingScenario },
  {
    name: 'broker-http',
    scenarios: ['jwt-issuance', 'broker-rss', 'token-exchange-issuance', 'introspection', 'bulk-revoke'],
    run: brokerHttpScenarios,
  },
  { name: 'postgres-roles', scenarios: ['postgres-roles'], run: postgresRolesScenario },
  { name: 'expiry-lag', scenarios: ['expiry-lag'], run: expiryLagScenario },
  { name: 'scale', scenarios: ['scale-issuance', 'restart-to-ready'], run: scaleScenarios },
  { name: 'cold-start', scenarios: ['cold-start'], run: coldStartScenario },
];

async function dropPrivilegeGroups(sql: postgres.Sql): Promise<void> {
  const groups = await sql<{ rolname: string }[]>`
    select distinct r.rolname from pg_shdepend d join pg_roles r on r.oid = d.refobjid
    where d.refclassid = 'pg_authid'::regclass
      and d.dbid = (select oid from pg_database where datname = current_database())
      and r.rolname ~ '^jit_g_[0-9a-f]{24}$'`;
  for (const { rolname } of groups) {
    await sql.unsafe(`drop owned by "${rolname}"`);
    await sql.unsafe(`drop role "${rolname}"`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
    },
  });
  const params = benchParams(values.quick ?? false);
  const only = values.only?.split(',').map((s) => s.trim());
  const resultsDir = path.join(ROOT, 'bench', 'results', ...(params.quick ? ['quick'] : []));
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const machine = await machineInfo();
  log(`bench: ${params.quick ? 'quick' : 'full'} run on ${machineLine(machine)}`);
  await buildBroker();
  const databases = new BenchDatabases();
  const fixture = await createFixture();
  const interrupted = () => {
    log('bench: interrupted; dropping the bench databases');
    void databases.dropAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let target: BenchDatabase | undefined;
  const results: ScenarioResult[] = [];
  try {
    const logsDir = path.join(fixture.dir, 'logs');
    await mkdir(logsDir, { recursive: true });
    const profileDir = values.profile ? path.join(ROOT, 'bench', 'results', 'profiles') : undefined;
    if (profileDir) await mkdir(profileDir, { recursive: true });
    target = await databases.create('target', { migrated: false });
    await target.sql.unsafe(`
      create table public.orders (id serial primary key, customer_id int not null, total numeric(10,2) not null);
      create table public.customers (id serial primary key, name text not null);`);
    const agentTokens = await Promise.all(
      Array.from({ length: params.agentTokens }, (_, i) => fixture.agentToken(i)),
    );
    const shared: Shared = {};
    const ctx: BenchContext = {
      params,
      fixture,
      databases,
      target,
      agentTokens,
      staffToken: await fixture.staffToken(),
      logsDir,
      profileDir,
      shared,
      selected: (scenario) => only === undefined || only.includes(scenario),
      log,
    };
    for (const step of STEPS) {
      if (only && !step.scenarios.some((s) => only.includes(s)) && !only.includes(step.name)) continue;
      log(`bench: ${step.name}`);
      const stepStarted = performance.now();
      try {
        const out = await step.run(ctx);
        for (const r of Array.isArray(out) ? out : [out]) {
          results.push(r);
          log(`  ${r.scenario}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
          for (const row of r.rows)
            log(
              `    ${row.metric}: ${row.value}${row.target ? ` [target ${row.target}: ${row.met ? 'met' : 'MISSED'}]` : ''}`,
            );
        }
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        log(`  ${step.name} failed: ${reason}`);
        for (const scenario of step.scenarios) {
          results.push({ scenario, title: scenario, status: 'failed', reason, metrics: {}, rows: [] });
        }
      }
      log(`  (${Math.round((performance.now() - stepStarted) / 1000)} s)`);
    }
  } finally {
    // The broker's privilege groups are cluster-wide roles; drop the ones holding grants in the
    // bench's target database before the database goes.
    if (target)
      await dropPrivilegeGroups(target.sql).catch((error: unknown) =>
        log(`bench: privilege groups left: ${error}`),
      );
    await databases.dropAll();
    if (process.env.BENCH_KEEP_FILES !== '1') await fixture.close();
    else log(`bench: logs kept in ${fixture.dir}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const table = await writeResults(resultsDir, { quick: params.quick, startedAt, seconds, machine }, results);
  process.stdout.write(`\n${machineLine(machine)}\n\n${table}\n`);
  log(`\nbench: done in ${Math.round(seconds)} s; results in ${path.relative(ROOT, resultsDir)}/`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
