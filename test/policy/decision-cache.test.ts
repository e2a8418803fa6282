// Decisions are cached per policy set (src/policy/cedar-evaluator.ts): a hit must be exactly the
// answer Cedar gave, for exactly the same input, from the same policy set.
import { describe, expect, it } from 'vitest';
import { loadPolicyDir } from '../../src/policy/load-policy-dir.js';
import type { EvaluationInput, PolicySet } from '../../src/policy/policy-set.js';
import { writePolicyDir } from '../helpers/policy-dir.js';

const PERMIT = `@id("test-agents-use-test-api")
@max_ttl("600")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"test-api")
when { principal has namespace && principal.namespace == "test" };
`;

const FORBID_WRITE = `@id("no-writes")
forbid (principal, action, resource) when { context.intent.actions.contains("test:write") };
`;

function request(set: PolicySet, overrides: Partial<EvaluationInput> = {}): EvaluationInput {
  return {
    action: 'mint',
    identity: {
      subject: 'agent-1',
      issuer: 'test',
      attributes: { namespace: 'test' },
      expiresAt: new Date(),
    },
    template: set.templates.get('test-api')!,
    intent: { taskId: 't-1', purpose: 'a test', actions: ['test:read'], resources: [] },
    ttlSeconds: 300,
    onBehalfOf: undefined,
    approved: false,
    ...overrides,
  };
}

describe('cached policy decisions', () => {
  it('answer a repeated request as Cedar did, and a caller changing its copy changes nothing', async () => {
    const set = await loadPolicyDir(await writePolicyDir({ policies: { 'permit.cedar': PERMIT } }));
    const first = set.evaluate(request(set));
    expect(first).toMatchObject({
      outcome: 'allow',
      policies: ['test-agents-use-test-api'],
      maxTtlSeconds: 600,
    });
    first.policies.push('tampered');
    expect(set.evaluate(request(set))).toEqual({ ...first, policies: ['test-agents-use-test-api'] });
  });

  it('are not reused when anything Cedar sees differs: attributes, subject, intent, action', async () => {
    const set = await loadPolicyDir(
      await writePolicyDir({ policies: { 'permit.cedar': PERMIT, 'forbid.cedar': FORBID_WRITE } }),
    );
    expect(set.evaluate(request(set)).outcome).toBe('allow');
    const identity = {
      subject: 'agent-1',
      issuer: 'test',
      attributes: { namespace: 'web' },
      expiresAt: new Date(),
    };
    expect(set.evaluate(request(set, { identity })).outcome).toBe('deny');
    expect(
      set.evaluate(
        request(set, { identity: { ...identity, subject: 'agent-2', attributes: { namespace: 'test' } } }),
      ).outcome,
    ).toBe('allow');
    const writes = { taskId: 't-1', purpose: 'a test', actions: ['test:read', 'test:write'], resources: [] };
    expect(set.evaluate(request(set, { intent: writes }))).toMatchObject({
      outcome: 'deny',
      policies: ['no-writes'],
    });
    expect(set.evaluate(request(set, { action: 'renew' })).outcome).toBe('allow');
    expect(set.evaluate(request(set)).outcome).toBe('allow');
  });

  it('belong to one policy set: a reloaded set decides with its own policies', async () => {
    const before = await loadPolicyDir(await writePolicyDir({ policies: { 'permit.cedar': PERMIT } }));
    expect(before.evaluate(request(before)).outcome).toBe('allow');
    const after = await loadPolicyDir(
      await writePolicyDir({
        policies: {
          'permit.cedar': PERMIT,
          'forbid.cedar': FORBID_WRITE.replace('"test:write"', '"test:read"'),
        },
      }),
    );
    expect(after.evaluate(request(after))).toMatchObject({ outcome: 'deny', policies: ['no-writes'] });
    expect(before.evaluate(request(before)).outcome).toBe('allow');
  });
});
