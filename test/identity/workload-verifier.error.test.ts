import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { checkWorkloadIssuers, createWorkloadVerifier } from '../../src/identity/workload-verifier.js';
import { Problem } from '../../src/problem.js';
import { createTestIssuer, issuerConfig, type TestIssuer } from '../helpers/issuer.js';

const INVALID_TOKEN = { 'WWW-Authenticate': expect.stringContaining('Bearer error="invalid_token"') };

describe('workload verifier: what is refused', () => {
  const clock = new ManualClock();
  let issuer: TestIssuer;
  const verifierFor = (
    testIssuer: TestIssuer,
    extra: Parameters<typeof createWorkloadVerifier>[1] = { policyDir: '.', clock },
  ) => createWorkloadVerifier([issuerConfig(testIssuer)], extra);
  const now = () => Math.floor(clock.now().getTime() / 1000);
  afterEach(async () => {
    await issuer.close();
  });

  it('refuses an expired token with 401 invalid_token', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const token = await issuer.sign({ iat: now() - 600, exp: now() - 31 });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'token has expired',
      headers: INVALID_TOKEN,
    });
  });

  it('refuses a token whose nbf is further ahead than the clock tolerance', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const token = await issuer.sign({ nbf: now() + 31 });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'token is not valid yet (nbf is in the future)',
    });
  });

  it('refuses a token for another audience and names the expected one', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const token = await issuer.sign({ aud: ['https://reports.internal', 'sts.amazonaws.com'] });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'token aud does not include jit-broker',
    });
  });

  it('refuses a token without an aud', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const token = await issuer.sign({ aud: undefined });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'token has no aud claim',
    });
  });

  it('refuses a token from an issuer that is not configured, without fetching any keys', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const token = await issuer.sign({ iss: 'https://elsewhere.example.com' });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail: expect.stringMatching(/^unknown issuer/),
    });
    expect(issuer.fetchCount()).toBe(0);
  });

  it.each([
    ['sub', { sub: undefined }, 'token has no sub claim'],
    ['exp', { exp: undefined }, 'token has no exp claim'],
    ['iss', { iss: undefined }, 'token has no iss claim'],
  ])('refuses a token without %s', async (_claim, claims, detail) => {
    issuer = await createTestIssuer({ jwks: 'http', clock });

    await expect(verifierFor(issuer).verify(await issuer.sign(claims))).rejects.toMatchObject({
      status: 401,
      detail,
    });
  });

  it.each([
    ['a number', 42],
    ['an empty string', ''],
  ])('refuses a token whose sub is %s', async (_what, sub) => {
    issuer = await createTestIssuer({ jwks: 'http', clock });

    await expect(verifierFor(issuer).verify(await issuer.sign({ sub }))).rejects.toMatchObject({
      status: 401,
      detail: 'token sub must be a non-empty string',
    });
  });

  it('refuses a token whose exp is not a number', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });

    await expect(verifierFor(issuer).verify(await issuer.sign({ exp: 'tomorrow' }))).rejects.toMatchObject({
      status: 401,
      detail: 'token exp claim is malformed',
    });
  });

  it.each([
    ['empty', '', 'token is missing'],
    ['not a JWT', 'not-a-jwt', 'token is not a compact JWS (header.payload.signature)'],
    ['five segments (a JWE)', 'a.b.c.d.e', 'token is not a compact JWS (header.payload.signature)'],
    ['whitespace inside', 'eyJh bGc.e30.sig', 'token is not a compact JWS (header.payload.signature)'],
    ['a header that is not JSON', 'bm90IGpzb24.e30.c2ln', 'token header is not base64url-encoded JSON'],
    ['a header without alg', 'eyJ0eXAiOiJKV1QifQ.e30.c2ln', 'token header has no alg'],
    [
      'a payload that is not JSON',
      'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln',
      'token payload is not a base64url-encoded JSON object',
    ],
    ['more than 8 KiB', `eyJhbGciOiJFUzI1NiJ9.${'A'.repeat(8200)}.c2ln`, 'token is larger than 8192 bytes'],
  ])('refuses a token that is %s', async (_what, token, detail) => {
    issuer = await createTestIssuer({ jwks: 'http', clock });

    await expect(verifierFor(issuer).verify(token)).rejects.toMatchObject({
      status: 401,
      detail,
      headers: INVALID_TOKEN,
    });
    expect(issuer.fetchCount()).toBe(0);
  });

  it('refuses a token with a valid header and a bad signature', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const [header, payload] = (await issuer.sign()).split('.');

    await expect(verifierFor(issuer).verify(`${header}.${payload}.${'A'.repeat(86)}`)).rejects.toMatchObject({
      status: 401,
      detail: 'token signature does not verify with the keys of issuer test-issuer',
    });
  });

  it('refuses a token naming an unknown kid without refetching inside the cooldown', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = verifierFor(issuer);
    await verifier.verify(await issuer.sign());
    clock.advance(31);
    await issuer.rotate();
    await verifier.verify(await issuer.sign({ sub: 'rotated' }));
    expect(issuer.fetchCount()).toBe(2);

    clock.advance(10);
    await issuer.rotate();
    await expect(verifier.verify(await issuer.sign({ sub: 'rotated-again' }))).rejects.toMatchObject({
      status: 401,
      detail: "no signing key of issuer test-issuer matches the token's kid and alg",
    });
    await expect(verifier.verify(await issuer.sign({}, { kid: 'made-up' }))).rejects.toMatchObject({
      status: 401,
    });
    expect(issuer.fetchCount()).toBe(2);

    clock.advance(20);
    await expect(verifier.verify(await issuer.sign({ sub: 'after-cooldown' }))).resolves.toMatchObject({
      subject: 'after-cooldown',
    });
    expect(issuer.fetchCount()).toBe(3);
  });
});

