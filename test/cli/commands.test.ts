// The rest of the `jit-broker` command line against a real broker process: workload token
// sources in order, a step-up waited through (and --no-wait's exit 75), mint's three formats, the
// agent's lease commands, and the staff commands' tables and --json.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../helpers/broker-process.js';
import {
  type CliBroker,
  introspect,
  leaseRow,
  runCli,
  startCli,
  startCliBroker,
} from '../helpers/cli-broker.js';

let t: CliBroker;
let env: Record<string, string>;
beforeAll(async () => {
  t = await startCliBroker();
  env = { JIT_BROKER_URL: t.url, JIT_TOKEN_FILE: await t.tokenFile() };
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
const task = (name: string) => `${name}-${Date.now()}-${n++}`;
const mintArgs = (taskId: string, template = 'reports-api', action = 'reports:read') => [
  'mint',
  '--template',
  template,
  '--task',
  taskId,
  '--action',
  action,
];

describe('workload token sources', () => {
  test('none configured: one error naming all three sources, exit 1', async () => {
    const result = await runCli(mintArgs(task('none')), { JIT_BROKER_URL: t.url });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^jit-broker: no workload token: /);
    const lease = await runCli(['lease', '00000000-0000-4000-8000-000000000000'], { JIT_BROKER_URL: t.url });
    expect(lease.stderr).toBe(result.stderr);
    for (const name of [
      '--token-file',
      'JIT_TOKEN_FILE',
      'JIT_WORKLOAD_TOKEN',
      'ACTIONS_ID_TOKEN_REQUEST_URL',
      'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    ]) {
      expect(result.stderr).toContain(name);
    }
  });

  test('the file wins over the variable, the variable over GitHub Actions', async () => {
    const fileToken = await t.tokenFile('agent-from-file');
    const envToken = await t.agentToken('agent-from-env');
    const both = await runCli([...mintArgs(task('order')), '--json'], {
      JIT_BROKER_URL: t.url,
      JIT_TOKEN_FILE: fileToken,
      JIT_WORKLOAD_TOKEN: envToken,
      ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:9/never',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'never',
    });
    expect(both.code, both.stderr).toBe(0);
    const fromFile = JSON.parse(both.stdout);
    const [a] = await t.sql<{ agent: string }[]>`select agent from leases where id = ${fromFile.lease_id}`;
    expect(a?.agent).toBe('agent-from-file');

    const envOnly = await runCli([...mintArgs(task('order')), '--json'], {
      JIT_BROKER_URL: t.url,
      JIT_WORKLOAD_TOKEN: envToken,
      ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:9/never',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'never',
    });
    expect(envOnly.code, envOnly.stderr).toBe(0);
    const [b] = await t.sql<
      { agent: string }[]
    >`select agent from leases where id = ${JSON.parse(envOnly.stdout).lease_id}`;
    expect(b?.agent).toBe('agent-from-env');
  });

  describe('GitHub Actions OIDC', () => {
    let server: Server;
    let requestUrl: string;
    const seen: { authorization?: string; audience: string | null }[] = [];
    beforeAll(async () => {
      // The Actions token endpoint: the request token as bearer, the audience as a query parameter.
      server = createServer((req, res) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        seen.push({ authorization: req.headers.authorization, audience: url.searchParams.get('audience') });
        if (req.headers.authorization !== 'Bearer actions-request-token') {
          res.writeHead(401).end();
          return;
        }
        void t
          .agentToken('repo:acme/reports:ref:refs/heads/main', {
            aud: url.searchParams.get('audience') ?? 'none',
          })
          .then((value) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ count: 1, value }));
          });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      requestUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/_apis/token?api-version=2.0`;
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    test('the token is requested with audience jit-broker and used', async () => {
      const result = await runCli([...mintArgs(task('gha')), '--json'], {
        JIT_BROKER_URL: t.url,
        ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'actions-request-token',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(seen.at(-1)).toEqual({ authorization: 'Bearer actions-request-token', audience: 'jit-broker' });
      const [row] = await t.sql<
        { agent: string }[]
      >`select agent from leases where id = ${JSON.parse(result.stdout).lease_id}`;
      expect(row?.agent).toBe('repo:acme/reports:ref:refs/heads/main');
    });

    test('--audience changes the requested audience (here one the broker does not accept: 401)', async () => {
      const result = await runCli([...mintArgs(task('gha-aud')), '--audience', 'other'], {
        JIT_BROKER_URL: t.url,
        ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'actions-request-token',
      });
      expect(seen.at(-1)?.audience).toBe('other');
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^jit-broker: Unauthorized: /);
    });

    test('a refused Actions token request is a clear error', async () => {
      const result = await runCli(mintArgs(task('gha-bad')), {
        JIT_BROKER_URL: t.url,
        ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong',
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/GitHub Actions OIDC token request answered 401.*id-token: write/);
    });
  });
});

describe('mint and the lease commands', () => {
  test('--format env prints export lines a shell can eval; --json the API 201 body; the default a table', async () => {
    const taskId = task('formats');
    const asEnv = await runCli([...mintArgs(taskId), '--format', 'env'], env);
    expect(asEnv.code, asEnv.stderr).toBe(0);
    expect(asEnv.stdout).toMatch(/^export JIT_TOKEN='ey[^']+'$/m);
    expect(asEnv.stdout).toMatch(new RegExp(`^export JIT_TASK_ID='${taskId}'$`, 'm'));
    const json = JSON.parse((await runCli([...mintArgs(taskId), '--json'], env)).stdout);
    expect(json).toMatchObject({
      lease_id: expect.any(String),
      template: 'reports-api',
      credential: { type: 'jwt' },
    });
    const table = await runCli(mintArgs(taskId), env);
    expect(table.stdout).toMatch(/^lease_id\s+[0-9a-f-]{36}$/m);
    expect(table.stdout).toMatch(/^type\s+jwt$/m);
  });

  test('lease, renew, revoke and complete', async () => {
    const taskId = task('lifecycle');
    const first = JSON.parse((await runCli([...mintArgs(taskId), '--json'], env)).stdout);
    const second = JSON.parse((await runCli([...mintArgs(taskId), '--json'], env)).stdout);
    const shown = await runCli(['lease', first.lease_id], env);
    expect(shown.stdout).toMatch(/^state\s+active$/m);
    const renewed = JSON.parse(
      (await runCli(['renew', first.lease_id, '--ttl', '2m', '--json'], env)).stdout,
    );
    expect(renewed).toMatchObject({ lease_id: first.lease_id, state: 'active' });
    const revoked = await runCli(['revoke', first.lease_id, '--json'], env);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ state: 'revoked' });
    expect(await introspect(t, first.credential.token)).toEqual({ active: false });
    const completed = await runCli(['complete', taskId], env);
    expect(completed.code).toBe(0);
    expect(completed.stdout).toContain(second.lease_id);
    expect((await leaseRow(t, second.lease_id))?.state).toBe('revoked');
  });

  test('a denial prints the title, detail and deciding policies on one line and exits 1', async () => {
    const result = await runCli(mintArgs(task('denied'), 'reports-api', 'reports:export'), env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^jit-broker: Request denied by policy: .+ \(policies: forbid-unattended-export\)$/,
    );
  });

  test("someone else's lease is not found; an unknown broker is unreachable", async () => {
    const mine = JSON.parse((await runCli([...mintArgs(task('other')), '--json'], env)).stdout);
    const other = await runCli(['lease', mine.lease_id], {
      JIT_BROKER_URL: t.url,
      JIT_TOKEN_FILE: await t.tokenFile('agent-other'),
    });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^jit-broker: Not found: /);
    const port = await freePort();
    const down = await runCli(['lease', mine.lease_id, '--url', `http://127.0.0.1:${port}`], env);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`jit-broker: Broker unreachable: http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  test('usage errors exit 2; --help works on every subcommand', async () => {
    expect((await runCli(['mint', '--template', 'x'], env)).code).toBe(2);
    expect((await runCli(['mint', ...mintArgs('t').slice(1), '--ttl', 'soon'], env)).code).toBe(2);
    for (const sub of [
      ['mint'],
      ['exec'],
      ['leases'],
      ['audit', 'verify'],
      ['policy', 'check'],
      ['keys', 'rotate'],
      ['dev', 'token'],
      ['aws', 'emergency-deny'],
      ['serve'],
    ]) {
      const help = await runCli([...sub, '--help'], {});
      expect(help.code, sub.join(' ')).toBe(0);
      expect(`${help.stdout}${help.stderr}`, sub.join(' ')).toMatch(/usage/i);
    }
    const version = await runCli(['--version'], {});
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('step-up and the staff commands', () => {
  const staffEnv = async () => ({ JIT_BROKER_URL: t.url, JIT_STAFF_TOKEN: await t.staffToken() });

  test('exec waits through a step-up (approval id on stderr) that `jit-broker approve` grants, then runs the child', async () => {
    const taskId = task('stepup');
    const run = startCli(
      [
        'exec',
        '--template',
        'reports-admin',
        '--task',
        taskId,
        '--action',
        'reports:admin',
        '--',
        process.execPath,
        '-e',
        'console.log(JSON.stringify({token: process.env.JIT_TOKEN}))',
      ],
      env,
    );
    const line = await run.waitFor(/waiting for step-up approval/);
    const approvalId = /approval ([0-9a-f-]{36})/.exec(line)![1]!;

    const pending = await runCli(['approvals', '--status', 'pending'], await staffEnv());
    expect(pending.stdout.split('\n')[0]).toMatch(/^APPROVAL\s+STATUS\s+TEMPLATE\s+AGENT\s+TASK/);
    expect(pending.stdout).toMatch(
      new RegExp(`^${approvalId}\\s+pending\\s+reports-admin\\s+agent-reports\\s+${taskId}`, 'm'),
    );

    const approved = await runCli(['approve', approvalId, '--reason', 'on-call ticket 7'], await staffEnv());
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/^status\s+approved$/m);

    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    const { token } = JSON.parse(result.stdout.split('\n').find((l) => l.startsWith('{'))!);
    expect(token).toMatch(/^ey/);
    expect(await introspect(t, token)).toEqual({ active: false });
  });

  test('SIGTERM while exec waits for approval: exit 143, the command never runs, the request is withdrawn', async () => {
    const taskId = task('stepup-sigterm');
    const run = startCli(
      [
        'exec',
        '--template',
        'reports-admin',
        '--task',
        taskId,
        '--action',
        'reports:admin',
        '--',
        process.execPath,
        '-e',
        'console.log("ran")',
      ],
      env,
    );
    const line = await run.waitFor(/waiting for step-up approval/);
    const leaseId = /lease ([0-9a-f-]{36})/.exec(line)![1]!;
    const approvalId = /approval ([0-9a-f-]{36})/.exec(line)![1]!;
    run.child.kill('SIGTERM');
    const result = await run.done;
    expect(result.code).toBe(143);
    expect(result.stdout).not.toContain('ran');
    expect(result.stderr).toMatch(/interrupted by SIGTERM/);
    // Completing the task on the way out withdrew the pending request.
    expect((await leaseRow(t, leaseId))?.state).toBe('denied');
    const listed = JSON.parse((await runCli(['approvals', '--json'], await staffEnv())).stdout);
    expect(listed.items.find((a: { approval_id: string }) => a.approval_id === approvalId)?.status).not.toBe(
      'pending',
    );
  });

  test('--aws-server with a template that is not aws_sts: exit 2, and the lease is revoked', async () => {
    const taskId = task('aws-server-jwt');
    const result = await runCli(
      [
        'exec',
        '--aws-server',
        '--template',
        'reports-api',
        '--task',
        taskId,
        '--action',
        'reports:read',
        '--',
        'true',
      ],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--aws-server needs an aws_sts template; "reports-api" is jwt/);
    const rows = await t.sql<{ state: string }[]>`select state from leases where task_id = ${taskId}`;
    expect(rows.map((r) => r.state)).toEqual(['revoked']);
  });

  test('--no-wait exits 75 naming the approval; `jit-broker deny` then refuses it', async () => {
    const taskId = task('nowait');
    const result = await runCli(
      [
        'exec',
        '--no-wait',
        '--template',
        'reports-admin',
        '--task',
        taskId,
        '--action',
        'reports:admin',
        '--',
        'true',
      ],
      env,
    );
    expect(result.code).toBe(75);
    const approvalId = /approval ([0-9a-f-]{36}) is pending/.exec(result.stderr)![1]!;
    const denied = await runCli(['deny', approvalId, '--reason', 'not today', '--json'], await staffEnv());
    expect(JSON.parse(denied.stdout)).toMatchObject({ approval_id: approvalId, status: 'denied' });
    expect((await runCli(['deny', approvalId], await staffEnv())).code).toBe(2);
  });

  test('leases (table and --json), bulk revoke by task, audit verify', async () => {
    const taskId = task('staff');
    const minted = JSON.parse((await runCli([...mintArgs(taskId), '--json'], env)).stdout);
    const staff = await staffEnv();
    const table = await runCli(['leases', '--task', taskId], staff);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      new RegExp(
        `^LEASE\\s+STATE.*\\n${minted.lease_id}\\s+active\\s+reports-api\\s+agent-reports\\s+${taskId}`,
      ),
    );
    const json = JSON.parse((await runCli(['leases', '--task', taskId, '--json'], staff)).stdout);
    expect(json.items.map((l: { lease_id: string }) => l.lease_id)).toEqual([minted.lease_id]);
    // Every state the API filters by is accepted, revoke_failed included.
    const failed = await runCli(['leases', '--task', taskId, '--state', 'revoke_failed', '--json'], staff);
    expect(failed.code, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout).items).toEqual([]);

    expect((await runCli(['revoke', '--task', taskId], staff)).code).toBe(2);
    const revoked = await runCli(['revoke', '--task', taskId, '--reason', 'incident 12', '--json'], staff);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ revoked: [minted.lease_id] });
    expect((await leaseRow(t, minted.lease_id))?.state).toBe('revoked');

    const verify = await runCli(['audit', 'verify'], staff);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^audit log intact: \d+ record\(s\) checked/);
  });

  test('staff commands without a staff token, or with a workload token, are refused (exit 1)', async () => {
    const none = await runCli(['leases'], { JIT_BROKER_URL: t.url });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no staff token: set --staff-token-file .* or JIT_STAFF_TOKEN/);
    // GET /v1/leases also serves agents their own leases, so the staff-only approvals list is the probe.
    const wrong = await runCli(['approvals', '--staff-token-file', env.JIT_TOKEN_FILE!], {
      JIT_BROKER_URL: t.url,
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^jit-broker: Forbidden: /);
  });
});
