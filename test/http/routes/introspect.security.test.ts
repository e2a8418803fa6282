// POST /v1/introspect with `resource_servers:` configured (RFC 7662 §2.1): every caller must
// authenticate (HTTP Basic, client_secret_post or private_key_jwt, driven through openid-client),
// and each resource server learns `active: true` only for tokens minted for its own audience.
import { createHash } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { discoverBroker } from '../../helpers/openid-client.js';

const REPORTS_SECRET = 'rs-reports-secret-7f3a9c';
const ORDERS_SECRET = 'rs-orders-secret-1b2c3d';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const ENDPOINT = 'https://broker.test.local/v1/introspect';
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

let t: TestBroker;
let rsKey: CryptoKey;
let otherKey: CryptoKey;
let token: string;
let leaseId: string;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  rsKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  const jwks = {
    keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'rs-jwt-1', alg: 'ES256', use: 'sig' }],
  };
  t = await startTestBroker({
    resourceServers: [
      {
        client_id: 'rs-reports',
        client_secret_sha256: sha256(REPORTS_SECRET),
        audience: 'https://reports.internal',
      },
      {
        client_id: 'rs-orders',
        client_secret_sha256: sha256(ORDERS_SECRET).toUpperCase(),
        audience: 'https://orders.internal',
      },
      { client_id: 'rs-jwt', jwks_file: './rs-jwt.jwks.json', audience: 'https://reports.internal' },
    ],
    files: { 'rs-jwt.jwks.json': JSON.stringify(jwks) },
  });
  const res = await t.request('POST', '/v1/credentials', {
    token: await t.agentToken(),
    body: credentialRequest(),
  });
  expect(res.status).toBe(201);
  token = res.body.credential.token;
  leaseId = res.body.lease_id;
});
afterAll(async () => t?.close());

function introspect(body: string, headers: Record<string, string> = {}) {
  return t.request('POST', '/v1/introspect', { body, headers: { ...formHeaders, ...headers } });
}

function expectInvalidClient(res: { status: number; headers: Headers; body: unknown }) {
  expect(res.status).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
  // The same words whatever failed: a caller learns nothing about which ids exist.
  expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
}

async function assertion(claims: Record<string, unknown>, key: CryptoKey = rsKey, exp = '1m') {
  return new SignJWT({ jti: crypto.randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: 'rs-jwt-1' })
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(key);
}

const assertionBody = (jwt: string) =>
  `token=${encodeURIComponent(token)}&client_assertion_type=${encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')}&client_assertion=${jwt}`;

describe('a configured resource server, through openid-client', () => {
  test('HTTP Basic (client_secret_basic): active with the claims, for a token of its audience', async () => {
    const config = await discoverBroker(t, 'rs-reports', client.ClientSecretBasic(REPORTS_SECRET));
    expect(await client.tokenIntrospection(config, token)).toMatchObject({
      active: true,
      jti: leaseId,
      aud: 'https://reports.internal',
    });
  });

  test('client_secret_post works the same', async () => {
    const config = await discoverBroker(t, 'rs-reports', client.ClientSecretPost(REPORTS_SECRET));
    expect((await client.tokenIntrospection(config, token)).active).toBe(true);
  });

  test('private_key_jwt (RFC 7523 §2.2) with a key of its JWKS works', async () => {
    const config = await discoverBroker(t, 'rs-jwt', client.PrivateKeyJwt({ key: rsKey, kid: 'rs-jwt-1' }));
    expect(await client.tokenIntrospection(config, token)).toMatchObject({ active: true, jti: leaseId });
  });

  test('a resource server of another audience learns only {"active": false} about the token', async () => {
    const config = await discoverBroker(t, 'rs-orders', client.ClientSecretBasic(ORDERS_SECRET));
    const answer = await client.tokenIntrospection(config, token);
    expect({ ...answer }).toEqual({ active: false });
  });

  test('the `none` method is refused with invalid_client: every caller must authenticate', async () => {
    const config = await discoverBroker(t, 'rs-reports', client.None());
    const error = await client.tokenIntrospection(config, token).catch((e: unknown) => e);
    // openid-client reports the 401's Basic challenge (RFC 6749 §5.2), with the OAuth error body.
    expect(error).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const challenge = error as client.WWWAuthenticateChallengeError;
    expect(challenge.status).toBe(401);
    expect(challenge.cause[0]?.scheme).toBe('basic');
    expect(await challenge.response.json()).toMatchObject({ error: 'invalid_client' });
  });
});

