// A corpus of hostile workload identity tokens, each really signed (or forged) with jose: tokens
// from the future, tokens that claim to live forever, broken claims, forged signatures, confused
// algorithms. Every one is refused with a 401 problem; none is cached; none mints anything.
import { base64url, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { cacheUntil, createVerifiedCache, MAX_CACHE_SECONDS } from '../../src/identity/verified-cache.js';
import { createWorkloadVerifier, type WorkloadVerifier } from '../../src/identity/workload-verifier.js';
import {
  createTestIssuer,
  forgedKeyToken,
  hs256WithPublicKey,
  issuerConfig,
  type TestIssuer,
  unsignedToken,
} from '../helpers/issuer.js';

const clock = new ManualClock(new Date('2026-06-01T12:00:00Z'));
const now = () => Math.floor(clock.now().getTime() / 1000);
const HOUR = 3600;
const YEAR = 365 * 24 * HOUR;

let issuer: TestIssuer;
let verifier: WorkloadVerifier;

beforeAll(async () => {
  issuer = await createTestIssuer({ jwks: 'file', clock });
  verifier = createWorkloadVerifier([issuerConfig(issuer, { name: 'hostile-test' })], {
    policyDir: '.',
    clock,
  });
});
afterAll(async () => {
  await issuer.close();
});

const part = (value: unknown) => base64url.encode(JSON.stringify(value));

type Case = [name: string, token: () => Promise<string>, detail: RegExp];

const claims = (over: Record<string, unknown>) => issuer.sign(over);

const corpus: Case[] = [
  // From the future.
  ['iat one hour ahead', () => claims({ iat: now() + HOUR, exp: now() + 2 * HOUR }), /issued in the future/],
  [
    'iat ten years ahead',
    () => claims({ iat: now() + 10 * YEAR, exp: now() + 10 * YEAR + 300 }),
    /issued in the future/,
  ],
  ['iat 31 s ahead (just beyond the 30 s skew)', () => claims({ iat: now() + 31 }), /issued in the future/],
  ['iat = 1e308', () => claims({ iat: 1e308 }), /issued in the future|iat/],
  [
    'iat and nbf an hour ahead',
    () => claims({ iat: now() + HOUR, nbf: now() + HOUR, exp: now() + 2 * HOUR }),
    /nbf|future/,
  ],
  ['nbf one hour ahead', () => claims({ nbf: now() + HOUR }), /not valid yet/],
  ['nbf = 1e308', () => claims({ nbf: 1e308 }), /not valid yet/],
  // Claiming to live (nearly) forever.
  ['exp = 1e308', () => claims({ exp: 1e308 }), /lifetime/],
  ['exp = 1e308 without iat', () => claims({ exp: 1e308, iat: undefined }), /lifetime/],
  ['exp = 1e20', () => claims({ exp: 1e20 }), /lifetime/],
  ['exp = Number.MAX_SAFE_INTEGER', () => claims({ exp: Number.MAX_SAFE_INTEGER }), /lifetime/],
  ['exp = Number.MAX_VALUE', () => claims({ exp: Number.MAX_VALUE }), /lifetime/],
  ['exp ten years ahead', () => claims({ exp: now() + 10 * YEAR }), /lifetime/],
  ['exp 25 h after iat', () => claims({ exp: now() + 25 * HOUR }), /lifetime/],
  ['exp 25 h ahead without iat', () => claims({ iat: undefined, exp: now() + 25 * HOUR }), /lifetime/],
  ['iat = -1e308 (lifetime overflows)', () => claims({ iat: -1e308 }), /lifetime/],
  [
    'iat a year ago, exp in a minute (a year-long token)',
    () => claims({ iat: now() - YEAR, exp: now() + 60 }),
    /lifetime/,
  ],
  // Malformed time claims.
  ['exp missing', () => claims({ exp: undefined }), /no exp claim/],
  ['exp a string', () => claims({ exp: String(now() + 300) }), /exp claim is malformed/],
  ['exp null', () => claims({ exp: null }), /exp/],
  ['exp an array', () => claims({ exp: [now() + 300] }), /exp claim is malformed/],
  ['exp an object', () => claims({ exp: { value: now() + 300 } }), /exp claim is malformed/],
  ['exp = -1e308', () => claims({ exp: -1e308 }), /expired/],
  ['exp an hour ago', () => claims({ iat: now() - 2 * HOUR, exp: now() - HOUR }), /expired/],
  ['iat a string', () => claims({ iat: 'yesterday' }), /iat claim is malformed/],
  ['nbf a string', () => claims({ nbf: 'now' }), /nbf claim is malformed/],
  [
    'exp = 1e308 as raw JSON number text',
    () =>
      issuer.signRaw(`{"iss":"${issuer.issuer}","aud":"jit-broker","sub":"a","iat":${now()},"exp":1e308}`),
    /lifetime/,
  ],
  [
    'exp = 1e999 (Infinity when parsed)',
    () =>
      issuer.signRaw(`{"iss":"${issuer.issuer}","aud":"jit-broker","sub":"a","iat":${now()},"exp":1e999}`),
    /exp/,
  ],
  // Subject and audience.
  ['sub missing', () => claims({ sub: undefined }), /no sub claim/],
  ['sub empty', () => claims({ sub: '' }), /sub/],
  ['sub a number', () => claims({ sub: 42 }), /sub/],
  ['sub an object', () => claims({ sub: { id: 'a' } }), /sub/],
  ['aud another audience', () => claims({ aud: 'someone-else' }), /aud does not include/],
  ['aud missing', () => claims({ aud: undefined }), /no aud claim/],
  ['aud a list without ours', () => claims({ aud: ['a', 'b'] }), /aud does not include/],
  // Issuer.
  ['iss unknown', () => claims({ iss: 'https://evil.example' }), /unknown issuer/],
  ['iss missing', () => claims({ iss: undefined }), /no iss claim/],
  ['iss a number', () => claims({ iss: 7 }), /no iss claim/],
  // Algorithms and signatures.
  ['alg none', async () => unsignedToken(issuer), /alg none/],
  [
    'alg NONE with a signature',
    async () => `${part({ alg: 'NONE' })}.${part(issuer.claims())}.c2ln`,
    /alg none/,
  ],
  ['HS256 keyed with the public key', () => hs256WithPublicKey(issuer), /symmetric alg HS256/],
  ['alg HS512 header', async () => `${part({ alg: 'HS512' })}.${part(issuer.claims())}.c2ln`, /symmetric/],
  ['signed by an attacker key under the real kid', () => forgedKeyToken(issuer), /signature does not verify/],
  ['an unknown kid', () => issuer.sign({}, { kid: 'no-such-kid' }), /no signing key/],
  [
    'alg RS256 header over an ES256 key',
    async () => `${part({ alg: 'RS256', kid: issuer.kid })}.${part(issuer.claims())}.c2ln`,
    /not an allowed algorithm/,
  ],
  [
    'signature stripped',
    async () => `${(await issuer.sign()).split('.').slice(0, 2).join('.')}.`,
    /well-formed|signature|verify/,
  ],
  [
    'payload swapped under a genuine signature',
    async () => {
      const [header, , signature] = (await issuer.sign()).split('.');
      return `${header}.${part(issuer.claims({ sub: 'agent-admin' }))}.${signature}`;
    },
    /signature does not verify/,
  ],
  [
    'embedded jwk header with the attacker key',
    async () => {
      const pair = await generateKeyPair(issuer.alg, { extractable: true });
      return issuer.sign({}, { key: pair.privateKey, header: { jwk: await exportJWK(pair.publicKey) } });
    },
    /signature does not verify/,
  ],
  [
    'jku header pointing at the attacker',
    async () => {
      const pair = await generateKeyPair(issuer.alg, { extractable: true });
      return issuer.sign({}, { key: pair.privateKey, header: { jku: 'https://evil.example/jwks.json' } });
    },
    /signature does not verify/,
  ],
  [
    'an unknown critical header',
    () =>
      issuer.sign({}, { header: { crit: ['x-evil'], 'x-evil': true } as never, crit: { 'x-evil': true } }),
    /critical header/,
  ],
  // Framing.
  ['empty', async () => '', /missing/],
  ['two parts', async () => (await issuer.sign()).split('.').slice(0, 2).join('.'), /compact JWS/],
  ['larger than 8 KiB', () => claims({ padding: 'x'.repeat(9000) }), /larger than/],
  ['header not JSON', async () => `${base64url.encode('not json')}.${part(issuer.claims())}.c2ln`, /header/],
  [
    'payload not JSON',
    async () => `${part({ alg: issuer.alg, kid: issuer.kid })}.${base64url.encode('{"iss":')}.c2ln`,
    /payload/,
  ],
  [
    'payload a JSON array',
    async () => `${part({ alg: issuer.alg, kid: issuer.kid })}.${part([1, 2])}.c2ln`,
    /payload/,
  ],
  ['a NUL byte in the token', async () => `${await issuer.sign()}\u0000`, /compact JWS/],
];

describe('the hostile-token corpus', () => {
  it('has at least 40 cases', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  it.each(corpus)('refuses %s with a 401 that says why', async (_name, make, detail) => {
    const token = await make();
    const error = await verifier.verify(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ status: 401 });
    expect((error as { detail: string }).detail).toMatch(detail);
    // Refused tokens are never cached: the same token is refused again.
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401 });
  });
});

