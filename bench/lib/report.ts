// Scenario results: one JSON file per scenario, and the markdown table (with the machine it ran
// on) that the README carries.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import path from 'node:path';
import { withAdmin } from './databases.js';

export interface TableRow {
  metric: string;
  value: string;
  target?: string;
  /** undefined when the row has no target. */
  met?: boolean;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  /** Raw numbers, for tooling and the closing note. */
  metrics: Record<string, unknown>;
  rows: TableRow[];
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
}

export async function machineInfo(): Promise<MachineInfo> {
  const { version, settings } = await withAdmin(async (admin) => {
    const [row] = await admin<{ version: string }[]>`select version()`;
    const rows = await admin<{ name: string; setting: string; unit: string | null }[]>`
      select name, setting, unit from pg_settings
      where name in ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections', 'wal_level')`;
    return {
      version: row?.version ?? 'unknown',
      settings: Object.fromEntries(
        rows.map((r) => [r.name, r.unit ? `${r.setting} (${r.unit})` : r.setting]),
      ),
    };
  });
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    postgres: version,
    postgresSettings: settings,
  };
}

export function markdownTable(results: readonly ScenarioResult[]): string {
  const lines = ['| Scenario | Metric | Result | Target | Met |', '| --- | --- | --- | --- | --- |'];
  for (const r of results) {
    if (r.status !== 'ok') {
      lines.push(`| ${r.title} | — | ${r.status}: ${r.reason ?? ''} | | |`);
      continue;
    }
    for (const row of r.rows) {
      const met = row.met === undefined ? '' : row.met ? 'yes' : '**no**';
      lines.push(`| ${r.title} | ${row.metric} | ${row.value} | ${row.target ?? ''} | ${met} |`);
    }
  }
  return lines.join('\n');
}

export function machineLine(m: MachineInfo): string {
  const pg = /^PostgreSQL [\d.]+/.exec(m.postgres)?.[0] ?? m.postgres;
  return `${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${pg} (synchronous_commit=${m.postgresSettings.synchronous_commit ?? '?'}), Node ${m.node}, Linux ${m.kernel}`;
}

export async function writeResults(
  dir: string,
  run: { quick: boolean; startedAt: string; seconds: number; machine: MachineInfo },
  results: readonly ScenarioResult[],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const r of results) {
    await writeFile(
      path.join(dir, `${r.scenario}.json`),
      `${JSON.stringify({ ...r, quick: run.quick, startedAt: run.startedAt, machine: run.machine }, null, 2)}\n`,
    );
  }
  const table = markdownTable(results);
  // The README keeps every scenario's latest result: a partial run (--only) replaces its own rows
  // and leaves the others, each marked with the run it came from when runs differ.
  const latest = await readLatest(dir, results, run.startedAt);
  const readme = [
    `# jit-broker benchmark results (${run.quick ? 'quick run' : 'full run'})`,
    '',
    `Run ${run.startedAt} on ${machineLine(run.machine)}; load generator, broker and PostgreSQL on the same machine.`,
    `The whole run took ${Math.round(run.seconds)} s. Produced by \`npm run bench${run.quick ? ' -- --quick' : ''}\` (bench/run.ts); raw numbers in the JSON files beside this one.`,
    '',
    markdownTable(latest.results),
    '',
    ...(latest.olderRuns.length > 0
      ? [
          `Rows of ${latest.olderRuns.map((r) => `${r.scenario} (${r.startedAt})`).join(', ')} come from earlier runs` +
            ' (a later run was partial, `--only`).',
          '',
        ]
      : []),
  ].join('\n');
  await writeFile(path.join(dir, 'README.md'), readme);
  return table;
}

/** This run's results, then the latest result of every other scenario found in `dir`. */
async function readLatest(
  dir: string,
  results: readonly ScenarioResult[],
  startedAt: string,
): Promise<{ results: ScenarioResult[]; olderRuns: { scenario: string; startedAt: string }[] }> {
  const fresh = new Set(results.map((r) => r.scenario));
  const older: (ScenarioResult & { startedAt: string })[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (!name.endsWith('.json')) continue;
    try {
      const stored = JSON.parse(await readFile(path.join(dir, name), 'utf8')) as ScenarioResult & {
        startedAt: string;
      };
      if (!fresh.has(stored.scenario) && stored.startedAt !== startedAt) older.push(stored);
    } catch {
      // not a result file
    }
  }
  return {
    results: [...older, ...results].sort(
      (a, b) => SCENARIO_ORDER.indexOf(a.scenario) - SCENARIO_ORDER.indexOf(b.scenario),
    ),
    olderRuns: older.map((r) => ({ scenario: r.scenario, startedAt: r.startedAt })),
  };
}

const SCENARIO_ORDER = [
  'baseline-postgres',
  'baseline-hono',
  'jwt-issuance',
  'broker-rss',
  'introspection',
  'bulk-revoke',
  'postgres-roles',
  'expiry-lag',
  'scale-issuance',
  'restart-to-ready',
  'cold-start',
];