describe('what an attacker tries', () => {
  const tokenParam = () => `token=${encodeURIComponent(token)}`;

  test('no credentials, a wrong secret, an unknown id, the other method of a client: the same invalid_client', async () => {
    expectInvalidClient(await introspect(tokenParam()));
    expectInvalidClient(await introspect(`${tokenParam()}&client_id=rs-reports`));
    expectInvalidClient(await introspect(tokenParam(), { authorization: basic('rs-reports', 'wrong') }));
    expectInvalidClient(
      await introspect(tokenParam(), { authorization: basic('rs-nobody', REPORTS_SECRET) }),
    );
    expectInvalidClient(
      await introspect(`${tokenParam()}&client_id=rs-reports&client_secret=${ORDERS_SECRET}`),
    );
    // rs-jwt has keys, not a secret; rs-reports a secret, not keys.
    expectInvalidClient(await introspect(tokenParam(), { authorization: basic('rs-jwt', 'anything') }));
    expectInvalidClient(
      await introspect(
        assertionBody(await assertion({ iss: 'rs-reports', sub: 'rs-reports', aud: ENDPOINT })),
      ),
    );
  });

  test('client assertions that are forged, expired, for another audience or another client are invalid_client', async () => {
    const good = { iss: 'rs-jwt', sub: 'rs-jwt', aud: ENDPOINT };
    expect((await introspect(assertionBody(await assertion(good)))).body.active).toBe(true);
    expect(
      (await introspect(assertionBody(await assertion({ ...good, aud: 'https://broker.test.local' })))).body
        .active,
    ).toBe(true);
    expectInvalidClient(await introspect(assertionBody(await assertion(good, otherKey))));
    expectInvalidClient(
      await introspect(assertionBody(await assertion({ ...good, aud: 'https://elsewhere.example' }))),
    );
    expectInvalidClient(await introspect(assertionBody(await assertion({ ...good, sub: 'rs-reports' }))));
    expectInvalidClient(await introspect(assertionBody(await assertion(good, rsKey, '-5m'))));
    expectInvalidClient(await introspect(assertionBody('not.a.jwt')));
    expectInvalidClient(await introspect(`${assertionBody(await assertion(good))}&client_id=rs-reports`));
  });

  test('two authentication methods at once, a malformed Basic header or a wrong assertion type are invalid_request', async () => {
    for (const res of [
      await introspect(`${tokenParam()}&client_id=rs-reports&client_secret=${REPORTS_SECRET}`, {
        authorization: basic('rs-reports', REPORTS_SECRET),
      }),
      await introspect(tokenParam(), { authorization: 'Basic !!!' }),
      await introspect(tokenParam(), {
        authorization: `Basic ${Buffer.from('no-colon').toString('base64')}`,
      }),
      await introspect(tokenParam(), { authorization: `Bearer ${token}` }),
      await introspect(`${tokenParam()}&client_assertion_type=password&client_assertion=x`),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
  });

  test('secrets and assertions never reach the log, and nothing was a 5xx', async () => {
    await introspect(tokenParam(), { authorization: basic('rs-reports', REPORTS_SECRET) });
    const logs = t.logs.join('\n');
    expect(logs).not.toContain(REPORTS_SECRET);
    expect(logs).not.toContain(ORDERS_SECRET);
    expect(logs.split('\n').filter((l) => l.includes('"level":50'))).toEqual([]);
  });
});
