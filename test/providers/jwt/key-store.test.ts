import { eq, isNull } from 'drizzle-orm';
import {
  base64url,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { signingKeys } from '../../../src/db/schema/index.js';
import { KeyStore, type KeyStoreOptions } from '../../../src/providers/jwt/key-store.js';
import { openPrivateKey } from '../../../src/providers/jwt/master-key.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogger, newMasterKey } from './fixtures.js';

const T0 = new Date('2030-01-01T00:00:00Z');
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

let database: TestDatabase;
let masterKey: Buffer;
let clock: ManualClock;
const captured = captureLogger();

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.db.delete(signingKeys);
  masterKey = newMasterKey();
  clock = new ManualClock(T0);
});

function open(overrides: Partial<KeyStoreOptions> = {}): Promise<KeyStore> {
  return KeyStore.open({ database, masterKey, clock, logger: captured.logger, ...overrides });
}

async function signWith(store: KeyStore, claims: Record<string, unknown>): Promise<string> {
  const { kid, alg, privateKey } = store.currentKey();
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(privateKey);
}

const validClaims = () => ({
  jti: 'lease-1',
  sub: 'agent',
  iat: seconds(clock.now()),
  exp: seconds(clock.now()) + 300,
});

describe('KeyStore.open', () => {
  it('creates exactly one current EdDSA key on first open, and reuses it afterwards', async () => {
    const first = await open();
    const rows = await database.db.select().from(signingKeys);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kid: first.currentKey().kid,
      alg: 'EdDSA',
      retiredAt: null,
      publishUntil: null,
    });
    expect(rows[0]!.createdAt).toEqual(T0);

    const second = await open();
    expect(second.currentKey().kid).toBe(first.currentKey().kid);
    expect(await database.db.select().from(signingKeys)).toHaveLength(1);
  });

  it('creates one key when several replicas start together on an empty table', async () => {
    const stores = await Promise.all([open(), open(), open(), open()]);
    expect(await database.db.select().from(signingKeys)).toHaveLength(1);
    expect(new Set(stores.map((s) => s.currentKey().kid)).size).toBe(1);
  });

  it('never stores the private key in clear, and never publishes it', async () => {
    const store = await open();
    const [row] = await database.db.select().from(signingKeys);
    const privateJwk = JSON.parse(
      openPrivateKey(masterKey, row!.privateKeyEnc, row!.kid).toString('utf8'),
    ) as {
      d: string;
      x: string;
    };
    expect(privateJwk.d.length).toBeGreaterThan(20);
    expect(row!.privateKeyEnc.includes(Buffer.from(privateJwk.d, 'utf8'))).toBe(false);
    expect(row!.privateKeyEnc.includes(Buffer.from(base64url.decode(privateJwk.d)))).toBe(false);
    expect(JSON.stringify(row!.publicJwk)).not.toContain(privateJwk.d);
    expect(row!.publicJwk).not.toHaveProperty('d');
    expect(JSON.stringify(store.jwks())).not.toContain(privateJwk.d);
    expect(captured.text()).not.toContain(privateJwk.d);
  });

  it('keeps the private key non-extractable in memory', async () => {
    const store = await open();
    expect(store.currentKey().privateKey.extractable).toBe(false);
    await expect(exportJWK(store.currentKey().privateKey)).rejects.toThrow();
  });

  it('fails with a clear message when BROKER_MASTER_KEY is not the key that encrypted the keys', async () => {
    const store = await open();
    const kid = store.currentKey().kid;
    await expect(open({ masterKey: newMasterKey() })).rejects.toThrow(
      `cannot decrypt signing key ${kid}: BROKER_MASTER_KEY does not match the key that encrypted it`,
    );
  });

  it('lets a new master key take over once the current key is retired by hand (docs/keys.md)', async () => {
    const old = await open();
    const oldToken = await signWith(old, { ...validClaims(), exp: seconds(clock.now()) + 900 });
    await database.db
      .update(signingKeys)
      .set({ retiredAt: clock.now(), publishUntil: new Date(clock.now().getTime() + 900_000) })
      .where(isNull(signingKeys.retiredAt));

    const replacement = newMasterKey();
    const [a, b] = await Promise.all([open({ masterKey: replacement }), open({ masterKey: replacement })]);
    expect(a.currentKey().kid).not.toBe(old.currentKey().kid);
    expect(b.currentKey().kid).toBe(a.currentKey().kid);
    expect(a.jwks().keys.map((k) => k.kid)).toEqual([a.currentKey().kid, old.currentKey().kid]);
    expect(await a.verify(oldToken)).toMatchObject({ jti: 'lease-1' });
  });

  it('refuses a private key copied onto another key row (the ciphertext is bound to its kid)', async () => {
    const store = await open();
    const oldKid = store.currentKey().kid;
    await store.rotate(600);
    const newKid = store.currentKey().kid;
    const [old] = await database.db.select().from(signingKeys).where(eq(signingKeys.kid, oldKid));
    await database.db
      .update(signingKeys)
      .set({ privateKeyEnc: old!.privateKeyEnc })
      .where(eq(signingKeys.kid, newKid));
    await expect(open()).rejects.toThrow(`cannot decrypt signing key ${newKid}`);
  });

  it('publishes only public members even when a row carries more', async () => {
    const store = await open();
    const [row] = await database.db.select().from(signingKeys);
    await database.db
      .update(signingKeys)
      .set({ publicJwk: { ...row!.publicJwk, d: 'leaked', p: 'x', k: 'y' } })
      .where(eq(signingKeys.kid, row!.kid));
    const reopened = await open();
    expect(reopened.jwks().keys[0]).toEqual(store.jwks().keys[0]);
    expect(Object.keys(reopened.jwks().keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x']);
  });

  it('rejects an unknown algorithm and a master key of the wrong size, naming the option', async () => {
    await expect(open({ alg: 'HS256' as never })).rejects.toThrow(/option "alg"/);
    await expect(open({ masterKey: Buffer.alloc(16) })).rejects.toThrow(/option "masterKey"/);
  });
});

