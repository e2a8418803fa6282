import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createWorkloadVerifier } from '../../src/identity/workload-verifier.js';
import { createTestIssuer, issuerConfig, type TestAlg, type TestIssuer } from '../helpers/issuer.js';

const K8S_ATTRIBUTES = {
  namespace: ['kubernetes.io', 'namespace'],
  service_account: ['kubernetes.io', 'serviceaccount', 'name'],
  cluster: 'cluster',
};

const K8S_CLAIMS = {
  sub: 'system:serviceaccount:reports:reports-agent',
  'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent', uid: 'c0ffee' } },
  cluster: 'prod-eu',
};

describe('workload verifier: what works', () => {
  const clock = new ManualClock();
  const opened: TestIssuer[] = [];
  const open = async (...args: Parameters<typeof createTestIssuer>) => {
    const issuer = await createTestIssuer({ clock, ...args[0] });
    opened.push(issuer);
    return issuer;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((i) => i.close()));
  });

  it.each<TestAlg>(['ES256', 'RS256', 'EdDSA'])(
    'accepts a %s token whose keys are served over HTTP and maps nested claims to attributes',
    async (alg) => {
      const issuer = await open({ alg, jwks: 'http' });
      const verifier = createWorkloadVerifier(
        [issuerConfig(issuer, { name: 'k8s-prod', attributes: K8S_ATTRIBUTES })],
        { policyDir: '.', clock },
      );
      const token = await issuer.sign(K8S_CLAIMS);

      const identity = await verifier.verify(token);

      expect(identity).toEqual({
        subject: 'system:serviceaccount:reports:reports-agent',
        issuer: 'k8s-prod',
        attributes: { namespace: 'reports', service_account: 'reports-agent', cluster: 'prod-eu' },
        expiresAt: new Date((Math.floor(clock.now().getTime() / 1000) + 300) * 1000),
      });
    },
  );

  it('accepts a token whose keys come from a jwks_file relative to the policy directory', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'jit-policy-'));
    try {
      const issuer = await open({ jwks: 'file', dir: root });
      const policyDir = path.join(root, 'policies');
      const config = issuerConfig(issuer, { jwks_file: path.join('..', path.basename(issuer.jwksFile!)) });
      const verifier = createWorkloadVerifier([config], { policyDir, clock });

      await expect(verifier.verify(await issuer.sign({ sub: 'ci-job' }))).resolves.toMatchObject({
        subject: 'ci-job',
      });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('keeps JSON attribute values, leaves out missing claims and drops nulls', async () => {
    const issuer = await open({ jwks: 'http' });
    const attributes = {
      repository: 'repository',
      ref_protected: 'ref_protected',
      run_attempt: 'run_attempt',
      labels: 'labels',
      environment: 'environment',
      team: ['org', 'team'],
      missing: ['org', 'nope', 'deeper'],
    };
    const verifier = createWorkloadVerifier([issuerConfig(issuer, { attributes })], {
      policyDir: '.',
      clock,
    });
    const token = await issuer.sign({
      repository: 'acme/reports',
      ref_protected: true,
      run_attempt: 2,
      labels: ['a', null, 'b'],
      environment: null,
      org: { team: { name: 'data', lead: null } },
    });

    const identity = await verifier.verify(token);

    expect(identity.attributes).toEqual({
      repository: 'acme/reports',
      ref_protected: true,
      run_attempt: 2,
      labels: ['a', 'b'],
      team: { name: 'data' },
    });
  });

  it('picks the issuer by iss among several trusted issuers and names it by its configured name', async () => {
    const k8s = await open({ jwks: 'http' });
    const github = await open({
      alg: 'RS256',
      jwks: 'http',
      issuer: 'https://token.actions.githubusercontent.com',
    });
    const verifier = createWorkloadVerifier(
      [issuerConfig(k8s, { name: 'k8s-prod' }), issuerConfig(github, { name: 'github-actions' })],
      { policyDir: '.', clock },
    );

    await expect(
      verifier.verify(await github.sign({ sub: 'repo:acme/reports:ref:refs/heads/main' })),
    ).resolves.toMatchObject({
      issuer: 'github-actions',
      subject: 'repo:acme/reports:ref:refs/heads/main',
    });
    await expect(verifier.verify(await k8s.sign())).resolves.toMatchObject({ issuer: 'k8s-prod' });
    expect(github.fetchCount()).toBe(1);
    expect(k8s.fetchCount()).toBe(1);
  });

  it('accepts a token that expired less than the clock tolerance ago', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], {
      policyDir: '.',
      clock,
      clockToleranceSeconds: 30,
    });
    const now = Math.floor(clock.now().getTime() / 1000);

    await expect(
      verifier.verify(await issuer.sign({ iat: now - 300, exp: now - 20 })),
    ).resolves.toMatchObject({
      subject: 'agent-test',
    });
  });

  it('accepts a token whose nbf is less than the clock tolerance ahead', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    const now = Math.floor(clock.now().getTime() / 1000);

    await expect(verifier.verify(await issuer.sign({ nbf: now + 20 }))).resolves.toMatchObject({
      subject: 'agent-test',
    });
  });

  it('fetches the JWKS once for many tokens', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => issuer.sign({ sub: `agent-${i}` })),
    );

    const identities = await Promise.all(tokens.map((t) => verifier.verify(t)));

    expect(identities.map((i) => i.subject)).toEqual(tokens.map((_, i) => `agent-${i}`));
    expect(issuer.fetchCount()).toBe(1);
  });

  it('picks up a rotated key with one refetch when a token names an unknown kid', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    await verifier.verify(await issuer.sign({ sub: 'before-rotation' }));
    expect(issuer.fetchCount()).toBe(1);

    clock.advance(31);
    await issuer.rotate();
    const identity = await verifier.verify(await issuer.sign({ sub: 'after-rotation' }));

    expect(identity.subject).toBe('after-rotation');
    expect(issuer.fetchCount()).toBe(2);
  });

  it('refreshes the keys after their max age, so a withdrawn key stops verifying', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], {
      policyDir: '.',
      clock,
      cacheSize: 0,
      jwks: { maxAgeSeconds: 60 },
    });
    await verifier.verify(await issuer.sign());
    const [oldKeyFirst, oldKeyLater] = await Promise.all([
      issuer.sign({ sub: 'old-1' }),
      issuer.sign({ sub: 'old-2' }),
    ]);
    await issuer.rotate({ dropPrevious: true });
    clock.advance(61);

    // Stale keys answer while the refresh runs in the background.
    await expect(verifier.verify(oldKeyFirst)).resolves.toMatchObject({ subject: 'old-1' });
    await expect(verifier.verify(await issuer.sign({ sub: 'new-key' }))).resolves.toMatchObject({
      subject: 'new-key',
    });
    await expect(verifier.verify(oldKeyLater)).rejects.toMatchObject({
      status: 401,
      detail: "no signing key of issuer test-issuer matches the token's kid and alg",
    });
    expect(issuer.fetchCount()).toBe(2);
  });

  it('keeps verifying with the last keys when refreshing them fails', async () => {
    const issuer = await open({ jwks: 'http' });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], {
      policyDir: '.',
      clock,
      cacheSize: 0,
      jwks: { maxAgeSeconds: 60 },
    });
    await verifier.verify(await issuer.sign());
    issuer.serve('error');
    clock.advance(61);

    await expect(verifier.verify(await issuer.sign({ sub: 'during-outage' }))).resolves.toMatchObject({
      subject: 'during-outage',
    });
    await issuer.waitForFetches(2);
  });
});

