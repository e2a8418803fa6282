// `jit-broker exec`, the real CLI as a subprocess against a real broker process: each credential
// kind reaches the child's environment, leases are renewed while a long child runs, the task is
// completed when the child exits (also on SIGTERM), and the child's exit code is exec's.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type CliBroker,
  introspect,
  leaseRow,
  ROLE_ARN,
  runCli,
  startCli,
  startCliBroker,
} from '../helpers/cli-broker.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (name: string) => path.join(FIXTURES, name);

let t: CliBroker;
let env: Record<string, string>;
beforeAll(async () => {
  t = await startCliBroker();
  env = { JIT_BROKER_URL: t.url, JIT_TOKEN_FILE: await t.tokenFile() };
});
afterAll(async () => {
  await t?.close();
});

const task = (() => {
  let n = 0;
  return (name: string) => `${name}-${Date.now()}-${n++}`;
})();

/** Lines of the child's JSON output (exec's stdout is the child's). */
const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));

describe('jwt', () => {
  test('the child gets JIT_TOKEN, JIT_LEASE_ID and JIT_TASK_ID; renewals keep the lease alive past its first TTL; exit completes the task and returns the code', async () => {
    const taskId = task('renew');
    const started = Date.now();
    const result = await runCli(
      [
        'exec',
        '--template',
        'short-api',
        '--task',
        taskId,
        '--action',
        'short:read',
        '--',
        process.execPath,
        fixture('renewals.mjs'),
        '3',
        '7',
        t.url,
      ],
      env,
    );
    expect(result.code, result.stderr).toBe(7);
    const [first, last] = jsonLines(result.stdout);
    expect(first).toMatchObject({ env_token_is_first: true, task: taskId });
    // Three renewals, each a fresh token; the newest one is still active after the first TTL ran out.
    expect(last).toMatchObject({ tokens: 4, distinct: 4, newest_active: true });
    expect(new Date(last.now).getTime()).toBeGreaterThan(new Date(first.first_expires_at).getTime());
    expect(Date.now() - started).toBeGreaterThan(3000);

    const renewed =
      await t.sql`select 1 from audit_events where lease_id = ${first.lease} and event = 'lease.renewed'`;
    expect(renewed.length).toBeGreaterThanOrEqual(3);
    expect((await leaseRow(t, first.lease))?.state).toBe('revoked');
  });

  test('SIGTERM goes to the child; the task is still completed (lease revoked, token inactive) and exec exits 128+15', async () => {
    const taskId = task('sigterm');
    // The identity token from the environment this time: the child must not receive it.
    const identity = { JIT_BROKER_URL: t.url, JIT_WORKLOAD_TOKEN: await t.agentToken() };
    const run = startCli(
      [
        'exec',
        '--template',
        'reports-api',
        '--task',
        taskId,
        '--action',
        'reports:read',
        '--',
        process.execPath,
        fixture('wait-for-signal.mjs'),
      ],
      identity,
    );
    const ready = JSON.parse(await run.waitFor(/"ready":true/, 'stdout'));
    expect(ready.workload_token).toBeNull();
    expect((await introspect(t, ready.token)).active).toBe(true);
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code, result.stderr).toBe(143);
    expect((await leaseRow(t, ready.lease))?.state).toBe('revoked');
    expect(await introspect(t, ready.token)).toEqual({ active: false });
  });

  test('a child that cannot be started: exit 127, and the lease is revoked anyway', async () => {
    const taskId = task('enoent');
    const result = await runCli(
      [
        'exec',
        '--template',
        'reports-api',
        '--task',
        taskId,
        '--action',
        'reports:read',
        '--',
        '/nonexistent/command',
      ],
      env,
    );
    expect(result.code).toBe(127);
    expect(result.stderr).toMatch(/cannot run \/nonexistent\/command: ENOENT/);
    const rows = await t.sql<{ state: string }[]>`select state from leases where task_id = ${taskId}`;
    expect(rows.map((r) => r.state)).toEqual(['revoked']);
  });

  test('a refused renewal ends the child with a clear message: the token file is re-read before each request', async () => {
    const taskId = task('refused');
    const tokenFile = await t.tokenFile();
    const run = startCli(
      [
        'exec',
        '--template',
        'short-api',
        '--task',
        taskId,
        '--action',
        'short:read',
        '--token-file',
        tokenFile,
        '--',
        process.execPath,
        fixture('wait-for-signal.mjs'),
      ],
      { JIT_BROKER_URL: t.url },
    );
    await run.waitFor(/"ready":true/, 'stdout');
    // The next renewal reads this token: an agent the renew forbid policy names.
    await writeFile(
      tokenFile,
      await t.agentToken('agent-reports', {
        'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'blocked-on-renew' } },
      }),
    );
    const result = await run.done;
    expect(result.stderr).toMatch(
      /renewal of lease \S+ refused \(Request denied by policy: .*\(policies: no-renewal-for-blocked\)\); stopping/,
    );
    expect(result.code).toBe(143);
  });
});

