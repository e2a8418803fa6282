// `npm start` on a fresh clone (bin/jit-broker, embedded database, the example policies): the
// development staff IdP serves the policy's staff issuer on 127.0.0.1, the banner prints its two
// demo users with their passwords, and in Chromium a demo user signs in to /console through it and
// approves the pending `reports-admin` request, which the agent then collects. With DATABASE_URL
// set, no development IdP runs.
import { existsSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureDevIssuers } from '../../../src/identity/dev-issuers.js';
import { type BrokerProcess, call, freePort, runScript, spawnBroker } from '../../helpers/broker-process.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { type FakeSts, startFakeSts } from '../../helpers/fake-sts.js';
import { copyExamplePolicies } from '../../helpers/policy-dir.js';
import { CHROMIUM, launchChromium, signInInBrowser } from './chromium.js';

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium)
  console.warn(`dev-staff-idp.process.test.ts: the browser test is skipped: ${CHROMIUM} is not installed`);

/** The example policies, with the development staff issuer moved to a port of this test's own. */
async function examplePoliciesWithIdpPort(port: number): Promise<string> {
  const dir = await copyExamplePolicies();
  const file = path.join(dir, 'broker.yaml');
  const yaml = await readFile(file, 'utf8');
  expect(yaml).toContain('issuer: http://127.0.0.1:8090');
  await writeFile(file, yaml.replace('issuer: http://127.0.0.1:8090', `issuer: http://127.0.0.1:${port}`));
  return dir;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Local addresses with a listening TCP socket on `port` (from /proc/net/tcp and tcp6). */
async function listenAddresses(port: number): Promise<string[]> {
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || local === undefined) continue; // 0A = LISTEN
      const [address, hexPort] = local.split(':');
      if (Number.parseInt(hexPort ?? '', 16) === port) found.push(address ?? '');
    }
  }
  return found;
}

