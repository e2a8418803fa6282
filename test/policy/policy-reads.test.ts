// The load-time analysis behind the decision cache key: which request values each policy can
// observe, narrowed only for policies it understands completely.
import { type PolicyJson, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import { describe, expect, it } from 'vitest';
import { policyReads } from '../../src/policy/policy-reads.js';

const when = (body: string) => `permit (principal, action, resource) when { ${body} };`;
const pathsOf = (...policies: string[]) => policyReads(policies).paths;
const EVERYTHING = { paths: [['action'], ['context'], ['principal'], ['resource']], everything: true };

function jsonOf(text: string): PolicyJson {
  const answer = policyToJson(text);
  if (answer.type === 'failure') throw new Error(answer.errors.map((e) => e.message).join('; '));
  return answer.json;
}

describe('policyReads', () => {
  it('records an attribute path and nothing around it', () => {
    expect(pathsOf(when('context.intent.purpose == "deploy"'))).toEqual([['context', 'intent', 'purpose']]);
    expect(pathsOf(when('context.intent.task_id like "JIRA-*"'))).toEqual([['context', 'intent', 'task_id']]);
    expect(pathsOf(when('context.intent.ttl_seconds > 3600'))).toEqual([
      ['context', 'intent', 'ttl_seconds'],
    ]);
  });

  it('a record read whole covers every path below it', () => {
    const whole = when(
      'context.intent == { task_id: "t", purpose: "p", actions: ["a"], resources: [], ttl_seconds: 60 }',
    );
    expect(pathsOf(whole, when('context.intent.purpose == "p"'))).toEqual([['context', 'intent']]);
    expect(pathsOf(when('context.intent.actions.contains("test:write")'))).toEqual([
      ['context', 'intent', 'actions'],
    ]);
  });

  it('`has` records the attribute it tests, also several at once', () => {
    expect(
      pathsOf(when('principal has namespace && principal.namespace == "test" && context has on_behalf_of')),
    ).toEqual([
      ['context', 'on_behalf_of'],
      ['principal', 'namespace'],
    ]);
    expect(pathsOf(when('context has on_behalf_of.sub'))).toEqual([['context', 'on_behalf_of', 'sub']]);
  });

  it('a variable used as a value is read whole', () => {
    expect(pathsOf(when('principal is Agent'))).toEqual([['principal']]);
    expect(pathsOf(when('context == context'))).toEqual([['context']]);
  });

  it('the scope reads no attribute (the uids are in every key)', () => {
    expect(
      pathsOf(
        'permit (principal == Agent::"a", action in [Action::"mint", Action::"renew"], resource == Template::"t");',
        'forbid (principal is Agent in Agent::"g", action == Action::"mint", resource is Template);',
      ),
    ).toEqual([]);
  });

  it('an attribute of an entity literal counts as the whole principal (it may be the principal)', () => {
    expect(pathsOf(when('Agent::"bob" has namespace && Agent::"bob".namespace == "x"'))).toEqual([
      ['principal'],
    ]);
  });

  it('walks every operator: if-then-else, sets, records, extension calls, unless', () => {
    expect(
      pathsOf(
        `permit (principal, action, resource)
         when { if context.approved then resource.provider == "jwt" else [principal.level].contains(2) }
         unless { context.intent.purpose == "x" || ip("10.0.0.1").isInRange(ip(context.intent.task_id)) };`,
      ),
    ).toEqual([
      ['context', 'approved'],
      ['context', 'intent', 'purpose'],
      ['context', 'intent', 'task_id'],
      ['principal', 'level'],
      ['resource', 'provider'],
    ]);
    // An attribute of any expression but a variable path is taken to reach the principal.
    expect(pathsOf(when('{a: context.intent.purpose}.a == "x" && principal.level == 2'))).toEqual([
      ['context', 'intent', 'purpose'],
      ['principal'],
    ]);
  });

  it('falls back to everything on text it cannot convert', () => {
    expect(policyReads([when('context.intent.purpose ==')])).toEqual(EVERYTHING);
    expect(policyReads([when('true'), 'permit (principal == ?principal, action, resource);'])).toEqual(
      EVERYTHING,
    );
  });

  it('falls back to everything on a shape it does not know', () => {
    const known = jsonOf(when('context.intent.purpose == "x"'));
    expect(policyReads([known]).everything).toBe(false);
    const unknownOperator = { ...known, conditions: [{ kind: 'when', body: { matches: { left: 1 } } }] };
    const slot = { ...known, principal: { op: '==', slot: '?principal' } };
    const unknownVariable = { ...known, conditions: [{ kind: 'when', body: { Var: 'environment' } }] };
    const unknownClause = { ...known, conditions: [{ kind: 'whenever', body: { Value: true } }] };
    for (const json of [unknownOperator, slot, unknownVariable, unknownClause]) {
      expect(policyReads([json as unknown as PolicyJson])).toEqual(EVERYTHING);
    }
  });
});
