// Child processes under test: the broker exactly as production runs it (`bin/jit-broker` on the
// compiled dist/, the Dockerfile's CMD) and the bare Hono baseline server. Each is its own process,
// so the load generator never shares their event loop. Readiness is polled over HTTP; RSS is read
// from /proc; stop() sends SIGTERM and waits (SIGKILL only for our own child, after 20 s).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './fixture.js';

/** A fixed development-only master key: the bench databases are thrown away. */
export const BENCH_MASTER_KEY = Buffer.alloc(32, 42).toString('base64');
export const BENCH_WEBHOOK_SECRET = 'bench-webhook-secret-0123456789';

/** Variables main.ts reads; the runner's own environment must not leak into the broker under test. */
const CONFIG_VARIABLE =
  /^(PORT|HOST|DATABASE_URL|POLICY_DIR|DATA_DIR|BROKER_|WEBHOOK_SECRET|SWEEP_INTERVAL_SECONDS|LOG_LEVEL|STAFF_CLIENT_SECRET|APPROVAL_WEBHOOK_URL|AWS_|PUBLIC_URL|TARGET_)/;

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !CONFIG_VARIABLE.test(key)) env[key] = value;
  }
  return env;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  pid: number;
  url: string;
  /** From spawn to the first 200 of the readiness path. */
  readyMs: number;
  /** Resident set size now, in MiB (VmRSS of /proc/<pid>/status). */
  rssMiB(): number;
  /** Samples RSS every `everyMs` until the returned function is called; it returns the samples. */
  sampleRss(everyMs?: number): () => number[];
  /** SIGTERM, then wait for the exit; resolves with the exit code (null when killed). */
  stop(): Promise<number | null>;
  readonly exited: boolean;
}

export interface SpawnOptions {
  args: string[];
  env: Record<string, string>;
  port: number;
  readyPath: string;
  logFile: string;
  readyTimeoutMs?: number;
  /** Own process group (npm start: npm → sh → tsx → node), so a stop reaches all of them. */
  detached?: boolean;
  command?: string;
  /** Working directory (default: this checkout). */
  cwd?: string;
}

/**
 * Where the broker under test is started from: this checkout, or BENCH_BROKER_ROOT (another
 * checkout with its own node_modules, e.g. the commit before an optimisation) for before/after runs.
 */
export const BROKER_ROOT = process.env.BENCH_BROKER_ROOT ?? ROOT;

/** Compiles the broker under test (src/ → dist/), as `npm start` and the image build do. */
export async function buildBroker(): Promise<void> {
  const script = path.join(BROKER_ROOT, 'scripts', 'build.mjs');
  if (existsSync(script)) await promisify(execFile)(process.execPath, [script], { cwd: BROKER_ROOT });
}

export function readRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

export async function spawnServer(opts: SpawnOptions): Promise<ServerProcess> {
  const log = openSync(opts.logFile, 'a');
  const started = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(opts.command ?? process.execPath, opts.args, {
      cwd: opts.cwd ?? ROOT,
      env: opts.env,
      stdio: ['ignore', log, log],
      detached: opts.detached ?? false,
    });
  } finally {
    closeSync(log);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${opts.args.join(' ')}`);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  const url = `http://127.0.0.1:${opts.port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exitCode !== undefined) {
      throw new Error(
        `${opts.args.join(' ')} exited with ${exitCode} before it was ready; see ${opts.logFile}`,
      );
    }
    if (Date.now() > deadline) {
      kill(child, opts.detached, 'SIGKILL');
      throw new Error(
        `${opts.args.join(' ')} was not ready within ${opts.readyTimeoutMs ?? 60_000} ms; see ${opts.logFile}`,
      );
    }
    const ok = await fetch(url + opts.readyPath, { signal: AbortSignal.timeout(1000) })
      .then(async (res) => {
        await res.arrayBuffer();
        return res.status === 200;
      })
      .catch(() => false);
    if (ok) break;
    await sleep(20);
  }
  const readyMs = performance.now() - started;

  return {
    pid,
    url,
    readyMs,
    rssMiB: () => readRssMiB(pid),
    sampleRss(everyMs = 250) {
      const samples: number[] = [];
      const timer = setInterval(() => {
        if (exitCode === undefined) samples.push(readRssMiB(pid));
      }, everyMs);
      return () => {
        clearInterval(timer);
        return samples;
      };
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      kill(child, opts.detached, 'SIGTERM');
      const timeout = sleep(20_000).then(() => 'timeout' as const);
      const result = await Promise.race([exited, timeout]);
      if (result === 'timeout') {
        kill(child, opts.detached, 'SIGKILL');
        return exited;
      }
      return result;
    },
    get exited() {
      return exitCode !== undefined;
    },
  };
}

function kill(child: ChildProcess, group: boolean | undefined, signal: NodeJS.Signals): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface BrokerOptions {
  databaseUrl: string;
  policyDir: string;
  dataDir: string;
  logFile: string;
  targetOrdersUrl: string;
  sweepIntervalSeconds?: number;
  logLevel?: string;
  /** Write a V8 CPU profile of the broker into this directory (node --cpu-prof). */
  cpuProfDir?: string;
}

/** The broker as production starts it, on 127.0.0.1 with a port of its own. */
export async function startBroker(opts: BrokerOptions): Promise<ServerProcess> {
  const port = await freePort();
  const profile = opts.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`];
  // BENCH_NODE_FLAGS: extra Node/V8 flags for experiments (e.g. "--max-semi-space-size=8").
  const nodeFlags = [...profile, ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [])];
  const launcher = path.join(BROKER_ROOT, 'bin', 'jit-broker');
  // A BENCH_BROKER_ROOT checkout from before bin/jit-broker ran the TypeScript through tsx.
  const compiled = existsSync(launcher);
  return spawnServer({
    cwd: BROKER_ROOT,
    command: compiled ? launcher : process.execPath,
    args: compiled ? nodeFlags : [...nodeFlags, '--import', 'tsx', path.join('src', 'main.ts')],
    env: {
      ...baseEnv(),
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: opts.databaseUrl,
      POLICY_DIR: opts.policyDir,
      DATA_DIR: opts.dataDir,
      BROKER_ISSUER: `http://127.0.0.1:${port}`,
      BROKER_MASTER_KEY: BENCH_MASTER_KEY,
      WEBHOOK_SECRET: BENCH_WEBHOOK_SECRET,
      LOG_LEVEL: opts.logLevel ?? 'info',
      SWEEP_INTERVAL_SECONDS: String(opts.sweepIntervalSeconds ?? 5),
      TARGET_ORDERS_URL: opts.targetOrdersUrl,
    },
    port,
    readyPath: '/readyz',
    logFile: opts.logFile,
  });
}

/** A bare Hono app on @hono/node-server: the HTTP ceiling of this machine and runtime. */
export async function startHonoBaseline(logFile: string): Promise<ServerProcess> {
  const port = await freePort();
  return spawnServer({
    args: ['--import', 'tsx', path.join('bench', 'hono-baseline.ts')],
    env: { ...baseEnv(), NODE_ENV: 'production', PORT: String(port) },
    port,
    readyPath: '/healthz',
    logFile,
  });
}
