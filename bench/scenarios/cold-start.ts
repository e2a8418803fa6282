// Cold start of `npm start` exactly as the README's quick start runs it: no DATABASE_URL (the
// embedded PostgreSQL), the example policies, an empty DATA_DIR. First run (initdb, dev keys,
// migrations, demo target) and warm run (same DATA_DIR, everything already there), each timed
// from spawning npm to the first 200 from /readyz; the process group is stopped with SIGTERM.
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BenchContext } from '../lib/context.js';
import { EXAMPLE_POLICY_DIR } from '../lib/fixture.js';
import { baseEnv, freePort, spawnServer } from '../lib/processes.js';
import type { ScenarioResult } from '../lib/report.js';
import { round } from '../lib/stats.js';

export async function coldStartScenario(ctx: BenchContext): Promise<ScenarioResult> {
  // Its own directory: the example broker.yaml finds the dev issuers at ../.data from its policies.
  const dir = await mkdtemp(path.join(tmpdir(), 'jit-bench-cold-'));
  // As root the embedded PostgreSQL runs as `postgres`, which must traverse down to DATA_DIR.
  await chmod(dir, 0o711);
  try {
    await cp(EXAMPLE_POLICY_DIR, path.join(dir, 'policies'), { recursive: true });
    const start = async (label: string) => {
      const port = await freePort();
      const server = await spawnServer({
        command: 'npm',
        args: ['start', '--silent'],
        env: {
          ...baseEnv(),
          PORT: String(port),
          HOST: '127.0.0.1',
          POLICY_DIR: path.join(dir, 'policies'),
          DATA_DIR: path.join(dir, '.data'),
          LOG_LEVEL: 'info',
        },
        port,
        readyPath: '/readyz',
        logFile: path.join(ctx.logsDir, `cold-start-${label}.log`),
        readyTimeoutMs: 180_000,
        detached: true,
      });
      const ms = server.readyMs;
      const code = await server.stop();
      if (code !== 0) ctx.log(`  npm start (${label}) exited with ${code}`);
      ctx.log(`  npm start (${label}): ready in ${Math.round(ms)} ms`);
      return ms;
    };
    const firstMs = await start('first');
    const warmMs = await start('warm');
    return {
      scenario: 'cold-start',
      title: 'Cold start of `npm start` (embedded PostgreSQL)',
      status: 'ok',
      metrics: { firstRunMs: round(firstMs, 1), warmRunMs: round(warmMs, 1) },
      rows: [
        {
          metric: 'first run (initdb, keys, migrations) → /readyz 200',
          value: `${round(firstMs / 1000, 2)} s`,
        },
        { metric: 'warm run (same DATA_DIR) → /readyz 200', value: `${round(warmMs / 1000, 2)} s` },
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
