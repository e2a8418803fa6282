// The decision cache of a policy set: keyed by what the policies read, so requests that differ
// only in something no policy reads share an entry, and requests that differ in something a
// policy reads never do. Bounded, frozen, per set, and never consulted for a deny decided
// before Cedar runs.
import { describe, expect, it } from 'vitest';
import { PolicyStore } from '../../src/policy/policy-store.js';
import { loadSet, requestFor } from '../helpers/decision-cache.js';
import { rewritePolicyDir, writePolicyDir } from '../helpers/policy-dir.js';

describe('a policy that reads the purpose or the task id', () => {
  it('is never answered from the entry of another purpose', async () => {
    const set = await loadSet('purpose', { decisionCacheSize: 100 });
    const deploy = set.evaluate(requestFor(set, { purpose: 'deploy' }));
    const read = set.evaluate(requestFor(set, { purpose: 'read reports' }));
    const drop = set.evaluate(requestFor(set, { purpose: 'drop tables' }));
    expect(deploy).toMatchObject({ outcome: 'allow', policies: ['deploys'], maxTtlSeconds: 600 });
    expect(read).toMatchObject({ outcome: 'deny', policies: [], reasons: ['no permit policy matched'] });
    expect(drop).toMatchObject({ outcome: 'deny', policies: ['no-drops'] });
    expect(set.decisionCache).toMatchObject({ hits: 0, misses: 3, size: 3 });
    expect(set.evaluate(requestFor(set, { purpose: 'deploy', taskId: 'JIRA-99' }))).toEqual(deploy);
    expect(set.decisionCache.hits).toBe(1);
  });

  it('is never answered from the entry of another task id', async () => {
    const set = await loadSet('taskId', { decisionCacheSize: 100 });
    const jira = set.evaluate(requestFor(set, { taskId: 'JIRA-1' }));
    const other = set.evaluate(requestFor(set, { taskId: 'T-1' }));
    const ops = set.evaluate(requestFor(set, { taskId: 'OPS-1' }));
    expect(jira).toMatchObject({ outcome: 'allow', policies: ['jira-tasks'], stepUp: undefined });
    expect(other).toMatchObject({ outcome: 'deny', reasons: ['no permit policy matched'] });
    expect(ops).toMatchObject({ outcome: 'allow', stepUp: { group: 'oncall' } });
    expect(set.decisionCache).toMatchObject({ hits: 0, misses: 3 });
  });
});

describe('a policy set that reads neither the task id nor the purpose', () => {
  it('reads what its policies name, nothing else', async () => {
    const set = await loadSet('principal', { decisionCacheSize: 100 });
    expect(set.decisionCache.reads).toEqual({
      everything: false,
      paths: [
        ['context', 'approved'],
        ['context', 'on_behalf_of'],
        ['principal', 'level'],
        ['principal', 'namespace'],
        ['principal', 'service_account'],
      ],
    });
  });

  it('answers requests that differ only in task id or purpose from one entry', async () => {
    const lookups: boolean[] = [];
    const set = await loadSet('principal', {
      decisionCacheSize: 100,
      onDecisionCacheLookup: (hit) => lookups.push(hit),
    });
    const human = { sub: 'ann', issuer: 'https://staff' };
    const first = set.evaluate(requestFor(set, { taskId: 'task-0', onBehalfOf: human }));
    expect(first).toMatchObject({ outcome: 'allow', policies: ['test-namespace-for-humans'] });
    for (let i = 1; i < 50; i++) {
      const fields = { taskId: `task-${i}`, purpose: `purpose ${i}`, onBehalfOf: human };
      expect(set.evaluate(requestFor(set, fields))).toBe(first);
    }
    expect(set.decisionCache).toMatchObject({ hits: 49, misses: 1, size: 1 });
    expect(lookups).toEqual([false, ...Array(49).fill(true)]);
    // What the policies do read still splits the cache.
    expect(set.evaluate(requestFor(set, { taskId: 'task-50' }))).toMatchObject({ outcome: 'deny' });
    expect(set.decisionCache).toMatchObject({ misses: 2, size: 2 });
  });
});