describe('workload verifier: the identity cache', () => {
  const clock = new ManualClock();
  let issuer: TestIssuer;
  afterEach(async () => {
    await issuer.close();
  });

  it('returns the same identity for the same token without verifying it again', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    const token = await issuer.sign({ exp: Math.floor(clock.now().getTime() / 1000) + 3600 });
    const first = await verifier.verify(token);

    // With the keys unreachable, only the cache can answer.
    issuer.serve('error');
    clock.advance(299);

    expect(await verifier.verify(token)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('verifies a token again after five minutes, even if it is still valid', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    const token = await issuer.sign({ exp: Math.floor(clock.now().getTime() / 1000) + 3600 });
    const first = await verifier.verify(token);

    clock.advance(301);
    const second = await verifier.verify(token);

    expect(second).not.toBe(first);
    expect(second).toEqual(first);
  });

  it('never returns a cached identity once its token has expired', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], {
      policyDir: '.',
      clock,
      clockToleranceSeconds: 0,
    });
    const token = await issuer.sign({ exp: Math.floor(clock.now().getTime() / 1000) + 60 });
    await verifier.verify(token);

    clock.advance(60);

    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, detail: 'token has expired' });
  });

  it('forgets the least recently used identity beyond cacheSize', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock, cacheSize: 2 });
    const [t1, t2, t3] = await Promise.all(['a', 'b', 'c'].map((sub) => issuer.sign({ sub })));
    const first = await verifier.verify(t1!);
    const second = await verifier.verify(t2!);
    await verifier.verify(t1!);
    await verifier.verify(t3!);

    expect(await verifier.verify(t1!)).toBe(first);
    expect(await verifier.verify(t2!)).not.toBe(second);
  });
});
