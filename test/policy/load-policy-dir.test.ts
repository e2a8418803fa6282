import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyDir, PolicyLoadError } from '../../src/policy/load-policy-dir.js';
import {
  copyExamplePolicies,
  DEFAULT_ISSUER,
  DEFAULT_POLICIES,
  DEFAULT_TEMPLATES,
  writePolicyDir,
} from '../helpers/policy-dir.js';

async function problemsOf(dir: string, opts?: Parameters<typeof loadPolicyDir>[1]): Promise<string[]> {
  const error = await loadPolicyDir(dir, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PolicyLoadError);
  const problems = (error as PolicyLoadError).problems;
  expect((error as PolicyLoadError).message).toBe(problems.join('\n'));
  return problems;
}

const permit = (id: string, extra = '') =>
  `${extra}@id("${id}")\npermit (principal, action, resource == Template::"test-api");\n`;

describe('the example policy directory', () => {
  it('loads with its templates, issuers, staff and policy ids', async () => {
    const dir = await copyExamplePolicies();
    const set = await loadPolicyDir(dir);
    expect([...set.templates.keys()].sort()).toEqual([
      'orders-db-read',
      'reports-admin',
      'reports-api',
      's3-reports',
    ]);
    expect(set.templates.get('reports-api')).toMatchObject({
      name: 'reports-api',
      default_ttl: 300,
      max_ttl: 900,
    });
    expect(set.issuers.map((i) => i.name)).toEqual(['dev']);
    expect(set.staff?.client_id).toBe('jit-broker-console');
    expect(set.policyIds).toContain('reports-agents-mint-reports');
    expect(set.policyIds).toContain('forbid-unattended-export');
    expect(set.version).toMatch(/^[0-9a-f]{64}$/);
  });

  it('runs extraChecks against the loaded set, which can find the example JWKS files', async () => {
    const dir = await copyExamplePolicies();
    const set = await loadPolicyDir(dir, {
      extraChecks: async (s) => {
        const problems: string[] = [];
        for (const issuer of s.issuers) {
          if (issuer.jwks_file)
            await readFile(path.resolve(s.dir, issuer.jwks_file)).catch(() => problems.push('gone'));
        }
        return problems;
      },
    });
    expect(set.dir).toBe(path.resolve(dir));
  });
});

describe('broker.yaml problems stop the load', () => {
  it('names file and line for a YAML syntax error', async () => {
    const dir = await writePolicyDir({ yaml: 'issuers:\n  - name: a\n templates: [\n' });
    const problems = await problemsOf(dir);
    expect(problems[0]).toMatch(/broker\.yaml:\d+: /);
  });

  it('rejects a repeated key instead of letting the last one win', async () => {
    const dir = await writePolicyDir({ yaml: 'templates: {}\ntemplates: {}\nissuers: []\n' });
    expect((await problemsOf(dir))[0]).toMatch(/broker\.yaml:2: .*unique/);
  });

  it('rejects an unknown key, naming its path', async () => {
    const dir = await writePolicyDir({
      templates: { 'test-api': { ...DEFAULT_TEMPLATES['test-api'], scope: ['x'] } },
    });
    expect(await problemsOf(dir)).toEqual([
      expect.stringMatching(/broker\.yaml: templates\.test-api\.scope: unknown key$/),
    ]);
  });

  it('names file, path and value of a bad duration', async () => {
    const dir = await writePolicyDir({
      templates: { 'reports-api': { ...DEFAULT_TEMPLATES['test-api'], max_ttl: '5x' } },
    });
    const problems = await problemsOf(dir);
    expect(problems).toContainEqual(
      expect.stringMatching(/broker\.yaml: templates\.reports-api\.max_ttl: "5x" is not a duration/),
    );
  });

  it('says which required field is missing', async () => {
    const { audience: _, ...noAudience } = DEFAULT_ISSUER;
    const dir = await writePolicyDir({ issuers: [noAudience] });
    expect(await problemsOf(dir)).toContainEqual(
      expect.stringMatching(/broker\.yaml: issuers\.0\.audience: is required$/),
    );
  });

  it('reports checkTemplate problems under the template', async () => {
    const dir = await writePolicyDir();
    const problems = await problemsOf(dir, { checkTemplate: (t) => [`${t.provider} needs something`] });
    expect(problems).toEqual([
      expect.stringMatching(/broker\.yaml: templates\.test-api: jwt needs something$/),
    ]);
  });

  it('requires every mapped attribute to be declared on Agent in the schema', async () => {
    const dir = await writePolicyDir({ issuers: [{ ...DEFAULT_ISSUER, attributes: { team: 'team' } }] });
    expect(await problemsOf(dir)).toContainEqual(
      expect.stringMatching(/broker\.yaml: issuers\.0\.attributes\.team: not declared on entity Agent/),
    );
  });

  it('reports a missing broker.yaml', async () => {
    const dir = await writePolicyDir();
    await rm(path.join(dir, 'broker.yaml'));
    expect(await problemsOf(dir)).toContainEqual(expect.stringMatching(/broker\.yaml: missing$/));
  });
});