describe('the edges that are accepted', () => {
  it('accepts an iat 29 s ahead (inside the clock skew)', async () => {
    await expect(verifier.verify(await issuer.sign({ iat: now() + 29 }))).resolves.toMatchObject({
      subject: 'agent-test',
    });
  });

  it('accepts a token living exactly 24 h (the default max_token_lifetime)', async () => {
    await expect(verifier.verify(await issuer.sign({ exp: now() + 24 * HOUR }))).resolves.toMatchObject({
      subject: 'agent-test',
    });
  });

  it('honours a per-issuer max_token_lifetime', async () => {
    const strict = createWorkloadVerifier([issuerConfig(issuer, { max_token_lifetime: 600 })], {
      policyDir: '.',
      clock,
    });
    await expect(strict.verify(await issuer.sign({ exp: now() + 600 }))).resolves.toMatchObject({
      subject: 'agent-test',
    });
    await expect(strict.verify(await issuer.sign({ exp: now() + 601 }))).rejects.toMatchObject({
      status: 401,
      detail: expect.stringMatching(/exceeds the 600 s/),
    });
  });
});

describe('the verified-token cache bound', () => {
  it('is finite for every exp: NaN, Infinity and 1e308 are never cached past five minutes', () => {
    const t = clock.now().getTime();
    expect(cacheUntil(t, Number.NaN)).toBeUndefined();
    expect(cacheUntil(t, new Date(1e308 * 1000).getTime())).toBeUndefined();
    expect(cacheUntil(t, Number.POSITIVE_INFINITY)).toBe(t + MAX_CACHE_SECONDS * 1000);
    expect(cacheUntil(t, t + 60_000)).toBe(t + 60_000);
    expect(cacheUntil(t, t - 1)).toBeUndefined();
    expect(cacheUntil(Number.NaN, t)).toBeUndefined();
  });

  it('does not keep an entry whose expiry is not a date', () => {
    const cache = createVerifiedCache<{ id: string }>(clock);
    cache.set('token', { id: 'x' }, new Date(Number.NaN));
    expect(cache.get('token')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops a five-minute-old entry even when the token lives longer', () => {
    const local = new ManualClock(clock.now());
    const cache = createVerifiedCache<{ id: string }>(local);
    cache.set('token', { id: 'x' }, new Date(local.now().getTime() + 3600_000));
    expect(cache.get('token')).toEqual({ id: 'x' });
    local.advance(MAX_CACHE_SECONDS);
    expect(cache.get('token')).toBeUndefined();
  });
});