describe('npm start: the development staff IdP', () => {
  let root: string;
  let policyDir: string;
  let broker: BrokerProcess;
  let idpPort: number;
  let banner: string;
  let sts: FakeSts;

  beforeAll(async () => {
    idpPort = await freePort();
    policyDir = await examplePoliciesWithIdpPort(idpPort);
    root = path.dirname(policyDir);
    // The policies trust <root>/.data (an earlier start made its keys); DATA_DIR is elsewhere.
    await ensureDevIssuers(path.join(root, '.data'));
    if (process.getuid?.() === 0) await chmod(root, 0o711);
    sts = await startFakeSts();
    broker = await spawnBroker({
      POLICY_DIR: policyDir,
      DATA_DIR: path.join(root, 'data'),
      LOG_LEVEL: 'info',
      AWS_ENDPOINT_URL_STS: sts.url,
      AWS_ACCESS_KEY_ID: 'AKIAFAKEFORTESTS0001',
      AWS_SECRET_ACCESS_KEY: 'fake-secret-for-the-fake-sts',
    });
    await broker.waitForStderr(/jit-broker is ready on/, 90_000);
    await broker.waitForStderr(/may not approve/, 5000);
    banner = broker.stderr.join('\n');
  }, 120_000);

  afterAll(async () => {
    await broker?.stop('SIGTERM').catch(() => broker.stop('SIGKILL'));
    await sts?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const passwordOf = (login: string) => {
    const password = new RegExp(`^\\s+${login}\\s+password (\\S+)`, 'm').exec(banner)?.[1];
    if (password === undefined) throw new Error(`no password for ${login} in the banner:\n${banner}`);
    return password;
  };

  /** Runs the banner's `TOKEN=$(…)` command as a shell would: its VAR=value prefix, then dev:token. */
  async function bannerToken(): Promise<string> {
    const command = /TOKEN=\$\((.*)\)$/m.exec(banner)?.[1];
    expect(command, banner).toBeDefined();
    const env: Record<string, string> = {};
    const words = command!.split(' ');
    while (/^[A-Z_]+=/.test(words[0] ?? '')) {
      const [name, ...value] = words.shift()!.split('=');
      env[name!] = value.join('=');
    }
    expect(words.join(' ')).toBe('npm run -s dev:token');
    const run = await runScript('src/cli/dev-token.ts', [], env);
    expect(run.code, run.stderr).toBe(0);
    return run.stdout.trim();
  }

  test('the banner prints two demo users with their passwords, one of them in security-oncall', () => {
    expect(banner).toContain(`sign in at the development staff IdP (http://127.0.0.1:${idpPort})`);
    expect(banner).toMatch(/^\s+alice\s+password \S{12}\s+\(security-oncall: may approve\)$/m);
    expect(banner).toMatch(/^\s+bob\s+password \S{12}\s+\(engineering: may not approve\)$/m);
    expect(passwordOf('alice')).not.toBe(passwordOf('bob'));
    // Not the example directory of this checkout: the banner does not call it that.
    expect(banner).toContain(`(embedded PostgreSQL, policies in ${policyDir})`);
  });

  test("with another DATA_DIR and POLICY_DIR, the banner's dev:token line mints a token this broker accepts", async () => {
    const res = await call(`${broker.url}/v1/credentials`, {
      token: await bannerToken(),
      body: {
        template: 'reports-api',
        intent: { task_id: 't-42', purpose: 'monthly report', actions: ['reports:read'], resources: [] },
      },
    });
    expect(res.status, res.text).toBe(201);
  });

  test('it listens on 127.0.0.1 only, and serves the staff issuer from broker.yaml', async () => {
    expect(await listenAddresses(idpPort)).toEqual(['0100007F']);
    const discovery = await call(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(discovery.body).toMatchObject({
      issuer: `http://127.0.0.1:${idpPort}`,
      code_challenge_methods_supported: ['S256'],
    });
  });

  test("every line the broker writes is JSON: the IdP library's notices and the AWS SDK's warnings included", async () => {
    // The first STS call is when the AWS SDK warns about the Node version (on Node < 22).
    const res = await call(`${broker.url}/v1/credentials`, {
      token: await bannerToken(),
      body: {
        template: 's3-reports',
        intent: { task_id: 't-s3', purpose: 'read reports', actions: ['s3:GetObject'], resources: [] },
      },
    });
    expect(res.status, res.text).toBe(201);
    expect(sts.requests).toHaveLength(1);
    expect(broker.logs.length).toBeGreaterThan(3);
    expect(broker.logs.filter((l) => l.level === 0)).toEqual([]);
    expect(
      broker.stderr.filter((line) => /^\(node:\d+\)|NodeVersionSupportWarning|oidc-provider/.test(line)),
    ).toEqual([]);
    if (Number(process.versions.node.split('.')[0]) < 22) {
      const warning = await broker.waitForLog((l) => l.msg === 'process warning', 5000);
      expect(JSON.stringify(warning)).toContain('NodeVersionSupportWarning');
    }
  });

  test.skipIf(!hasChromium)(
    'in Chromium: a wrong password is refused; alice signs in and approves the pending reports-admin request; the agent collects it',
    async () => {
      const token = await bannerToken();
      const asked = await call(`${broker.url}/v1/credentials`, {
        token,
        body: {
          template: 'reports-admin',
          intent: {
            task_id: 't-44',
            purpose: 'rebuild the report index',
            actions: ['reports:admin'],
            resources: [],
          },
        },
      });
      expect(asked.status, asked.text).toBe(202);
      const approvalId: string = asked.body.approval_id;

      const publicUrl = `http://localhost:${broker.port}`;
      const browser = await launchChromium();
      try {
        const page = await browser.context.newPage();
        await page.goto(`${publicUrl}/console`);
        expect(page.url()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${idpPort}/interaction/`));
        await page.locator('input[name="login"]').fill('alice');
        await page.locator('input[name="password"]').fill('not-the-password');
        await page.locator('button[type="submit"]').click();
        await page.locator('[role="alert"]').waitFor();
        expect(await page.locator('[role="alert"]').textContent()).toBe('Wrong login or password.');

        await signInInBrowser(page, publicUrl, 'alice', passwordOf('alice'));
        expect(await page.locator('header .who').textContent()).toContain('Alice Ng');
        const row = page.locator(`tr[data-approval-id="${approvalId}"]`);
        await row.waitFor();
        expect(await row.textContent()).toContain('rebuild the report index');
        await Promise.all([
          page.waitForURL(`**/console/approvals/${approvalId}`),
          row.getByRole('link', { name: 'Review' }).click(),
        ]);
        await page.locator('#reason').fill('index rebuild agreed in the on-call channel');
        await Promise.all([
          page.waitForURL(`${publicUrl}/console?notice=approved`),
          page.locator('#approve').click(),
        ]);
        expect((await page.locator('#notice').textContent())?.trim()).toBe('The request was approved.');
      } finally {
        await browser.close();
      }

      const collected = await call(`${broker.url}/v1/approvals/${approvalId}`, { token });
      expect(collected.status, collected.text).toBe(201);
      expect(collected.body.credential.type).toBe('jwt');
    },
    120_000,
  );
});

describe('with DATABASE_URL set', () => {
  let database: TestDatabase;
  let broker: BrokerProcess;
  let root: string;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await broker?.stop('SIGTERM').catch(() => broker.stop('SIGKILL'));
    await database?.drop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('no development staff IdP runs, whatever broker.yaml names', async () => {
    const idpPort = await freePort();
    const policyDir = await examplePoliciesWithIdpPort(idpPort);
    root = path.dirname(policyDir);
    await ensureDevIssuers(path.join(root, '.data'));
    broker = await spawnBroker({
      DATABASE_URL: database.url,
      TARGET_ORDERS_URL: database.url,
      POLICY_DIR: policyDir,
      DATA_DIR: path.join(root, '.data'),
      LOG_LEVEL: 'info',
    });
    await broker.waitForLog((l) => l.msg === 'jit-broker is ready', 60_000);
    expect(await listening(idpPort)).toBe(false);
    expect(broker.logs.map((l) => l.msg).filter((m) => /staff IdP/.test(m))).toEqual([]);
    expect(broker.stderr.join('\n')).not.toMatch(/password/);
  }, 90_000);
});
