// Policy reload (SIGHUP): a changed POLICY_DIR takes effect without a restart and gets a new
// version (sha256 of its files), recorded with every decision; a bad set is refused with a log
// line naming the file and the problem, and the set in force keeps serving.
import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { reloadPolicies } from '../../src/policy/reload-policies.js';
import {
  credentialRequest,
  startTestBroker,
  TEST_POLICIES,
  TEST_TEMPLATES,
  type TestBroker,
} from '../helpers/broker.js';
import { call, LOG_LEVEL, type LogLine, spawnBroker } from '../helpers/broker-process.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { createTestIssuer, issuerConfig } from '../helpers/issuer.js';
import { writePolicyDir } from '../helpers/policy-dir.js';

const BILLING_TEMPLATE = {
  provider: 'jwt',
  audience: 'https://billing.internal',
  scopes: ['billing:read'],
  default_ttl: '5m',
  max_ttl: '15m',
};

const BILLING_PERMIT = `// Reports agents may read billing too.
@id("reports-agents-read-billing")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"billing-api")
when { principal has namespace && principal.namespace == "reports" };
`;

const billingRequest = (taskId: string) =>
  credentialRequest({ template: 'billing-api' }, { task_id: taskId, actions: ['billing:read'] });

/** The three ways a policy set is refused: each file name, what the problem must say. */
const BAD_SETS: { name: string; file: string; text: string; problem: RegExp }[] = [
  {
    name: 'a syntax error',
    file: 'broken-syntax.cedar',
    text: '@id("half-written")\npermit (principal, action resource);\n',
    problem: /broken-syntax\.cedar:2/,
  },
  {
    name: 'a duplicate @id',
    file: 'duplicate-id.cedar',
    text: '@id("reports-agents-use-reports-api")\npermit (principal, action, resource == Template::"billing-api");\n',
    problem: /duplicate @id\("reports-agents-use-reports-api"\).*duplicate-id\.cedar:1/,
  },
  {
    name: 'a schema violation',
    file: 'schema-violation.cedar',
    text: '@id("uses-an-unknown-attribute")\npermit (principal, action, resource)\nwhen { principal.clearance == "top-secret" };\n',
    problem: /schema-violation\.cedar:\d+.*clearance/,
  },
];

function captureLogs() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('in process: the function SIGHUP calls', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker({
      templates: { ...TEST_TEMPLATES, 'billing-api': BILLING_TEMPLATE },
      policies: TEST_POLICIES,
    });
  });
  afterAll(async () => t?.close());

  async function mint(body: object) {
    return t.request('POST', '/v1/credentials', { token: await t.agentToken('agent-reload'), body });
  }

  async function decisionVersions(taskId: string): Promise<string[]> {
    const rows = await t.database.sql<{ policy_version: string }[]>`
      select policy_version from audit_events where event = 'decision' and intent->>'task_id' = ${taskId} order by id`;
    return rows.map((r) => r.policy_version);
  }

  test('a new permit takes effect on reload; the version changes in /readyz, the lease and the audit log', async () => {
    const before = (await t.request('GET', '/readyz')).body.policy_version as string;
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    const denied = await mint(billingRequest('t-before'));
    expect(denied.status).toBe(403);
    expect(denied.body.reasons.join(' ')).toMatch(/no permit/i);

    await writeFile(path.join(t.policyDir, 'billing.cedar'), BILLING_PERMIT);
    const { lines, logger } = captureLogs();
    const result = await reloadPolicies(t.policies, logger);
    try {
      expect(result).toMatchObject({ ok: true, changed: true });
      const after = (await t.request('GET', '/readyz')).body.policy_version as string;
      expect(after).toMatch(/^[0-9a-f]{64}$/);
      expect(after).not.toBe(before);
      expect(result.ok && result.version).toBe(after);
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: LOG_LEVEL.info,
          msg: 'policies reloaded',
          version: after,
          previousVersion: before,
        }),
      );

      const allowed = await mint(billingRequest('t-after'));
      expect(allowed.status, allowed.text).toBe(201);
      const [lease] = await t.database.sql<
        { policy_version: string }[]
      >`select policy_version from leases where id = ${allowed.body.lease_id}`;
      expect(lease!.policy_version).toBe(after);
      expect(await decisionVersions('t-before')).toEqual([before]);
      expect(await decisionVersions('t-after')).toEqual([after]);
    } finally {
      await unlink(path.join(t.policyDir, 'billing.cedar'));
      await reloadPolicies(t.policies, logger);
    }
  });

  test('a permit removed by reload stops new credentials at once', async () => {
    await writeFile(path.join(t.policyDir, 'billing.cedar'), BILLING_PERMIT);
    const { logger } = captureLogs();
    expect(await reloadPolicies(t.policies, logger)).toMatchObject({ ok: true, changed: true });
    expect((await mint(billingRequest('t-granted'))).status).toBe(201);

    await unlink(path.join(t.policyDir, 'billing.cedar'));
    expect(await reloadPolicies(t.policies, logger)).toMatchObject({ ok: true, changed: true });
    const res = await mint(billingRequest('t-withdrawn'));
    expect(res.status).toBe(403);
  });

  test('reloading unchanged files keeps the version and logs that nothing changed', async () => {
    const version = t.policies.current().version;
    const { lines, logger } = captureLogs();
    expect(await reloadPolicies(t.policies, logger)).toEqual({ ok: true, version, changed: false });
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: 'policies reloaded', changed: false, version }),
    );
  });

  for (const bad of BAD_SETS) {
    test(`a set with ${bad.name} is refused with an error naming the file; the set in force keeps serving`, async () => {
      const inForce = t.policies.current().version;
      await writeFile(path.join(t.policyDir, 'billing.cedar'), BILLING_PERMIT);
      await writeFile(path.join(t.policyDir, bad.file), bad.text);
      const { lines, logger } = captureLogs();
      try {
        const result = await reloadPolicies(t.policies, logger);
        expect(result.ok).toBe(false);
        expect(!result.ok && result.problems.join('\n')).toMatch(bad.problem);

        const refused = lines.filter((l) => l.level === LOG_LEVEL.error);
        expect(refused).toHaveLength(1);
        expect(refused[0]!.msg).toMatch(/policy reload refused/);
        expect(refused[0]!.msg).toMatch(bad.problem);
        expect(refused[0]!.problems).toEqual(expect.arrayContaining([expect.stringMatching(bad.problem)]));
        expect(refused[0]!.version).toBe(inForce);

        // Nothing of the refused set applies, not even its valid billing permit.
        expect(t.policies.current().version).toBe(inForce);
        expect((await t.request('GET', '/readyz')).body.policy_version).toBe(inForce);
        expect((await mint(credentialRequest({}, { task_id: `t-${bad.file}` }))).status).toBe(201);
        expect((await mint(billingRequest(`t-billing-${bad.file}`))).status).toBe(403);
      } finally {
        await unlink(path.join(t.policyDir, bad.file));
        await unlink(path.join(t.policyDir, 'billing.cedar'));
      }
      expect(await reloadPolicies(t.policies, logger)).toMatchObject({
        ok: true,
        version: inForce,
        changed: false,
      });
    });
  }
});