describe('postgres', () => {
  test('the child connects with PG* and DATABASE_URL as the lease role; the role is gone after exit', async () => {
    const taskId = task('pg');
    const result = await runCli(
      [
        'exec',
        '--template',
        'orders-db',
        '--task',
        taskId,
        '--action',
        'SELECT',
        '--resource',
        'public.orders',
        '--',
        process.execPath,
        fixture('postgres-child.mjs'),
      ],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    const [out] = jsonLines(result.stdout);
    expect(out).toMatchObject({ orders: 2, orders_via_url: 2 });
    expect(out.user).toBe(out.pguser);
    const roles = await t.target.sql`select 1 from pg_roles where rolname = ${out.user}`;
    expect(roles).toHaveLength(0);
    const rows = await t.sql<{ state: string }[]>`select state from leases where task_id = ${taskId}`;
    expect(rows.map((r) => r.state)).toEqual(['revoked']);
  });
});

describe('aws_sts', () => {
  const awsEnv = () => ({
    ...env,
    AWS_ENDPOINT_URL_STS: t.sts.url,
    HOME: t.dir,
    AWS_EC2_METADATA_DISABLED: 'true',
  });

  test('environment variables: the SDK calls GetCallerIdentity as the lease session', async () => {
    const taskId = task('aws-env');
    const result = await runCli(
      [
        'exec',
        '--template',
        's3-reports',
        '--task',
        taskId,
        '--action',
        's3:GetObject',
        '--',
        process.execPath,
        fixture('caller-identity.mjs'),
        'env',
      ],
      { ...awsEnv(), AWS_ACCESS_KEY_ID: 'AKIAPARENTSHOULDLOSE0', AWS_SECRET_ACCESS_KEY: 'parent' },
    );
    expect(result.code, result.stderr).toBe(0);
    const [out] = jsonLines(result.stdout);
    const [lease] = await t.sql<{ id: string }[]>`select id from leases where task_id = ${taskId}`;
    expect(out.arn).toBe(`arn:aws:sts::123456789012:assumed-role/agent-reports/${lease!.id}`);
    expect(out.access_key_id).toBe(t.sts.issued.at(-1)!.accessKeyId);
    expect(out.container_uri).toBeNull();
  });

  test('--aws-server: the SDK default chain and the container provider fetch from 127.0.0.1 with the token', async () => {
    for (const mode of ['env', 'container']) {
      const taskId = task(`aws-server-${mode}`);
      const result = await runCli(
        [
          'exec',
          '--aws-server',
          '--template',
          's3-reports',
          '--task',
          taskId,
          '--action',
          's3:GetObject',
          '--',
          process.execPath,
          fixture('caller-identity.mjs'),
          mode,
        ],
        { ...awsEnv(), AWS_ACCESS_KEY_ID: 'AKIAPARENTSHOULDLOSE0', AWS_SECRET_ACCESS_KEY: 'parent' },
      );
      expect(result.code, result.stderr).toBe(0);
      const [out] = jsonLines(result.stdout);
      expect(out.env_key).toBeNull();
      expect(out.container_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(out.arn).toBe(
        `${ROLE_ARN.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${(await t.sql<{ id: string }[]>`select id from leases where task_id = ${taskId}`)[0]!.id}`,
      );
      expect(out.access_key_id).toBe(t.sts.issued.at(-1)!.accessKeyId);
    }
  });

  test('--aws-server answers only the holder of its authorization token', async () => {
    const taskId = task('aws-server-auth');
    const script = `const u=process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;const a=await fetch(u);const b=await fetch(u,{headers:{authorization:'wrong'}});const c=await fetch(u,{headers:{authorization:process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN}});console.log(JSON.stringify({none:a.status,wrong:b.status,right:c.status,keys:Object.keys(await c.json()).sort()}))`;
    const result = await runCli(
      [
        'exec',
        '--aws-server',
        '--template',
        's3-reports',
        '--task',
        taskId,
        '--action',
        's3:GetObject',
        '--',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      awsEnv(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(jsonLines(result.stdout)[0]).toEqual({
      none: 403,
      wrong: 403,
      right: 200,
      keys: ['AccessKeyId', 'Expiration', 'SecretAccessKey', 'Token'],
    });
  });

  test('credential_process: the SDK fromProcess provider runs `jit-broker credential-process` and calls GetCallerIdentity', async () => {
    const taskId = task('aws-process');
    const config = path.join(t.dir, 'aws-config');
    const launcher = fileURLToPath(new URL('../../bin/jit-broker', import.meta.url));
    await writeFile(
      config,
      `[profile jit]\nregion = eu-west-1\ncredential_process = ${launcher} credential-process --template s3-reports --task ${taskId} --action s3:GetObject\n`,
    );
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [fixture('caller-identity.mjs'), 'process'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...awsEnv(),
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: path.join(t.dir, 'none'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, stderr).toBe(0);
    const [out] = jsonLines(stdout);
    const [lease] = await t.sql<
      { id: string; state: string }[]
    >`select id, state from leases where task_id = ${taskId}`;
    expect(lease?.state).toBe('active');
    expect(out.arn).toMatch(new RegExp(`assumed-role/agent-reports/${lease!.id}$`));
    expect(new Date(out.expiration).getTime()).toBeGreaterThan(Date.now());
  });
});
