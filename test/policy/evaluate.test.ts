import { beforeAll, describe, expect, it } from 'vitest';
import type { AttributeValue } from '../../src/identity/types.js';
import { loadPolicyDir } from '../../src/policy/load-policy-dir.js';
import type { EvaluationInput, PolicySet } from '../../src/policy/policy-set.js';
import {
  copyExamplePolicies,
  DEFAULT_ISSUER,
  DEFAULT_TEMPLATES,
  writePolicyDir,
} from '../helpers/policy-dir.js';

function request(
  set: PolicySet,
  overrides: Partial<Omit<EvaluationInput, 'template'>> & {
    template?: string;
    attributes?: Record<string, AttributeValue>;
  } = {},
): EvaluationInput {
  const { template = 'test-api', attributes = { namespace: 'test' }, ...rest } = overrides;
  return {
    action: 'mint',
    identity: {
      subject: 'system:serviceaccount:test:agent',
      issuer: 'test',
      attributes,
      expiresAt: new Date(),
    },
    template: set.templates.get(template)!,
    intent: { taskId: 't-1', purpose: 'a test', actions: ['test:read'], resources: [] },
    ttlSeconds: 300,
    onBehalfOf: undefined,
    approved: false,
    ...rest,
  };
}

const SCHEMA = `
entity Agent = {
  issuer: String,
  namespace?: String,
  service_account?: String,
  k8s?: { namespace: String, serviceaccount?: { name: String, uid?: String } },
  groups?: Set<String>,
  level?: Long,
};
entity Template = { provider: String };
type Intent = { task_id: String, purpose: String, actions: Set<String>, resources: Set<String>, ttl_seconds: Long };
type RequestContext = { intent: Intent, on_behalf_of?: { sub: String, issuer: String }, approved: Bool };
action mint, renew appliesTo { principal: Agent, resource: Template, context: RequestContext };
`;

const POLICIES = {
  'permits.cedar': `
@id("test-agents-use-test-api")
@max_ttl("600")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"test-api")
when { principal has namespace && principal.namespace == "test" };

@id("short-for-writers")
@max_ttl("120")
permit (principal, action == Action::"mint", resource == Template::"test-api")
when { context.intent.actions.contains("test:write") && principal has namespace && principal.namespace == "test" };

@id("admin-needs-approval")
@step_up("security-oncall")
@approvals("2")
@approval_ttl("600")
permit (principal, action == Action::"mint", resource == Template::"admin-api")
when { principal has namespace && principal.namespace == "test" };

@id("admin-also-needs-lead")
@step_up("team-leads")
@approval_ttl("300")
permit (principal, action == Action::"mint", resource == Template::"admin-api")
when { principal has level && principal.level >= 3 };

@id("builders-by-service-account")
permit (principal, action == Action::"mint", resource == Template::"build-api")
when { principal has k8s && principal.k8s has serviceaccount && principal.k8s.serviceaccount.name == "builder" };

@id("group-members")
permit (principal, action == Action::"mint", resource == Template::"build-api")
when { principal has groups && principal.groups.contains("builders") };

@id("namespace-pattern")
permit (principal, action == Action::"renew", resource == Template::"build-api")
when { principal has namespace && principal.namespace like "build-*" };
`,
  'guardrails.cedar': `
// Nothing lives longer than an hour.
@id("forbid-long-ttl")
@reason("credentials are limited to one hour")
forbid (principal, action, resource) when { context.intent.ttl_seconds > 3600 };

// Writes must be traceable to a human.
@id("forbid-unattended-write")
forbid (principal, action, resource)
when { context.intent.actions.contains("test:write") }
unless { context has on_behalf_of };
`,
};

