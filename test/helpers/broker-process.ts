// The real broker process (`bin/jit-broker` on the dist/ that test/global-setup.ts compiles, as
// `npm start` and the image run it), for tests of what only a process has:
// signals (SIGHUP reload, SIGTERM stop), the embedded database, the start-up banner. Every stdout
// line (pino JSON) and stderr line is kept; waits are on those lines arriving, with a deadline.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ScriptExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry of the repository (`src/cli/…`) to its end, as npm runs it, with only
 * PATH, HOME and `env` in its environment; killed after `timeoutMs`.
 */
export function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ScriptExit> {
  return runToEnd(process.execPath, ['--import', 'tsx', script, ...args], env, timeoutMs);
}

/** Runs the broker (`bin/jit-broker`) to its end, e.g. a start refused for its configuration. */
export function runBroker(env: Record<string, string>, timeoutMs = 30_000): Promise<ScriptExit> {
  return runToEnd(BROKER_LAUNCHER, [], env, timeoutMs);
}

export const BROKER_LAUNCHER = path.join(REPO_ROOT, 'bin', 'jit-broker');

function runToEnd(
  command: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<ScriptExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** One pino log line of the broker. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export const LOG_LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  url: string;
  logs: LogLine[];
  stderr: string[];
  /** Resolves with the process's exit code and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The first log line (already logged or yet to come) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** The first stderr line that matches. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Log lines after the `from`-th: what happened since a mark (`logs.length`). */
  since(from: number): LogLine[];
  /** Sends `signal` (SIGTERM by default) and waits for the exit. */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the broker with exactly `env` (plus PATH and HOME, and PORT when not given): nothing of
 * the test runner's environment (a DATABASE_URL, TARGET_*_URL) leaks in.
 */
export async function spawnBroker(env: Record<string, string>): Promise<BrokerProcess> {
  const port = env.PORT !== undefined ? Number(env.PORT) : await freePort();
  const child = spawn(BROKER_LAUNCHER, [], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      HOST: '127.0.0.1',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const events = new EventEmitter();
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      logs.push(JSON.parse(text) as LogLine);
    } catch {
      logs.push({ level: 0, msg: text });
    }
    events.emit('line');
  });
  createInterface({ input: child.stderr! }).on('line', (text) => {
    stderr.push(text);
    events.emit('line');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      events.emit('exit');
      resolve({ code, signal });
    });
  });

  function waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        cleanup();
        resolve(found);
      };
      const onExit = () => {
        // Lines written just before the exit may still be in the pipe: look once more.
        setImmediate(() => {
          const found = find();
          cleanup();
          if (found !== undefined) resolve(found);
          else reject(new Error(`the broker exited before ${what}\n${transcript()}`));
        });
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${what} within ${timeoutMs} ms\n${transcript()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        events.off('line', check);
        events.off('exit', onExit);
      };
      events.on('line', check);
      events.once('exit', onExit);
      check();
      if (child.exitCode !== null || child.signalCode !== null) onExit();
    });
  }

  const transcript = () =>
    [
      '--- stdout ---',
      ...logs.slice(-30).map((l) => JSON.stringify(l)),
      '--- stderr ---',
      ...stderr.slice(-30),
    ].join('\n');

  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    logs,
    stderr,
    exited,
    since: (from) => logs.slice(from),
    waitForLog: (match, timeoutMs = 30_000) =>
      waitFor(() => logs.find(match), 'matching log line', timeoutMs),
    waitForStderr: (pattern, timeoutMs = 30_000) =>
      waitFor(() => stderr.find((line) => pattern.test(line)), `stderr line matching ${pattern}`, timeoutMs),
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`the broker did not exit within ${timeoutMs} ms of ${signal}\n${transcript()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The broker's answer to a real HTTP request, body parsed when it is JSON. */
export async function call(
  url: string,
  init: { method?: string; token?: string; body?: unknown } = {},
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body, text };
}

/** Polls `check` (a database read, usually) until it holds; returns how long that took (ms). */
export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs)
      throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return performance.now() - started;
}