describe('the cache', () => {
  it('never holds more than DECISION_CACHE_SIZE decisions', async () => {
    const set = await loadSet('principal', { decisionCacheSize: 5 });
    for (let i = 0; i < 40; i++) {
      set.evaluate(requestFor(set, { subject: `agent-${i % 12}` }));
      expect(set.decisionCache.size).toBeLessThanOrEqual(5);
    }
    expect(set.decisionCache).toMatchObject({ capacity: 5, size: 5 });
  });

  it('is off with size 0: every request goes to Cedar and nothing is counted', async () => {
    const set = await loadSet('principal', { decisionCacheSize: 0 });
    const a = set.evaluate(requestFor(set));
    expect(set.evaluate(requestFor(set))).not.toBe(a);
    expect(set.decisionCache).toMatchObject({ capacity: 0, size: 0, hits: 0, misses: 0 });
  });

  it('hands out frozen decisions, so no caller can change what the next one gets', async () => {
    const set = await loadSet('taskId', { decisionCacheSize: 10 });
    const decision = set.evaluate(requestFor(set));
    expect(() => decision.policies.push('forged')).toThrow(TypeError);
    expect(() => Object.assign(decision, { outcome: 'deny' })).toThrow(TypeError);
    expect(set.evaluate(requestFor(set))).toMatchObject({ outcome: 'allow', policies: ['jira-tasks'] });
  });

  it('is not consulted for denies decided before Cedar runs', async () => {
    const set = await loadSet('principal', { decisionCacheSize: 10 });
    const untrusted = set.evaluate(requestFor(set, { issuer: 'elsewhere' }));
    const unknownTemplate = set.evaluate(requestFor(set, { template: 'gone' }));
    const wrongType = set.evaluate(requestFor(set, { attributes: { level: '3' } }));
    const denied = (reason: RegExp) => ({ outcome: 'deny', reasons: [expect.stringMatching(reason)] });
    expect(untrusted).toMatchObject(denied(/^issuer "elsewhere" is not trusted/));
    expect(unknownTemplate).toMatchObject(denied(/^template "gone" is not configured/));
    expect(wrongType).toMatchObject(denied(/^agent attribute "level" does not have the type/));
    expect(set.decisionCache).toMatchObject({ hits: 0, misses: 0, size: 0 });
  });

  it('keeps no request Cedar refused to evaluate (its reason may depend on any value)', async () => {
    const set = await loadSet('principal', { decisionCacheSize: 10 });
    // Cedar takes whole numbers only; the TTL is not among what the policies read.
    const refused = set.evaluate(requestFor(set, { ttlSeconds: 1.5 }));
    expect(refused).toMatchObject({
      outcome: 'deny',
      reasons: [expect.stringMatching(/^policy evaluation failed/)],
    });
    expect(set.decisionCache.size).toBe(0);
    const normal = set.evaluate(requestFor(set, { ttlSeconds: 300 }));
    expect(normal).toMatchObject({ outcome: 'deny', reasons: ['no permit policy matched'] });
  });

  it('belongs to one policy set: a reload starts empty, the store counts across sets', async () => {
    const dir = await writePolicyDir();
    const store = await PolicyStore.open(dir, { decisionCacheSize: 10 });
    const before = store.current();
    before.evaluate(requestFor(before));
    before.evaluate(requestFor(before, { taskId: 'another' }));
    expect(before.decisionCache).toMatchObject({ hits: 1, misses: 1, size: 1 });

    await rewritePolicyDir(dir, {
      policies: {
        'test.cedar': '@id("renewals")\npermit (principal, action == Action::"renew", resource);\n',
      },
    });
    expect(await store.reload()).toMatchObject({ ok: true, changed: true });
    const after = store.current();
    expect(after.decisionCache).toMatchObject({ capacity: 10, hits: 0, misses: 0, size: 0 });
    expect(after.evaluate(requestFor(after))).toMatchObject({ outcome: 'deny' });
    expect(store.decisionCacheLookups()).toEqual({ hits: 1, misses: 2 });
  });
});
