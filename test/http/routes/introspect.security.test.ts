// POST /v1/introspect: a token the broker did not mint is inactive, however it is made.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

const form = (token: string) => ({
  body: `token=${encodeURIComponent(token)}`,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

describe('POST /v1/introspect', () => {
  test('a token the broker did not mint is inactive', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const foreign = await new SignJWT({ scope: 'reports:read', jti: '00000000-0000-4000-8000-000000000000' })
      .setProtectedHeader({ alg: 'EdDSA', kid: t.keyStore.currentKey().kid, typ: 'JWT' })
      .setIssuer('https://broker.test.local')
      .setExpirationTime('5m')
      .sign(privateKey);
    for (const token of [foreign, 'garbage', await t.agentToken()]) {
      const res = await t.request('POST', '/v1/introspect', form(token));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    }
  });
});