describe('Cedar problems stop the load with file:line', () => {
  it('names file and line of a parse error', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': `${permit('ok')}\n// broken below\n@id("bad")\npermit (principal, action, resource)\nwhen { principal.namespace == };\n`,
      },
    });
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/a\.cedar:7: unexpected token/)]);
  });

  it('counts lines correctly after non-ASCII text (Cedar reports byte offsets)', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': `// Ünïcödé — ✓\n// ✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓✓\n\n@id("x") permit (principal, action, resource) when { ~ };\n`,
      },
    });
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/a\.cedar:4: /)]);
  });

  it('requires an @id on every policy', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': `${permit('first')}\n// no id\npermit (principal, action, resource == Template::"test-api");\n`,
      },
    });
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/a\.cedar:5: policy has no @id/)]);
  });

  it('rejects an id used twice across files, naming both places', async () => {
    const dir = await writePolicyDir({
      policies: { 'a.cedar': permit('same'), 'b.cedar': `\n\n${permit('same')}` },
    });
    expect(await problemsOf(dir)).toEqual([
      expect.stringMatching(/b\.cedar:3: duplicate @id\("same"\) \(first defined at .*a\.cedar:1\)/),
    ]);
  });

  it('names file and line of a schema violation (an undeclared attribute)', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': `${permit('fine')}\n@id("uses-team")\npermit (principal, action, resource)\nwhen {\n  principal.team == "x"\n};\n`,
      },
    });
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/a\.cedar:7: attribute `team`.*not found/)]);
  });

  it('rejects a policy that can never match (a misspelt attribute behind `has`)', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': `${permit('fine')}\n// inert guardrail\n@id("never")\nforbid (principal, action, resource)\nwhen { principal has namespce };\n`,
      },
    });
    expect(await problemsOf(dir)).toEqual([expect.stringMatching(/a\.cedar:5: policy is impossible/)]);
  });

  it('rejects reading an optional attribute without testing for it first', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar':
          '@id("unsafe")\npermit (principal, action, resource)\nwhen { principal.namespace == "test" };\n',
      },
    });
    expect(await problemsOf(dir)).toEqual([
      expect.stringMatching(/a\.cedar:3: .*optional attribute `namespace`/),
    ]);
  });

  it('rejects a policy naming a template broker.yaml does not define', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': '@id("typo")\npermit (principal, action, resource == Template::"test-apii");\n',
      },
    });
    expect(await problemsOf(dir)).toEqual([
      expect.stringMatching(/a\.cedar:1: Template::"test-apii" is not a template/),
    ]);
  });

  it('rejects bad obligation values and unknown annotations', async () => {
    const dir = await writePolicyDir({
      policies: {
        'a.cedar': [
          permit('ttl-text', '@max_ttl("10m")\n'),
          permit('zero-approvals', '@step_up("oncall")\n@approvals("0")\n'),
          permit('typo', '@stepup("oncall")\n'),
          '@id("forbid-with-ttl")\n@max_ttl("60")\nforbid (principal, action, resource);\n',
          permit('approvals-alone', '@approvals("2")\n'),
        ].join('\n'),
      },
    });
    const problems = await problemsOf(dir);
    expect(problems).toEqual([
      expect.stringMatching(/a\.cedar:1: @max_ttl\("10m"\) must be a whole number/),
      expect.stringMatching(/a\.cedar:5: @approvals\("0"\) must be a whole number/),
      expect.stringMatching(/a\.cedar:10: unknown annotation @stepup/),
      expect.stringMatching(/a\.cedar:14: @max_ttl only apply to permit policies/),
      expect.stringMatching(/a\.cedar:18: @approvals needs @step_up/),
    ]);
  });

  it('rejects a schema that does not accept the request the broker sends', async () => {
    const dir = await writePolicyDir({
      schema: `entity Agent = { issuer: String, namespace?: String, service_account?: String };
entity Template = { provider: String };
action mint, renew appliesTo { principal: Agent, resource: Template, context: { approved: Bool } };`,
    });
    expect(await problemsOf(dir)).toContainEqual(
      expect.stringMatching(/schema\.cedarschema: action mint does not accept the broker's request/),
    );
  });

  it('rejects a mapped attribute declared as required', async () => {
    const dir = await writePolicyDir({
      schema: `entity Agent = { issuer: String, namespace: String, service_account?: String };
entity Template = { provider: String };
action mint, renew appliesTo { principal: Agent, resource: Template };`,
    });
    expect(await problemsOf(dir)).toContainEqual(
      expect.stringMatching(/schema\.cedarschema: Agent\.namespace must be optional/),
    );
  });

  it('names file and line of a schema syntax error', async () => {
    const dir = await writePolicyDir({
      schema: 'entity Agent = {\n  issuer: String,\n  namespace?: Strin,\n};\n',
    });
    expect(await problemsOf(dir)).toContainEqual(expect.stringMatching(/schema\.cedarschema:3: .*Strin/));
  });

  it('reports problems of every file in one pass', async () => {
    const dir = await writePolicyDir({
      templates: { 'test-api': { ...DEFAULT_TEMPLATES['test-api'], max_ttl: 'soon' } },
      policies: { ...DEFAULT_POLICIES, 'b.cedar': 'permit (principal, action, resource);' },
    });
    const problems = await problemsOf(dir);
    expect(problems.some((p) => p.includes('broker.yaml: templates.test-api.max_ttl'))).toBe(true);
    expect(problems.some((p) => /b\.cedar:1: policy has no @id/.test(p))).toBe(true);
  });
});

