// Property-based: for policy sets that read different parts of the request, an evaluator with a
// decision cache (small, so entries are evicted, and large) answers every request of a random
// sequence exactly as an evaluator without one does, request by request.
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import type { AttributeValue } from '../../src/identity/types.js';
import type { PolicySet } from '../../src/policy/policy-set.js';
import {
  loadSet,
  POLICY_SETS,
  type PolicySetName,
  type RequestFields,
  requestFor,
} from '../helpers/decision-cache.js';

const option = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

/** Small domains, so that requests often repeat or differ in a single field. */
const fields: fc.Arbitrary<RequestFields> = fc.record({
  subject: fc.constantFrom('alice', 'bob'),
  issuer: fc.constantFrom('test', 'test', 'test', 'untrusted'),
  attributes: fc
    .record({
      namespace: option(fc.constantFrom('test', 'prod')),
      service_account: option(fc.constantFrom('deployer', 'builder')),
      // A string level does not have the declared type: denied before Cedar.
      level: option(fc.constantFrom<number | string>(1, 3, 5, '3')),
    })
    .map(
      (a) =>
        Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as Record<
          string,
          AttributeValue
        >,
    ),
  action: fc.constantFrom('mint' as const, 'renew' as const),
  template: fc.constantFrom('test-api', 'admin-api', 'admin-api', 'not-configured'),
  taskId: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('JIRA-1', 'JIRA-22', 'OPS-7', 't-1') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  ),
  purpose: fc.constantFrom('deploy', 'drop tables', 'read reports'),
  actions: fc.constantFrom(['test:read'], ['test:read', 'test:write']),
  resources: fc.constantFrom(['db'], [], ['db', 'logs']),
  ttlSeconds: fc.constantFrom(1, 60, 300, 600, 601, 3000, 3001, 3600, 3601),
  approved: fc.boolean(),
  onBehalfOf: option(
    fc.constantFrom({ sub: 'ann', issuer: 'https://staff' }, { sub: 'bo', issuer: 'https://staff' }),
  ),
});

/**
 * A few base requests, then a sequence of them, each as it is or with one field replaced: requests
 * that differ in a single field (a task id, a purpose, an attribute) are what a wrong key confuses.
 */
const FIELD_NAMES = [
  'subject',
  'issuer',
  'attributes',
  'action',
  'template',
  'taskId',
  'purpose',
  'actions',
  'resources',
  'ttlSeconds',
  'approved',
  'onBehalfOf',
] as const;
const sequences: fc.Arbitrary<RequestFields[]> = fc
  .array(fields, { minLength: 1, maxLength: 3 })
  .chain((bases) =>
    fc
      .array(fc.tuple(fc.nat(bases.length - 1), option(fc.constantFrom(...FIELD_NAMES)), fields), {
        minLength: 5,
        maxLength: 30,
        size: 'max',
      })
      .map((steps) =>
        steps.map(([i, replaced, other]) => {
          const base = bases[i]!;
          return replaced === undefined ? base : { ...base, [replaced]: other[replaced] };
        }),
      ),
  );

const NAMES = Object.keys(POLICY_SETS) as PolicySetName[];

describe.each(NAMES)('policy set "%s": cached decisions equal uncached ones', (name) => {
  let uncached: PolicySet;
  let small: PolicySet;
  let large: PolicySet;
  beforeAll(async () => {
    uncached = await loadSet(name, { decisionCacheSize: 0 });
    small = await loadSet(name, { decisionCacheSize: 3 });
    large = await loadSet(name, { decisionCacheSize: 10_000 });
  });

  test('for every request of random sequences', () => {
    fc.assert(
      fc.property(sequences, (sequence) => {
        for (const f of sequence) {
          const want = uncached.evaluate(requestFor(uncached, f));
          expect(small.evaluate(requestFor(small, f))).toStrictEqual(want);
          expect(large.evaluate(requestFor(large, f))).toStrictEqual(want);
        }
      }),
      { numRuns: 100 },
    );
    expect(uncached.decisionCache.hits + uncached.decisionCache.misses).toBe(0);
    // The property means something only if the cache was used, evictions included.
    expect(large.decisionCache.hits).toBeGreaterThan(0);
    expect(small.decisionCache.hits).toBeGreaterThan(0);
    expect(small.decisionCache.size).toBe(3);
  });
});
