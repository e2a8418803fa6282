// Rotating the broker's JWT signing key while it serves (`npm run keys:rotate`): relying parties
// that verify with /.well-known/jwks.json never see a token they cannot verify. Both keys are
// published during the rotation, new tokens use the new kid, and the old key leaves the JWKS only
// once every token it signed has expired.
import { createLocalJWKSet, decodeProtectedHeader, errors, type JWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rotateKeys } from '../../src/cli/rotate-keys.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { credentialRequest, startTestBroker, TEST_MASTER_KEY, type TestBroker } from '../helpers/broker.js';
import { runScript } from '../helpers/broker-process.js';

/** The largest max_ttl of the test templates (reports-api: 15m): how long an old key must stay. */
const MAX_TOKEN_LIFETIME = 900;

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

/** What `npm run keys:rotate` would see: the same database and master key as the broker. */
function rotationConfig() {
  return loadConfig({ DATABASE_URL: t.database.url, BROKER_MASTER_KEY: TEST_MASTER_KEY.toString('hex') });
}

async function jwks(broker: TestBroker = t): Promise<{ keys: JWK[] }> {
  const res = await broker.request('GET', '/.well-known/jwks.json');
  expect(res.status).toBe(200);
  return res.body;
}

async function mint(broker: TestBroker = t, ttl = 600) {
  const res = await broker.request('POST', '/v1/credentials', {
    token: await broker.agentToken('agent-keys'),
    body: credentialRequest({ ttl_seconds: ttl }),
  });
  expect(res.status, res.text).toBe(201);
  const token = res.body.credential.token as string;
  return { token, kid: decodeProtectedHeader(token).kid!, expiresAt: new Date(res.body.expires_at) };
}

/** Verifies as a relying party does: with the JWKS fetched over HTTP, at the broker's time. */
async function verifyWithJwks(token: string, keys: { keys: JWK[] }) {
  return jwtVerify(token, createLocalJWKSet(keys), {
    issuer: 'https://broker.test.local',
    audience: 'https://reports.internal',
    currentDate: t.clock.now(),
  });
}

describe('keys:rotate while the broker runs', () => {
  test('both keys are published, new tokens use the new kid, old tokens keep verifying, and the old key goes only after its tokens expired', async () => {
    const oldKid = t.keyStore.currentKey().kid;
    const before = await mint();
    expect(before.kid).toBe(oldKid);
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([oldKid]);

    const rotatedAt = t.clock.now();
    const result = await rotateKeys(
      { maxTokenLifetimeSeconds: MAX_TOKEN_LIFETIME, alg: 'EdDSA' },
      { config: rotationConfig(), logger: createLogger('silent'), clock: t.clock },
    );
    expect(result.kid).not.toBe(oldKid);
    expect(result.previous).toEqual([
      { kid: oldKid, publishUntil: new Date(rotatedAt.getTime() + MAX_TOKEN_LIFETIME * 1000) },
    ]);

    // The broker re-reads the signing keys on its sweep tick, as in production.
    await t.broker.sweeper.sweep();
    const during = await jwks();
    expect(during.keys.map((k) => k.kid)).toEqual([result.kid, oldKid]);
    for (const key of during.keys) expect(key).not.toHaveProperty('d');

    const after = await mint();
    expect(after.kid).toBe(result.kid);
    expect((await verifyWithJwks(after.token, during)).protectedHeader.kid).toBe(result.kid);
    expect((await verifyWithJwks(before.token, during)).payload.exp).toBe(before.expiresAt.getTime() / 1000);
    const introspection = await t.request('POST', '/v1/introspect', { body: { token: before.token } });
    expect(introspection.body.active).toBe(true);

    // One second before the old token expires: its key is still there for relying parties.
    t.clock.set(new Date(before.expiresAt.getTime() - 1000));
    await t.broker.sweeper.sweep();
    const lastMoment = await jwks();
    expect(lastMoment.keys.map((k) => k.kid)).toContain(oldKid);
    await verifyWithJwks(before.token, lastMoment);

    // Up to the end of the window that covers the longest token the old key could have signed.
    t.clock.set(new Date(rotatedAt.getTime() + MAX_TOKEN_LIFETIME * 1000 - 1000));
    await t.broker.sweeper.sweep();
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([result.kid, oldKid]);

    t.clock.set(new Date(rotatedAt.getTime() + MAX_TOKEN_LIFETIME * 1000 + 1000));
    await t.broker.sweeper.sweep();
    const gone = await jwks();
    expect(gone.keys.map((k) => k.kid)).toEqual([result.kid]);
    // By now every token the old key signed is past its exp; the new key's tokens still verify.
    await expect(verifyWithJwks(before.token, lastMoment)).rejects.toBeInstanceOf(errors.JWTExpired);
    await expect(verifyWithJwks(before.token, gone)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    const fresh = await mint();
    expect(fresh.kid).toBe(result.kid);
    await verifyWithJwks(fresh.token, gone);
  });

  test('a replica that has not re-read the keys yet still accepts, at introspection, a token signed with the new key', async () => {
    const replica = await startTestBroker({
      database: t.database,
      clock: t.clock,
      issuers: { workload: t.issuer, staff: t.staffIssuer },
    });
    try {
      const result = await rotateKeys(
        { maxTokenLifetimeSeconds: MAX_TOKEN_LIFETIME, alg: 'ES256' },
        { config: rotationConfig(), logger: createLogger('silent'), clock: t.clock },
      );
      await t.broker.sweeper.sweep();
      const minted = await mint(t);
      expect(minted.kid).toBe(result.kid);
      expect(decodeProtectedHeader(minted.token).alg).toBe('ES256');

      // The replica has not swept since the rotation: the unknown kid makes it re-read the table.
      expect(replica.keyStore.currentKey().kid).not.toBe(result.kid);
      const introspection = await replica.request('POST', '/v1/introspect', {
        body: { token: minted.token },
      });
      expect(introspection.status).toBe(200);
      expect(introspection.body).toMatchObject({ active: true, jti: expect.any(String) });
      expect((await jwks(replica)).keys.map((k) => k.kid)).toContain(result.kid);
      expect((await mint(replica)).kid).toBe(result.kid);
    } finally {
      await replica.close();
    }
  });
});

describe('npm run keys:rotate (the real command)', () => {
  test('prints the new kid and how long the previous key stays; the running broker publishes it on its next sweep', async () => {
    // The command stamps the rotation with the system clock: bring the broker's clock back to it.
    t.clock.set(new Date());
    const previous = t.keyStore.currentKey().kid;
    const { code, stdout, stderr } = await runScript(
      'src/cli/rotate-keys.ts',
      ['--max-token-lifetime', String(MAX_TOKEN_LIFETIME)],
      {
        DATABASE_URL: t.database.url,
        BROKER_MASTER_KEY: TEST_MASTER_KEY.toString('base64'),
        LOG_LEVEL: 'warn',
      },
    );
    expect(code, stderr).toBe(0);
    const kid = /^new signing key (\S+) \(EdDSA\) is now current$/m.exec(stdout)?.[1];
    expect(kid, stdout).toBeDefined();
    expect(stdout).toMatch(new RegExp(`^previous key ${previous} stays published until \\S+Z$`, 'm'));

    expect((await mint()).kid).toBe(previous);
    await t.broker.sweeper.sweep();
    const kids = (await jwks()).keys.map((k) => k.kid);
    expect(kids[0]).toBe(kid);
    expect(kids).toContain(previous);
    expect((await mint()).kid).toBe(kid);
  }, 60_000);
});