describe('the policy version', () => {
  it('is stable for the same files and changes when any file changes', async () => {
    const dir = await writePolicyDir();
    const first = await loadPolicyDir(dir);
    expect((await loadPolicyDir(dir)).version).toBe(first.version);

    const copy = await writePolicyDir();
    expect((await loadPolicyDir(copy)).version).toBe(first.version);

    await writeFile(path.join(dir, 'test.cedar'), `${DEFAULT_POLICIES['test.cedar']}\n// a comment\n`);
    const changed = await loadPolicyDir(dir);
    expect(changed.version).not.toBe(first.version);

    await writeFile(
      path.join(dir, 'broker.yaml'),
      `${await readFile(path.join(dir, 'broker.yaml'), 'utf8')}\n# note\n`,
    );
    expect((await loadPolicyDir(dir)).version).not.toBe(changed.version);
  });

  it('ignores files that are not part of the set', async () => {
    const dir = await writePolicyDir();
    const before = (await loadPolicyDir(dir)).version;
    await writeFile(path.join(dir, 'README.md'), 'notes');
    await writeFile(path.join(dir, '.test.cedar.swp'), 'editor state');
    expect((await loadPolicyDir(dir)).version).toBe(before);
  });
});

describe('resource_servers (who may call /v1/introspect)', () => {
  const rs = {
    client_id: 'rs-reports',
    client_secret_sha256: 'A'.repeat(64),
    audience: 'https://reports.internal',
  };

  it('loads a secret-hash server (hex lower-cased) and defaults to none', async () => {
    const set = await loadPolicyDir(await writePolicyDir({ resourceServers: [rs] }));
    expect(set.config.resource_servers).toEqual([{ ...rs, client_secret_sha256: 'a'.repeat(64) }]);
    expect((await loadPolicyDir(await writePolicyDir())).config.resource_servers).toEqual([]);
  });

  it('rejects a secret that is not a sha256, no or two ways to authenticate, and a repeated client_id', async () => {
    const problems = await problemsOf(
      await writePolicyDir({
        resourceServers: [
          { ...rs, client_secret_sha256: 'my-plain-secret' },
          { client_id: 'rs-none', audience: 'https://x' },
          { ...rs, client_id: 'rs-both', jwks_file: './jwks.json' },
          rs,
          rs,
        ],
      }),
    );
    const text = problems.join('\n');
    expect(text).toMatch(/resource_servers\.0\.client_secret_sha256: the hex sha256 of the secret/);
    expect(text).toMatch(
      /resource_servers\.1\.client_secret_sha256: set exactly one of client_secret_sha256, jwks_uri or jwks_file/,
    );
    expect(text).toMatch(/resource_servers\.2\.client_secret_sha256: set exactly one/);
    expect(text).toMatch(/resource_servers\.4\.client_id: duplicate client_id "rs-reports"/);
  });
});