describe('workload verifier: an unreachable issuer is a 503, not a 401', () => {
  const clock = new ManualClock();
  let issuer: TestIssuer;
  afterEach(async () => {
    await issuer.close();
  });

  it('answers 503 with Retry-After when the JWKS server is down', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    const verifier = createWorkloadVerifier([issuerConfig(issuer, { name: 'k8s-prod' })], {
      policyDir: '.',
      clock,
    });
    const token = await issuer.sign();
    await issuer.close();

    await expect(verifier.verify(token)).rejects.toMatchObject({
      status: 503,
      detail: 'cannot fetch the signing keys of issuer k8s-prod',
      headers: { 'Retry-After': '5' },
    });
  });

  it('answers 503 when the JWKS server answers with an error', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    issuer.serve('error');
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });

    await expect(verifier.verify(await issuer.sign())).rejects.toMatchObject({ status: 503 });
  });

  it('answers 503 when the JWKS server does not answer within the timeout', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    issuer.serve('hang');
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], {
      policyDir: '.',
      clock,
      jwks: { timeoutMs: 100 },
    });

    await expect(verifier.verify(await issuer.sign())).rejects.toMatchObject({ status: 503 });
  });

  it('recovers as soon as the JWKS server answers again', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    issuer.serve('error');
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });
    await expect(verifier.verify(await issuer.sign())).rejects.toMatchObject({ status: 503 });

    issuer.serve('keys');

    await expect(verifier.verify(await issuer.sign())).resolves.toMatchObject({ subject: 'agent-test' });
  });

  it('keeps the cause for the log and out of the client detail', async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    issuer.serve('error');
    const verifier = createWorkloadVerifier([issuerConfig(issuer)], { policyDir: '.', clock });

    const problem = await verifier.verify(await issuer.sign()).catch((e: unknown) => e);

    expect(problem).toBeInstanceOf(Problem);
    expect((problem as Problem).cause).toBeInstanceOf(Error);
    expect((problem as Problem).detail).not.toContain('127.0.0.1');
  });
});

describe('workload verifier: configuration mistakes fail at construction', () => {
  const clock = new ManualClock();

  it('names a jwks_file that does not exist', () => {
    const config = {
      name: 'k8s-prod',
      issuer: 'https://k8s.example.com',
      audience: 'jit-broker',
      jwks_file: 'missing-jwks.json',
      algorithms: ['ES256' as const],
      attributes: {},
    };

    expect(() => createWorkloadVerifier([config], { policyDir: '/nonexistent/policies', clock })).toThrow(
      /issuer k8s-prod: cannot read jwks_file \/nonexistent\/policies\/missing-jwks\.json \(ENOENT\)/,
    );
  });

  it('refuses a plain http jwks_uri that is not on loopback', () => {
    const config = {
      name: 'k8s-prod',
      issuer: 'https://k8s.example.com',
      audience: 'jit-broker',
      jwks_uri: 'http://k8s.example.com/openid/v1/jwks',
      algorithms: ['ES256' as const],
      attributes: {},
    };

    expect(() => createWorkloadVerifier([config], { policyDir: '.', clock })).toThrow(/must use https/);
  });

  it('refuses two issuers with the same iss', async () => {
    const issuer = await createTestIssuer({ jwks: 'http', clock });
    try {
      expect(() =>
        createWorkloadVerifier([issuerConfig(issuer, { name: 'a' }), issuerConfig(issuer, { name: 'b' })], {
          policyDir: '.',
          clock,
        }),
      ).toThrow(/issuers a and b both have issuer/);
    } finally {
      await issuer.close();
    }
  });

  it('reports issuers sharing an iss to the policy loader', async () => {
    const issuer = await createTestIssuer({ jwks: 'file', clock });
    try {
      const list = [issuerConfig(issuer, { name: 'a' }), issuerConfig(issuer, { name: 'b' })];

      expect(checkWorkloadIssuers(list)).toEqual([
        `issuers a and b both have issuer ${issuer.issuer}; give each its own issuer URL`,
      ]);
      expect(checkWorkloadIssuers(list.slice(1))).toEqual([]);
    } finally {
      await issuer.close();
    }
  });

  it('refuses a negative clock tolerance', () => {
    expect(() => createWorkloadVerifier([], { policyDir: '.', clock, clockToleranceSeconds: -1 })).toThrow(
      /clockToleranceSeconds/,
    );
  });
});