const TEMPLATES = {
  ...DEFAULT_TEMPLATES,
  'admin-api': {
    provider: 'jwt',
    audience: 'https://admin.internal',
    scopes: ['admin'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
  'build-api': {
    provider: 'jwt',
    audience: 'https://build.internal',
    scopes: ['build'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
};

let set: PolicySet;
beforeAll(async () => {
  const dir = await writePolicyDir({
    issuers: [
      {
        ...DEFAULT_ISSUER,
        attributes: { ...DEFAULT_ISSUER.attributes, k8s: 'kubernetes.io', groups: 'groups', level: 'level' },
      },
    ],
    templates: TEMPLATES,
    schema: SCHEMA,
    policies: POLICIES,
  });
  set = await loadPolicyDir(dir);
});

describe('permit and forbid', () => {
  it('allows when a permit matches and names it, with the policy version', () => {
    expect(set.evaluate(request(set))).toEqual({
      outcome: 'allow',
      policies: ['test-agents-use-test-api'],
      maxTtlSeconds: 600,
      stepUp: undefined,
      policyVersion: set.version,
    });
  });

  it('denies with no policies when no permit matches', () => {
    expect(set.evaluate(request(set, { attributes: { namespace: 'other' } }))).toEqual({
      outcome: 'deny',
      policies: [],
      reasons: ['no permit policy matched'],
      policyVersion: set.version,
    });
  });

  it('lets a forbid win over a matching permit and names the forbid', () => {
    const decision = set.evaluate(request(set, { ttlSeconds: 7200 }));
    expect(decision).toMatchObject({
      outcome: 'deny',
      policies: ['forbid-long-ttl'],
      reasons: ['forbidden by policy "forbid-long-ttl": credentials are limited to one hour'],
    });
  });

  it('names every forbid that matched', () => {
    const decision = set.evaluate(
      request(set, {
        ttlSeconds: 7200,
        intent: { taskId: 't', purpose: 'p', actions: ['test:write'], resources: [] },
      }),
    );
    expect(decision.outcome).toBe('deny');
    expect([...decision.policies].sort()).toEqual(['forbid-long-ttl', 'forbid-unattended-write']);
  });

  it('reads on_behalf_of from the context', () => {
    const write = { taskId: 't', purpose: 'p', actions: ['test:write'], resources: [] };
    expect(set.evaluate(request(set, { intent: write })).policies).toEqual(['forbid-unattended-write']);
    const decision = set.evaluate(
      request(set, { intent: write, onBehalfOf: { sub: 'alice', issuer: 'https://sso.test.local' } }),
    );
    expect(decision.outcome).toBe('allow');
  });

  it('distinguishes mint from renew', () => {
    const renew = request(set, {
      action: 'renew',
      template: 'build-api',
      attributes: { namespace: 'build-nightly' },
    });
    expect(set.evaluate(renew)).toMatchObject({ outcome: 'allow', policies: ['namespace-pattern'] });
    expect(set.evaluate({ ...renew, action: 'mint' }).outcome).toBe('deny');
  });

  it('denies a template this policy version does not define', () => {
    const input = request(set);
    const decision = set.evaluate({ ...input, template: { ...input.template, name: 'gone-api' } });
    expect(decision).toMatchObject({ outcome: 'deny', policies: [] });
    expect(decision.outcome === 'deny' && decision.reasons[0]).toMatch(
      /template "gone-api" is not configured/,
    );
  });

  it('denies an identity from an issuer this policy version does not trust', () => {
    const input = request(set);
    const decision = set.evaluate({ ...input, identity: { ...input.identity, issuer: 'removed' } });
    expect(decision).toMatchObject({ outcome: 'deny', policies: [] });
  });
});

describe('obligations of the satisfied permits', () => {
  it('applies the smallest @max_ttl of the satisfied permits', () => {
    const decision = set.evaluate(
      request(set, {
        intent: { taskId: 't', purpose: 'p', actions: ['test:write'], resources: [] },
        onBehalfOf: { sub: 'alice', issuer: 'https://sso.test.local' },
      }),
    );
    expect(decision).toMatchObject({
      outcome: 'allow',
      policies: ['test-agents-use-test-api', 'short-for-writers'],
      maxTtlSeconds: 120,
    });
  });

  it('asks for step-up with the approvals and approval window the permit names', () => {
    const decision = set.evaluate(request(set, { template: 'admin-api' }));
    expect(decision).toMatchObject({
      outcome: 'allow',
      policies: ['admin-needs-approval'],
      maxTtlSeconds: undefined,
      stepUp: { group: 'security-oncall', approvals: 2, approvalTtlSeconds: 600 },
    });
  });

  it('combines step-up permits: the first names the group, most approvals, shortest window', () => {
    const decision = set.evaluate(
      request(set, { template: 'admin-api', attributes: { namespace: 'test', level: 5 } }),
    );
    expect(decision).toMatchObject({
      outcome: 'allow',
      policies: ['admin-needs-approval', 'admin-also-needs-lead'],
      stepUp: { group: 'security-oncall', approvals: 2, approvalTtlSeconds: 300 },
    });
  });

  it('defaults to one approver within 900 seconds', () => {
    const decision = set.evaluate(request(set, { template: 'admin-api', attributes: { level: 3 } }));
    expect(decision).toMatchObject({
      stepUp: { group: 'team-leads', approvals: 1, approvalTtlSeconds: 300 },
    });
  });

  it('clears step-up once approved, but a forbid still wins', () => {
    const approved = set.evaluate(request(set, { template: 'admin-api', approved: true }));
    expect(approved).toMatchObject({
      outcome: 'allow',
      policies: ['admin-needs-approval'],
      stepUp: undefined,
    });

    const tooLong = set.evaluate(request(set, { template: 'admin-api', approved: true, ttlSeconds: 4000 }));
    expect(tooLong).toMatchObject({ outcome: 'deny', policies: ['forbid-long-ttl'] });
  });
});

describe('principal attributes', () => {
  it('uses nested record attributes in conditions', () => {
    const k8s = { namespace: 'ci', serviceaccount: { name: 'builder', uid: 'u-1' } };
    expect(set.evaluate(request(set, { template: 'build-api', attributes: { k8s } }))).toMatchObject({
      outcome: 'allow',
      policies: ['builders-by-service-account'],
    });
    const other = { namespace: 'ci', serviceaccount: { name: 'tester' } };
    expect(set.evaluate(request(set, { template: 'build-api', attributes: { k8s: other } })).outcome).toBe(
      'deny',
    );
  });

  it('drops claim fields the schema does not declare (including Cedar escapes and nulls)', () => {
    const k8s = {
      namespace: 'ci',
      serviceaccount: { name: 'builder' },
      pod: { name: 'x', ratio: 0.5 },
      __entity: 'ignored',
    } as unknown as AttributeValue;
    // A record carrying an escape key is refused as a whole rather than guessed at.
    expect(set.evaluate(request(set, { template: 'build-api', attributes: { k8s } })).outcome).toBe('deny');
    const clean = {
      namespace: 'ci',
      serviceaccount: { name: 'builder' },
      pod: { name: 'x', ratio: 0.5, gone: null },
    };
    expect(
      set.evaluate(
        request(set, { template: 'build-api', attributes: { k8s: clean as unknown as AttributeValue } }),
      ).outcome,
    ).toBe('allow');
  });

  it('uses set attributes', () => {
    const decision = set.evaluate(
      request(set, { template: 'build-api', attributes: { groups: ['a', 'builders'] } }),
    );
    expect(decision).toMatchObject({ outcome: 'allow', policies: ['group-members'] });
  });

  it('evaluates without crashing when optional attributes are missing', () => {
    expect(set.evaluate(request(set, { attributes: {} }))).toMatchObject({
      outcome: 'deny',
      reasons: ['no permit policy matched'],
    });
    expect(set.evaluate(request(set, { template: 'build-api', attributes: {} })).outcome).toBe('deny');
  });

  it('denies, naming the attribute, when a claim has the wrong type', () => {
    const decision = set.evaluate(request(set, { attributes: { namespace: 7 } }));
    expect(decision).toMatchObject({ outcome: 'deny', policies: [] });
    expect(decision.outcome === 'deny' && decision.reasons[0]).toMatch(/agent attribute "namespace"/);
    expect(set.evaluate(request(set, { attributes: { namespace: 'test', level: 2.5 } })).outcome).toBe(
      'deny',
    );
  });

  it('ignores mapped attributes the schema does not declare', () => {
    expect(set.evaluate(request(set, { attributes: { namespace: 'test', unknown: 'x' } })).outcome).toBe(
      'allow',
    );
  });

  it('keeps the issuer name authoritative over a claim called issuer', () => {
    const decision = set.evaluate(request(set, { attributes: { namespace: 'test', issuer: 'forged' } }));
    expect(decision.outcome).toBe('allow');
  });
});

describe('the example policies', () => {
  let example: PolicySet;
  beforeAll(async () => {
    example = await loadPolicyDir(await copyExamplePolicies());
  });
  const agent = (attributes: Record<string, AttributeValue>) => ({
    subject: 'system:serviceaccount:reports:agent',
    issuer: 'dev',
    attributes,
    expiresAt: new Date(),
  });
  const input = (
    template: string,
    actions: string[],
    extra: Partial<EvaluationInput> = {},
  ): EvaluationInput => ({
    action: 'mint',
    identity: agent({ namespace: 'reports', service_account: 'agent' }),
    template: example.templates.get(template)!,
    intent: { taskId: 't-42', purpose: 'monthly report', actions, resources: [] },
    ttlSeconds: 300,
    onBehalfOf: undefined,
    approved: false,
    ...extra,
  });

  it('lets reporting agents read reports for at most 15 minutes', () => {
    expect(example.evaluate(input('reports-api', ['reports:read']))).toMatchObject({
      outcome: 'allow',
      policies: ['reports-agents-mint-reports'],
      maxTtlSeconds: 900,
    });
  });

  it('refuses an export nobody asked for', () => {
    expect(example.evaluate(input('reports-api', ['reports:export']))).toMatchObject({
      outcome: 'deny',
      policies: ['forbid-unattended-export'],
    });
  });

  it('sends reports-admin to the security on-call', () => {
    expect(example.evaluate(input('reports-admin', ['reports:admin']))).toMatchObject({
      outcome: 'allow',
      stepUp: { group: 'security-oncall', approvals: 1, approvalTtlSeconds: 900 },
    });
  });

  it('refuses agents of other namespaces', () => {
    const other = input('orders-db-read', ['SELECT'], { identity: agent({ namespace: 'web' }) });
    expect(example.evaluate(other)).toMatchObject({ outcome: 'deny', reasons: ['no permit policy matched'] });
  });
});

describe('policies that fail at run time', () => {
  let failing: PolicySet;
  beforeAll(async () => {
    // Long arithmetic overflows for large TTLs: a run-time error that schema validation cannot rule out.
    failing = await loadPolicyDir(
      await writePolicyDir({
        policies: {
          'a.cedar': `
@id("permit-overflowing")
permit (principal, action, resource == Template::"test-api")
when { principal has namespace && principal.namespace == "test" && context.intent.ttl_seconds * 10000000000000000 > 0 };

@id("forbid-overflowing")
forbid (principal, action, resource)
when { principal has namespace && principal.namespace == "guarded" && context.intent.ttl_seconds * 10000000000000000 < 0 };

@id("permit-guarded")
permit (principal, action, resource == Template::"test-api")
when { principal has namespace && principal.namespace == "guarded" };
`,
        },
      }),
    );
  });

  it('denies when the only matching permit errors, saying why', () => {
    const decision = failing.evaluate(request(failing, { ttlSeconds: 1000 }));
    expect(decision).toMatchObject({ outcome: 'deny', policies: [] });
    expect(decision.outcome === 'deny' && decision.reasons).toEqual([
      'no permit policy matched',
      expect.stringMatching(/policy "permit-overflowing" could not be evaluated: .*overflow/),
    ]);
    expect(failing.evaluate(request(failing, { ttlSeconds: 1 })).outcome).toBe('allow');
  });

  it('denies when a forbid errors, although Cedar alone would skip it and allow', () => {
    const decision = failing.evaluate(
      request(failing, { ttlSeconds: 1000, attributes: { namespace: 'guarded' } }),
    );
    expect(decision).toMatchObject({ outcome: 'deny', policies: ['forbid-overflowing'] });
    expect(
      failing.evaluate(request(failing, { ttlSeconds: 1, attributes: { namespace: 'guarded' } })).outcome,
    ).toBe('allow');
  });
});

describe('action groups declared in the schema', () => {
  it('puts mint and renew in their groups although Cedar runs without the schema', async () => {
    const grouped = await loadPolicyDir(
      await writePolicyDir({
        schema: `
entity Agent = { issuer: String, namespace?: String, service_account?: String };
entity Template = { provider: String };
type Intent = { task_id: String, purpose: String, actions: Set<String>, resources: Set<String>, ttl_seconds: Long };
type RequestContext = { intent: Intent, on_behalf_of?: { sub: String, issuer: String }, approved: Bool };
action use;
action mint, renew in [use] appliesTo { principal: Agent, resource: Template, context: RequestContext };
`,
        policies: {
          'a.cedar':
            '@id("use-test-api")\npermit (principal, action in Action::"use", resource == Template::"test-api");\n',
        },
      }),
    );
    expect(grouped.evaluate(request(grouped))).toMatchObject({
      outcome: 'allow',
      policies: ['use-test-api'],
    });
    expect(grouped.evaluate(request(grouped, { action: 'renew' })).outcome).toBe('allow');
  });
});