describe('KeyStore.jwks', () => {
  it('publishes the current key with kid, alg and use: sig', async () => {
    const store = await open();
    const { keys } = store.jwks();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      kid: store.currentKey().kid,
      alg: 'EdDSA',
      use: 'sig',
    });
  });

  it('returns copies: a caller mutating the JWKS does not change what is served', async () => {
    const store = await open();
    const served = store.jwks();
    (served.keys[0] as Record<string, unknown>).d = 'oops';
    expect(store.jwks().keys[0]).not.toHaveProperty('d');
  });
});

describe('KeyStore.rotate', () => {
  it('makes a new key current and retires the previous one until every token it signed has expired', async () => {
    const store = await open();
    const oldKid = store.currentKey().kid;
    clock.advance(3600);
    const newKid = await store.rotate(900);
    expect(newKid).not.toBe(oldKid);
    expect(store.currentKey().kid).toBe(newKid);

    const [old] = await database.db.select().from(signingKeys).where(eq(signingKeys.kid, oldKid));
    expect(old!.retiredAt).toEqual(clock.now());
    expect(old!.publishUntil).toEqual(new Date(clock.now().getTime() + 900_000));
    expect(await database.db.select().from(signingKeys).where(isNull(signingKeys.retiredAt))).toHaveLength(1);

    expect(store.jwks().keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    clock.advance(899);
    expect(store.jwks().keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    clock.advance(1);
    expect(store.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
  });

  it('keeps verifying tokens of the previous key while it is published, and not after', async () => {
    const store = await open();
    const oldToken = await signWith(store, { ...validClaims(), exp: seconds(clock.now()) + 3600 });
    await store.rotate(600);
    const newToken = await signWith(store, validClaims());
    expect(decodeProtectedHeader(newToken).kid).toBe(store.currentKey().kid);
    expect(await store.verify(oldToken)).toMatchObject({ jti: 'lease-1' });
    await expect(
      jwtVerify(oldToken, createLocalJWKSet(store.jwks()), { currentDate: clock.now() }),
    ).resolves.toBeTruthy();

    clock.advance(600);
    expect(await store.verify(oldToken)).toBeUndefined();
    await expect(
      jwtVerify(oldToken, createLocalJWKSet(store.jwks()), { currentDate: clock.now() }),
    ).rejects.toThrow();
    expect(await store.verify(newToken)).toBeUndefined(); // expired too, after 300 s
  });

  it('refuses a lifetime that is not a positive whole number of seconds', async () => {
    const store = await open();
    await expect(store.rotate(0)).rejects.toThrow(/positive integer/);
    await expect(store.rotate(1.5)).rejects.toThrow(/positive integer/);
  });
});

describe('KeyStore.refresh', () => {
  it('picks up a rotation done by another replica', async () => {
    const a = await open();
    const b = await open();
    const oldKid = a.currentKey().kid;
    const newKid = await b.rotate(600);
    expect(a.currentKey().kid).toBe(oldKid);
    await a.refresh();
    expect(a.currentKey().kid).toBe(newKid);
    expect(a.jwks()).toEqual(b.jwks());
  });

  it('changes nothing when nothing changed', async () => {
    const store = await open();
    const current = store.currentKey();
    const jwks = store.jwks();
    await store.refresh();
    expect(store.currentKey()).toBe(current);
    expect(store.jwks()).toEqual(jwks);
  });

  it('keeps the keys it has when a reload fails', async () => {
    const store = await open();
    const current = store.currentKey();
    await database.db.update(signingKeys).set({ retiredAt: clock.now(), publishUntil: clock.now() });
    await expect(store.refresh()).rejects.toThrow(/no current key/);
    expect(store.currentKey()).toBe(current);
  });
});

describe('KeyStore.verify', () => {
  it('returns the claims of a token signed with the current key', async () => {
    const store = await open();
    expect(await store.verify(await signWith(store, validClaims()))).toEqual(validClaims());
  });

  it('verifies a token from a key another replica just rotated to, re-reading the table', async () => {
    const a = await open();
    const b = await open();
    clock.advance(60);
    await b.rotate(600);
    expect(await a.verify(await signWith(b, validClaims()))).toMatchObject({ jti: 'lease-1' });
  });

  it('re-reads the table for unknown kids at most once per cooldown', async () => {
    const a = await open();
    const b = await open();
    const forged = await new SignJWT(validClaims())
      .setProtectedHeader({ alg: 'EdDSA', kid: 'made-up', typ: 'JWT' })
      .sign((await generateKeyPair('EdDSA')).privateKey);
    expect(await a.verify(forged)).toBeUndefined(); // spends the re-read
    await b.rotate(600);
    const fromB = await signWith(b, validClaims());
    expect(await a.verify(fromB)).toBeUndefined();
    clock.advance(10);
    expect(await a.verify(fromB)).toMatchObject({ jti: 'lease-1' });
  });

  describe('answers undefined for anything the broker did not mint', () => {
    let store: KeyStore;
    beforeEach(async () => {
      store = await open();
    });

    it('garbage', async () => {
      for (const token of ['', 'a', 'a.b.c', '...', 'eyJhbGciOiJFZERTQSJ9.e30.', 'x'.repeat(10_000)]) {
        expect(await store.verify(token)).toBeUndefined();
      }
    });

    it('an unsigned token (alg none)', async () => {
      const header = base64url.encode(
        JSON.stringify({ alg: 'none', kid: store.currentKey().kid, typ: 'JWT' }),
      );
      const body = base64url.encode(JSON.stringify(validClaims()));
      expect(await store.verify(`${header}.${body}.`)).toBeUndefined();
    });

    it('an HS256 token keyed with the public key (algorithm confusion)', async () => {
      const { x } = store.jwks().keys[0]!;
      const token = await new SignJWT(validClaims())
        .setProtectedHeader({ alg: 'HS256', kid: store.currentKey().kid, typ: 'JWT' })
        .sign(new TextEncoder().encode(x));
      expect(await store.verify(token)).toBeUndefined();
    });

    it('a token signed by another key claiming our kid', async () => {
      const { privateKey } = await generateKeyPair('EdDSA');
      const token = await new SignJWT(validClaims())
        .setProtectedHeader({ alg: 'EdDSA', kid: store.currentKey().kid, typ: 'JWT' })
        .sign(privateKey);
      expect(await store.verify(token)).toBeUndefined();
    });

    it('a token whose payload was altered', async () => {
      const [h, , s] = (await signWith(store, validClaims())).split('.');
      const altered = base64url.encode(JSON.stringify({ ...validClaims(), sub: 'admin' }));
      expect(await store.verify(`${h}.${altered}.${s}`)).toBeUndefined();
    });

    it('an expired token, a token without exp, a token without kid', async () => {
      const expired = await signWith(store, { ...validClaims(), exp: seconds(clock.now()) - 1 });
      const { exp: _exp, ...noExp } = validClaims();
      const noKid = await new SignJWT(validClaims())
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
        .sign(store.currentKey().privateKey);
      expect(await store.verify(expired)).toBeUndefined();
      expect(await store.verify(await signWith(store, noExp))).toBeUndefined();
      expect(await store.verify(noKid)).toBeUndefined();
    });
  });
});

describe('ES256', () => {
  it('creates, publishes, verifies and rotates P-256 keys', async () => {
    const store = await open({ alg: 'ES256' });
    expect(store.currentKey().alg).toBe('ES256');
    expect(store.jwks().keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    const token = await signWith(store, validClaims());
    expect(await store.verify(token)).toEqual(validClaims());
    await store.rotate(600);
    expect(store.currentKey().alg).toBe('ES256');
    expect(await store.verify(token)).toEqual(validClaims());
  });
});
