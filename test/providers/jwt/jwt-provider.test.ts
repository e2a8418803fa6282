import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import type { Intent } from '../../../src/core/intent.js';
import { signingKeys } from '../../../src/db/schema/index.js';
import { createJwtProvider, type JwtGrant } from '../../../src/providers/jwt/jwt-provider.js';
import { KeyStore } from '../../../src/providers/jwt/key-store.js';
import type { JwtTemplate } from '../../../src/providers/templates.js';
import type { IssueInput } from '../../../src/providers/types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogger, newMasterKey, reportsApi } from './fixtures.js';

const ISSUER = 'https://broker.example.com';
const T0 = new Date('2030-01-01T00:00:00Z');

let database: TestDatabase;
let clock: ManualClock;
let keyStore: KeyStore;
const captured = captureLogger();

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.db.delete(signingKeys);
  clock = new ManualClock(T0);
  keyStore = await KeyStore.open({ database, masterKey: newMasterKey(), clock, logger: captured.logger });
});

function intent(actions: string[]): Intent {
  return { taskId: 't-42', purpose: 'monthly report', actions, resources: [] };
}

function issueInput(
  overrides: Partial<IssueInput<JwtTemplate, JwtGrant>> = {},
): IssueInput<JwtTemplate, JwtGrant> {
  return {
    leaseId: 'lease-0001',
    template: reportsApi,
    grant: { scopes: ['reports:read', 'reports:export'] },
    agent: { subject: 'system:serviceaccount:reports:agent', issuer: 'k8s-prod' },
    onBehalfOf: undefined,
    taskId: 't-42',
    issuedAt: clock.now(),
    expiresAt: new Date(clock.now().getTime() + 300_000),
    ...overrides,
  };
}

async function verifyWithJwks(token: string) {
  return jwtVerify(token, createLocalJWKSet(keyStore.jwks()), {
    issuer: ISSUER,
    audience: reportsApi.audience,
    currentDate: clock.now(),
  });
}

