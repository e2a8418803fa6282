// `jit-broker policy check [DIR]`: the offline validation a policy repository's CI runs. Exit 0
// for a valid directory, 1 with exactly the file:line lines a refused start-up prints.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { REPO_ROOT, runBroker } from '../helpers/broker-process.js';
import { runCli } from '../helpers/cli-broker.js';
import { createEmptyDatabase } from '../helpers/db.js';
import { copyExamplePolicies, writePolicyDir } from '../helpers/policy-dir.js';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const step of cleanup) await step();
});

describe('policy check', () => {
  test('the example policies are valid: exit 0, with a summary (and --json)', async () => {
    const dir = await copyExamplePolicies();
    const result = await runCli(['policy', 'check', dir], {});
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/: OK \(\d+ policies, \d+ templates, 1 issuers; version [0-9a-f]{64}\)$/);
    const json = JSON.parse((await runCli(['policy', 'check', dir, '--json'], {})).stdout);
    expect(json).toMatchObject({ ok: true, version: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  test('POLICY_DIR is the default directory', async () => {
    const dir = await writePolicyDir({
      policies: { 'bad.cedar': '@id("x")\npermit (principal, action resource);\n' },
    });
    const result = await runCli(['policy', 'check'], { POLICY_DIR: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad\.cedar:2/);
  });

  test('a broken set: exit 1 and the same lines as a refused start-up, needing no database', async () => {
    const dir = await writePolicyDir();
    await writeFile(
      path.join(dir, 'broken-syntax.cedar'),
      '@id("half-written")\npermit (principal, action resource);\n',
    );
    await writeFile(
      path.join(dir, 'duplicate.cedar'),
      '@id("test-agents-use-test-api")\npermit (principal, action, resource == Template::"test-api");\n',
    );
    const checked = await runCli(['policy', 'check', dir], {});
    expect(checked.code).toBe(1);
    expect(checked.stdout).toBe('');
    const lines = checked.stderr.split('\n').filter(Boolean);
    expect(lines.some((l) => /broken-syntax\.cedar:2/.test(l))).toBe(true);
    expect(lines.some((l) => /duplicate @id\("test-agents-use-test-api"\).*duplicate\.cedar:1/.test(l))).toBe(
      true,
    );

    const database = await createEmptyDatabase();
    cleanup.push(() => database.drop());
    const startUp = await runBroker({
      DATABASE_URL: database.url,
      POLICY_DIR: dir,
      DATA_DIR: path.join(dir, '.data'),
      BROKER_MASTER_KEY: Buffer.alloc(32, 3).toString('base64'),
    });
    expect(startUp.code).toBe(1);
    const startUpLines = startUp.stderr
      .split('\n')
      .filter((l) => l.startsWith('jit-broker: ') && l.includes(path.basename(dir)));
    expect(startUpLines.length).toBeGreaterThan(0);
    expect(lines).toEqual(startUpLines);
  });

  test('a directory that does not exist is a problem, not a crash', async () => {
    const result = await runCli(['policy', 'check', path.join(REPO_ROOT, 'no-such-policies')], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^jit-broker: .*no-such-policies: cannot read the policy directory \(ENOENT\)$/,
    );
  });
});
