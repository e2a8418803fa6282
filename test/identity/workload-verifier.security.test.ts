import { base64url } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createWorkloadVerifier, type WorkloadVerifier } from '../../src/identity/workload-verifier.js';
import { Problem } from '../../src/problem.js';
import {
  createTestIssuer,
  forgedKeyToken,
  hs256WithPublicKey,
  issuerConfig,
  type TestIssuer,
  unsignedToken,
} from '../helpers/issuer.js';

describe('workload verifier: what an attacker tries', () => {
  const clock = new ManualClock();
  let issuer: TestIssuer;
  let verifier: WorkloadVerifier;
  beforeEach(async () => {
    issuer = await createTestIssuer({ jwks: 'http', clock });
    verifier = createWorkloadVerifier(
      [issuerConfig(issuer, { attributes: { namespace: ['kubernetes.io', 'namespace'] } })],
      { policyDir: '.', clock },
    );
  });
  afterEach(async () => {
    await issuer.close();
  });

  it('refuses an unsigned token (alg none) before fetching any key', async () => {
    await expect(verifier.verify(unsignedToken(issuer))).rejects.toMatchObject({
      status: 401,
      detail: 'alg none is never accepted: the token is unsigned',
    });
    expect(issuer.fetchCount()).toBe(0);
  });

  it.each(['none', 'NONE', 'nOnE'])('refuses alg %s with a signature attached', async (alg) => {
    const [, payload] = unsignedToken(issuer).split('.');
    const token = `${base64url.encode(JSON.stringify({ alg }))}.${payload}.c2ln`;

    await expect(verifier.verify(token)).rejects.toMatchObject({
      status: 401,
      detail: expect.stringMatching(/alg none/),
    });
  });

  it('refuses HS256 signed with the issuer public key (algorithm confusion)', async () => {
    await expect(verifier.verify(await hs256WithPublicKey(issuer))).rejects.toMatchObject({
      status: 401,
      detail: 'symmetric alg HS256 is never accepted for identity tokens',
    });
    expect(issuer.fetchCount()).toBe(0);
  });

  it('refuses an ES256 token when the issuer allows only RS256', async () => {
    const rsaOnly = createWorkloadVerifier([issuerConfig(issuer, { algorithms: ['RS256'] })], {
      policyDir: '.',
      clock,
    });

    await expect(rsaOnly.verify(await issuer.sign())).rejects.toMatchObject({
      status: 401,
      detail: 'alg ES256 is not an allowed algorithm for issuer test-issuer',
    });
    expect(issuer.fetchCount()).toBe(0);
  });

  it('refuses a token signed by a forged key that carries the real kid', async () => {
    await expect(verifier.verify(await forgedKeyToken(issuer))).rejects.toMatchObject({
      status: 401,
      detail: 'token signature does not verify with the keys of issuer test-issuer',
    });
  });

  it('refuses a token signed by another trusted issuer that claims this issuer', async () => {
    const other = await createTestIssuer({ jwks: 'http', clock });
    try {
      const both = createWorkloadVerifier([issuerConfig(issuer), issuerConfig(other, { name: 'other' })], {
        policyDir: '.',
        clock,
      });
      const token = await other.sign({ iss: issuer.issuer }, { kid: issuer.kid });

      await expect(both.verify(token)).rejects.toMatchObject({ status: 401 });
      expect(other.fetchCount()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('refuses a payload changed after signing, even when the original token is cached', async () => {
    const token = await issuer.sign({ 'kubernetes.io': { namespace: 'reports' } });
    await verifier.verify(token);
    const [header, , signature] = token.split('.');
    const tampered = issuer.claims({ 'kubernetes.io': { namespace: 'kube-system' } });

    await expect(
      verifier.verify(`${header}.${base64url.encode(JSON.stringify(tampered))}.${signature}`),
    ).rejects.toMatchObject({
      status: 401,
      detail: 'token signature does not verify with the keys of issuer test-issuer',
    });
  });

  it('refuses a token without a kid when several keys could match', async () => {
    await issuer.rotate();
    const token = await issuer.sign({}, { header: { kid: undefined } });

    await expect(verifier.verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'several signing keys of issuer test-issuer match the token; it needs a kid',
    });
  });

  it('refuses a critical header it does not understand', async () => {
    const token = await issuer.sign(
      {},
      { header: { crit: ['x-bound'], 'x-bound': true }, crit: { 'x-bound': true } },
    );

    await expect(verifier.verify(token)).rejects.toMatchObject({
      status: 401,
      detail: 'token uses an unsupported algorithm, key type or critical header',
    });
  });

  it('never echoes the token, its parts or attacker-chosen header values in the problem', async () => {
    const hostileAlg = 'RS256"; evil="1';
    const candidates = [
      unsignedToken(issuer),
      await hs256WithPublicKey(issuer),
      await forgedKeyToken(issuer),
      await issuer.sign({ exp: 1 }),
      await issuer.sign({ iss: 'https://attacker.example/"injected' }),
      `${base64url.encode(JSON.stringify({ alg: hostileAlg }))}.${base64url.encode('{"iss":"x"}')}.c2ln`,
    ];
    for (const token of candidates) {
      const problem = await verifier.verify(token).catch((e: unknown) => e);
      expect(problem).toBeInstanceOf(Problem);
      const rendered = JSON.stringify({ ...(problem as Problem), message: (problem as Problem).message });
      for (const part of token.split('.').filter((p) => p.length > 8)) expect(rendered).not.toContain(part);
      expect(rendered).not.toContain('attacker.example');
      expect(rendered).not.toContain('evil');
    }
  });

  it('treats __proto__ and constructor in claims as plain names', async () => {
    const hostile = createWorkloadVerifier(
      [
        issuerConfig(issuer, {
          attributes: { polluted: ['__proto__', 'admin'], ctor: ['constructor', 'name'] },
        }),
      ],
      { policyDir: '.', clock },
    );
    const token = await issuer.sign(JSON.parse('{"__proto__": {"admin": true}}'));

    const identity = await hostile.verify(token);

    expect(identity.attributes).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});