describe('jwt provider', () => {
  it('is a side-effect-free jwt provider that accepts every jwt template', () => {
    const provider = createJwtProvider({ keyStore, issuer: ISSUER });
    expect(provider.kind).toBe('jwt');
    expect(provider.sideEffectFree).toBe(true);
    expect(provider.checkTemplate(reportsApi)).toEqual([]);
  });

  it('refuses to be built without an issuer or a key store', () => {
    expect(() => createJwtProvider({ keyStore, issuer: '' })).toThrow(/"issuer"/);
    expect(() => createJwtProvider({ keyStore: undefined as never, issuer: ISSUER })).toThrow(/"keyStore"/);
  });

  describe('scope', () => {
    const provider = () => createJwtProvider({ keyStore, issuer: ISSUER });

    it('grants exactly the requested scopes, in order, without duplicates', () => {
      expect(
        provider().scope(reportsApi, intent(['reports:export', 'reports:read', 'reports:export'])),
      ).toEqual({
        ok: true,
        grant: { scopes: ['reports:export', 'reports:read'] },
      });
      expect(provider().scope(reportsApi, intent(['reports:read']))).toEqual({
        ok: true,
        grant: { scopes: ['reports:read'] },
      });
    });

    it('denies a scope outside the ceiling, naming the first one that does not fit', () => {
      expect(provider().scope(reportsApi, intent(['reports:read', 'reports:delete', 'admin']))).toEqual({
        ok: false,
        reason: 'scope "reports:delete" is not in the ceiling of template "reports-api"',
      });
    });

    it('does not match scopes by prefix, case or wildcard', () => {
      for (const scope of [
        'reports:read ',
        'REPORTS:READ',
        'reports:*',
        'reports',
        'reports:read reports:export',
      ]) {
        expect(provider().scope(reportsApi, intent([scope])).ok).toBe(false);
      }
    });

    it('denies an intent that names no scope', () => {
      expect(provider().scope(reportsApi, intent([])).ok).toBe(false);
    });
  });

  describe('issue', () => {
    it('mints a token that verifies against the JWKS and carries exactly the DESIGN claims', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const issued = await provider.issue(issueInput());
      expect(issued.revocation).toEqual({ jti: 'lease-0001' });
      expect(issued.credential).toEqual({
        type: 'jwt',
        token: expect.any(String),
        expires_at: '2030-01-01T00:05:00.000Z',
      });
      const token = (issued.credential as { token: string }).token;

      const { payload, protectedHeader } = await verifyWithJwks(token);
      expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: keyStore.currentKey().kid, typ: 'JWT' });
      const iat = Math.floor(T0.getTime() / 1000);
      expect(payload).toStrictEqual({
        iss: ISSUER,
        sub: 'system:serviceaccount:reports:agent',
        aud: 'https://reports.internal',
        scope: 'reports:read reports:export',
        jti: 'lease-0001',
        iat,
        exp: iat + 300,
        task_id: 't-42',
      });
      expect(await keyStore.verify(token)).toStrictEqual(payload);
    });

    it('with on_behalf_of, makes the human the subject and the agent the actor (RFC 8693 act)', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const issued = await provider.issue(
        issueInput({ onBehalfOf: { sub: 'alice@example.com', issuer: 'https://sso.example.com' } }),
      );
      const { payload } = await verifyWithJwks((issued.credential as { token: string }).token);
      expect(payload.sub).toBe('alice@example.com');
      expect(payload.act).toStrictEqual({ sub: 'system:serviceaccount:reports:agent' });
    });

    it('re-signs the same claims on an idempotent replay, even after time moved', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const input = issueInput();
      const first = await provider.issue(input);
      clock.advance(42);
      const again = await provider.issue(input);
      const claims = (i: typeof first) => decodeJwt((i.credential as { token: string }).token);
      expect(claims(again)).toStrictEqual(claims(first));
      expect(again).toStrictEqual(first); // Ed25519 signatures are deterministic
    });

    it('expresses times in whole seconds, and expires_at matches exp', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const issued = await provider.issue(
        issueInput({ issuedAt: new Date(T0.getTime() + 999), expiresAt: new Date(T0.getTime() + 300_999) }),
      );
      const { iat, exp } = decodeJwt((issued.credential as { token: string }).token);
      expect([iat, exp]).toEqual([T0.getTime() / 1000, T0.getTime() / 1000 + 300]);
      expect(issued.credential.expires_at).toBe(new Date(exp! * 1000).toISOString());
    });

    it('refuses to sign a lease that expires before it is issued', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      await expect(provider.issue(issueInput({ expiresAt: T0 }))).rejects.toThrow(/not after issuedAt/);
    });

    it('never logs the token', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const issued = await provider.issue(issueInput());
      const token = (issued.credential as { token: string }).token;
      expect(captured.text()).not.toContain(token.split('.')[2]);
    });
  });

  it('renew re-signs the same claims with the new expiry', async () => {
    const provider = createJwtProvider({ keyStore, issuer: ISSUER });
    const input = issueInput();
    const first = decodeJwt(((await provider.issue(input)).credential as { token: string }).token);
    const renewed = await provider.renew({
      ...input,
      expiresAt: new Date(T0.getTime() + 600_000),
      revocation: { jti: input.leaseId },
    });
    expect(renewed.revocation).toEqual({ jti: 'lease-0001' });
    expect(renewed.credential.expires_at).toBe('2030-01-01T00:10:00.000Z');
    const claims = decodeJwt((renewed.credential as { token: string }).token);
    expect(claims).toStrictEqual({ ...first, exp: first.exp! + 300 });
  });

  it('revoke succeeds without doing anything (the lease state and the TTL end the token)', async () => {
    const provider = createJwtProvider({ keyStore, issuer: ISSUER });
    await expect(
      provider.revoke({ leaseId: 'lease-0001', revocation: { jti: 'lease-0001' }, template: reportsApi }),
    ).resolves.toBeUndefined();
    await expect(
      provider.revoke({ leaseId: 'lease-0002', revocation: undefined, template: undefined }),
    ).resolves.toBeUndefined();
  });

  describe('across a key rotation', () => {
    it('signs new tokens with the new kid; old tokens verify while the old key is published', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const oldKid = keyStore.currentKey().kid;
      const longLived = issueInput({ expiresAt: new Date(T0.getTime() + 900_000) });
      const oldToken = ((await provider.issue(longLived)).credential as { token: string }).token;

      const newKid = await keyStore.rotate(reportsApi.max_ttl);
      const newToken = (
        (await provider.issue(issueInput({ leaseId: 'lease-0002' }))).credential as { token: string }
      ).token;
      expect(decodeProtectedHeader(oldToken).kid).toBe(oldKid);
      expect(decodeProtectedHeader(newToken).kid).toBe(newKid);

      clock.advance(899);
      await expect(verifyWithJwks(oldToken)).resolves.toBeTruthy();
      expect(await keyStore.verify(oldToken)).toMatchObject({ jti: 'lease-0001' });

      clock.advance(1);
      expect(keyStore.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
      expect(await keyStore.verify(oldToken)).toBeUndefined();
    });

    it('a replay after a rotation carries the same claims under the new key', async () => {
      const provider = createJwtProvider({ keyStore, issuer: ISSUER });
      const input = issueInput();
      const before = (await provider.issue(input)).credential as { token: string };
      const newKid = await keyStore.rotate(900);
      const after = (await provider.issue(input)).credential as { token: string };
      expect(decodeProtectedHeader(after.token).kid).toBe(newKid);
      expect(decodeJwt(after.token)).toStrictEqual(decodeJwt(before.token));
    });
  });

  it('works with ES256 keys', async () => {
    await database.db.delete(signingKeys);
    const es = await KeyStore.open({
      database,
      masterKey: newMasterKey(),
      clock,
      logger: captured.logger,
      alg: 'ES256',
    });
    const provider = createJwtProvider({ keyStore: es, issuer: ISSUER });
    const input = issueInput();
    const first = (await provider.issue(input)).credential as { token: string };
    const { payload, protectedHeader } = await jwtVerify(first.token, createLocalJWKSet(es.jwks()), {
      issuer: ISSUER,
      audience: reportsApi.audience,
      currentDate: clock.now(),
    });
    expect(protectedHeader).toEqual({ alg: 'ES256', kid: es.currentKey().kid, typ: 'JWT' });
    const again = (await provider.issue(input)).credential as { token: string };
    expect(decodeJwt(again.token)).toStrictEqual(payload);
    expect(await es.verify(again.token)).toStrictEqual(payload);
  });
});