describe('the real process: kill -HUP', () => {
  test('SIGHUP applies a new permit, refuses a broken set with a log line naming the file, and SIGTERM still stops cleanly', async () => {
    const database = await createEmptyDatabase();
    const issuer = await createTestIssuer({ alg: 'ES256', jwks: 'file' });
    const policyDir = await writePolicyDir({
      issuers: [
        issuerConfig(issuer, { name: 'test', attributes: { namespace: ['kubernetes.io', 'namespace'] } }),
      ],
      templates: { ...TEST_TEMPLATES, 'billing-api': BILLING_TEMPLATE },
      policies: TEST_POLICIES,
    });
    const broker = await spawnBroker({
      DATABASE_URL: database.url,
      POLICY_DIR: policyDir,
      DATA_DIR: path.join(policyDir, '.data'),
      BROKER_MASTER_KEY: randomBytes(32).toString('base64'),
      BROKER_ISSUER: 'https://broker.test.local',
      LOG_LEVEL: 'info',
    });
    try {
      const ready = await broker.waitForLog((l) => l.msg === 'jit-broker is ready');
      const token = await issuer.sign({ sub: 'agent-hup', 'kubernetes.io': { namespace: 'reports' } });
      const mint = (taskId: string) =>
        call(`${broker.url}/v1/credentials`, { token, body: billingRequest(taskId) });
      const version = async () => (await call(`${broker.url}/readyz`)).body.policy_version as string;

      expect((await mint('t-1')).status).toBe(403);
      const first = await version();
      expect(first).toBe(ready.policyVersion);

      await writeFile(path.join(policyDir, 'billing.cedar'), BILLING_PERMIT);
      let mark = broker.logs.length;
      broker.child.kill('SIGHUP');
      const reloaded = await broker.waitForLog(
        (l) => l.msg === 'policies reloaded' && broker.logs.indexOf(l) >= mark,
      );
      expect(reloaded).toMatchObject({ changed: true, previousVersion: first });
      expect(await version()).toBe(reloaded.version);
      const allowed = await mint('t-2');
      expect(allowed.status, allowed.text).toBe(201);

      await writeFile(
        path.join(policyDir, 'zz-broken.cedar'),
        '@id("broken")\npermit (principal, action, resource) when { };\n',
      );
      mark = broker.logs.length;
      broker.child.kill('SIGHUP');
      const refused = await broker.waitForLog(
        (l) => /policy reload refused/.test(l.msg) && broker.logs.indexOf(l) >= mark,
      );
      expect(refused.level).toBe(LOG_LEVEL.error);
      expect(refused.msg).toMatch(/zz-broken\.cedar:2/);
      expect(refused.version).toBe(reloaded.version);
      expect(broker.child.exitCode).toBeNull();
      expect(await version()).toBe(reloaded.version);
      expect((await mint('t-3')).status).toBe(201);

      expect(await broker.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await broker.stop('SIGKILL').catch(() => undefined);
      await issuer.close();
      await database.drop();
    }
  }, 90_000);
});
