import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyLoadError } from '../../src/policy/load-policy-dir.js';
import type { PolicySet } from '../../src/policy/policy-set.js';
import { PolicyStore } from '../../src/policy/policy-store.js';
import { DEFAULT_POLICIES, rewritePolicyDir, writePolicyDir } from '../helpers/policy-dir.js';

const extraPolicy = {
  ...DEFAULT_POLICIES,
  'more.cedar':
    '@id("everyone-renews")\npermit (principal, action == Action::"renew", resource == Template::"test-api");\n',
};

describe('PolicyStore', () => {
  it('refuses to open an invalid directory with every problem', async () => {
    const dir = await writePolicyDir({ policies: { 'a.cedar': 'permit (principal, action, resource);' } });
    await expect(PolicyStore.open(dir)).rejects.toBeInstanceOf(PolicyLoadError);
  });

  it('keeps the same set and version when the files did not change', async () => {
    const store = await PolicyStore.open(await writePolicyDir());
    const before = store.current();
    const changes: PolicySet[] = [];
    store.onChange((set) => changes.push(set));
    expect(await store.reload()).toEqual({ ok: true, version: before.version, changed: false });
    expect(store.current()).toBe(before);
    expect(changes).toEqual([]);
  });

  it('swaps in a changed set and tells listeners', async () => {
    const dir = await writePolicyDir();
    const store = await PolicyStore.open(dir);
    const before = store.current();
    const seen: Array<[string, string]> = [];
    store.onChange((current, previous) => seen.push([previous.version, current.version]));

    await rewritePolicyDir(dir, { policies: extraPolicy });
    const result = await store.reload();

    expect(result).toMatchObject({ ok: true, changed: true });
    expect(store.current().version).not.toBe(before.version);
    expect(store.current().policyIds).toContain('everyone-renews');
    expect(seen).toEqual([[before.version, store.current().version]]);
  });

  it('refuses a bad set and keeps the old one in force', async () => {
    const dir = await writePolicyDir();
    const store = await PolicyStore.open(dir);
    const before = store.current();

    await writeFile(
      path.join(dir, 'broken.cedar'),
      '@id("broken")\npermit (principal, action, resource) when { };\n',
    );
    const result = await store.reload();

    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([expect.stringMatching(/broken\.cedar:2: /)]);
    expect(store.current()).toBe(before);
  });

  it('applies reloads in order, so the last one requested wins', async () => {
    const dir = await writePolicyDir();
    const store = await PolicyStore.open(dir);
    await rewritePolicyDir(dir, { policies: extraPolicy });
    const first = store.reload();
    const second = store.reload();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toMatchObject({ ok: true, changed: true });
    expect(b).toMatchObject({ ok: true, changed: false });
  });

  it('reports a listener error without undoing the swap', async () => {
    const dir = await writePolicyDir();
    const errors: unknown[] = [];
    const store = await PolicyStore.open(dir, { onListenerError: (e) => errors.push(e) });
    const unsubscribe = store.onChange(() => {
      throw new Error('listener broke');
    });
    await rewritePolicyDir(dir, { policies: extraPolicy });
    expect(await store.reload()).toMatchObject({ ok: true, changed: true });
    expect(errors).toHaveLength(1);

    unsubscribe();
    await writeFile(path.join(dir, 'more.cedar'), `${extraPolicy['more.cedar']}// changed\n`);
    expect(await store.reload()).toMatchObject({ ok: true, changed: true });
    expect(errors).toHaveLength(1);
  });

  it('re-runs the load checks on reload', async () => {
    const dir = await writePolicyDir();
    let refuse = false;
    const store = await PolicyStore.open(dir, {
      extraChecks: async () => (refuse ? ['jwks.json: no keys'] : []),
    });
    refuse = true;
    await rewritePolicyDir(dir, { policies: extraPolicy });
    expect(await store.reload()).toEqual({ ok: false, problems: ['jwks.json: no keys'] });
  });
});
