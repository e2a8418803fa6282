// The zero-configuration start (`npm start` with no DATABASE_URL): the broker runs a real embedded
// PostgreSQL in DATA_DIR, says so, becomes ready, prints the quick start, serves a development
// token a credential from the example policies, and stops cleanly on SIGTERM, database included.
import { existsSync } from 'node:fs';
import { chmod, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type BrokerProcess, call, LOG_LEVEL, runScript, spawnBroker } from './helpers/broker-process.js';
import { copyExamplePolicies } from './helpers/policy-dir.js';

/** Every process whose command line names `dir` (a postgres started with -D dir, its children). */
async function processesUsing(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((arg) => arg.includes(dir))) found.push(Number(entry));
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `npm run -s dev:token`, with the broker's DATA_DIR: only the token on stdout. */
async function devToken(dataDir: string): Promise<string> {
  const run = await runScript('src/cli/dev-token.ts', [], { DATA_DIR: dataDir });
  expect(run.code, run.stderr).toBe(0);
  return run.stdout.trim();
}

let root: string;
let policyDir: string;
let dataDir: string;
let broker: BrokerProcess;

beforeAll(async () => {
  // <root>/policies is a copy of the example policies/, whose jwks_file entries name <root>/.data.
  policyDir = await copyExamplePolicies();
  root = path.dirname(policyDir);
  dataDir = path.join(root, '.data');
  // As root, PostgreSQL runs as the `postgres` user, which must be able to pass through <root>.
  if (process.getuid?.() === 0) await chmod(root, 0o711);
  broker = await spawnBroker({ POLICY_DIR: policyDir, DATA_DIR: dataDir, LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await broker?.stop('SIGTERM').catch(() => broker.stop('SIGKILL'));
  if (root) await rm(root, { recursive: true, force: true });
});

describe('npm start with no DATABASE_URL', () => {
  test('starts an embedded PostgreSQL in DATA_DIR (never on 5432), says so, and becomes ready', async () => {
    const embedded = await broker.waitForLog(
      (l) => /DATABASE_URL is not set: using an embedded PostgreSQL/.test(l.msg),
      90_000,
    );
    expect(embedded.level).toBe(LOG_LEVEL.info);
    expect(embedded.port).not.toBe(5432);
    expect(embedded.dataDir).toBe(path.join(dataDir, 'pg'));
    expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
    expect(Number(await readFile(path.join(dataDir, 'pg.port'), 'utf8'))).toBe(embedded.port);

    await broker.waitForLog((l) => l.msg === 'jit-broker is ready', 90_000);
    const ready = await call(`${broker.url}/readyz`);
    expect(ready.status, ready.text).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      policy_version: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // No BROKER_MASTER_KEY: a development key is generated, with a warning.
    expect(broker.logs.some((l) => l.level === LOG_LEVEL.warn && /master key/i.test(l.msg))).toBe(true);
  }, 120_000);

  test('prints how to get a first credential', async () => {
    await broker.waitForStderr(/jit-broker is ready on .*embedded PostgreSQL/, 90_000);
    const banner = broker.stderr.join('\n');
    // Its policies trust the keys in <root>/.data (their ../.data), this DATA_DIR: the line says so.
    expect(banner).toContain(`TOKEN=$(DATA_DIR=${dataDir} npm run -s dev:token)`);
    expect(banner).toContain(
      `curl -s -X POST http://localhost:${broker.port}/v1/credentials -H "Authorization: Bearer $TOKEN"`,
    );
    expect(banner).toContain('"template":"reports-api"');
  }, 120_000);

  test('a dev:token token gets the README credential from the example policies, verifiable with the JWKS', async () => {
    await broker.waitForLog((l) => l.msg === 'jit-broker is ready', 90_000);
    const token = await devToken(dataDir);
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const res = await call(`${broker.url}/v1/credentials`, {
      token,
      body: {
        template: 'reports-api',
        intent: { task_id: 't-42', purpose: 'monthly report', actions: ['reports:read'], resources: [] },
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.credential.type).toBe('jwt');
    const { payload } = await jwtVerify(
      res.body.credential.token,
      createRemoteJWKSet(new URL(`${broker.url}/.well-known/jwks.json`)),
      {
        audience: 'https://reports.internal',
      },
    );
    expect(payload).toMatchObject({
      sub: 'agent-reports',
      scope: 'reports:read',
      jti: res.body.lease_id,
      task_id: 't-42',
    });
    const introspection = await call(`${broker.url}/v1/introspect`, {
      body: { token: res.body.credential.token },
    });
    expect(introspection.body.active).toBe(true);
  }, 120_000);

  test('the demo orders database works end to end: a role for one task reads orders and nothing else', async () => {
    await broker.waitForLog((l) => l.msg === 'jit-broker is ready', 90_000);
    const token = await devToken(dataDir);
    const res = await call(`${broker.url}/v1/credentials`, {
      token,
      body: {
        template: 'orders-db-read',
        intent: {
          task_id: 't-43',
          purpose: 'count orders',
          actions: ['SELECT'],
          resources: ['public.orders'],
        },
      },
    });
    expect(res.status, res.text).toBe(201);
    const client = postgres(res.body.credential.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      expect(await client`select count(*)::int as n from public.orders`).toEqual([{ n: 1 }]);
      await expect(client`select * from public.payment_secrets`).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  }, 120_000);

  test('SIGTERM stops it cleanly: exit 0, and no postgres process is left holding the data directory', async () => {
    await broker.waitForLog((l) => l.msg === 'jit-broker is ready', 90_000);
    const databaseDir = path.join(dataDir, 'pg');
    const postmaster = Number(
      (await readFile(path.join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    expect(alive(postmaster)).toBe(true);
    expect(await processesUsing(databaseDir)).toContain(postmaster);

    expect(await broker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(broker.logs.map((l) => l.msg)).toContain('stopped');
    expect(alive(postmaster)).toBe(false);
    expect(await processesUsing(databaseDir)).toEqual([]);
    expect(existsSync(path.join(databaseDir, 'postmaster.pid'))).toBe(false);
  }, 60_000);
});
