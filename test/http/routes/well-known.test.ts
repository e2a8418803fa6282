// Discovery: /.well-known/oauth-authorization-server (RFC 8414) and /.well-known/openid-configuration
// serve one metadata document, valid for what the broker does: every required member present,
// nothing advertised that it does not do (no ID token, no authorization endpoint).
import { exportJWK, generateKeyPair } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { discoverBroker } from '../../helpers/openid-client.js';

const ISSUER = 'https://broker.test.local';
const PATHS = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

describe('discovery without resource servers', () => {
  let t: TestBroker;
  beforeAll(async () => {
    t = await startTestBroker();
  });
  afterAll(async () => t?.close());

  for (const path of PATHS) {
    test(`${path} lists every member RFC 8414 and OpenID Discovery require, with the values the broker serves`, async () => {
      const res = await t.request('GET', path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const m = res.body;
      // RFC 8414 §3.3 / OpenID Discovery §4.3: exactly the issuer the client asked about.
      expect(m.issuer).toBe(ISSUER);
      expect(m.jwks_uri).toBe(`${ISSUER}/.well-known/jwks.json`);
      // RFC 8414 §2: REQUIRED; empty, since there is no authorization endpoint.
      expect(m.response_types_supported).toEqual([]);
      expect(m.authorization_endpoint).toBeUndefined();
      // OpenID Discovery §3: REQUIRED. Minted tokens carry the agent's own subject.
      expect(m.subject_types_supported).toEqual(['public']);
      // The token endpoint's grants (RFC 8693, RFC 7523, CIBA poll); never the RFC 8414 default
      // ["authorization_code", "implicit"].
      expect(m.grant_types_supported).toEqual([
        'urn:ietf:params:oauth:grant-type:token-exchange',
        'urn:ietf:params:oauth:grant-type:jwt-bearer',
        'urn:openid:params:grant-type:ciba',
      ]);
      expect(m.token_endpoint).toBe(`${ISSUER}/v1/token`);
      expect(m.token_endpoint_auth_methods_supported).toEqual(['none']);
      expect(m.authorization_details_types_supported).toEqual(['task_intent']);
      expect(m.backchannel_token_delivery_modes_supported).toEqual(['poll']);
      expect(m.introspection_endpoint).toBe(`${ISSUER}/v1/introspect`);
      expect(m.introspection_endpoint_auth_methods_supported).toEqual(['none']);
      expect(m.introspection_endpoint_auth_signing_alg_values_supported).toBeUndefined();
      // No ID token is ever issued.
      expect(m.id_token_signing_alg_values_supported).toBeUndefined();
      expect(Object.keys(m).sort()).toEqual(
        [
          'authorization_details_types_supported',
          'backchannel_token_delivery_modes_supported',
          'grant_types_supported',
          'introspection_endpoint',
          'introspection_endpoint_auth_methods_supported',
          'issuer',
          'jwks_uri',
          'response_types_supported',
          'subject_types_supported',
          'token_endpoint',
          'token_endpoint_auth_methods_supported',
        ].sort(),
      );
    });
  }

  test('both locations serve the same document', async () => {
    const [a, b] = await Promise.all(PATHS.map((p) => t.request('GET', p)));
    expect(a?.body).toEqual(b?.body);
  });

  test('jwks_uri serves the keys that verify minted tokens', async () => {
    const jwks = await t.request('GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(t.keyStore.currentKey().kid);
  });

  test('openid-client discovers the broker at both locations and accepts its issuer', async () => {
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      const config = await discoverBroker(t, 'rs-reports', client.None(), algorithm);
      const metadata = config.serverMetadata();
      expect(metadata.issuer).toBe(ISSUER);
      expect(metadata.introspection_endpoint).toBe(`${ISSUER}/v1/introspect`);
    }
  });
});

describe('discovery with resource servers', () => {
  let t: TestBroker;
  beforeAll(async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const jwks = JSON.stringify({
      keys: [{ ...(await exportJWK(publicKey)), kid: 'rs-jwt-1', alg: 'ES256' }],
    });
    t = await startTestBroker({
      resourceServers: [
        { client_id: 'rs-basic', client_secret_sha256: '0'.repeat(64), audience: 'https://reports.internal' },
        { client_id: 'rs-jwt', jwks_file: './rs-jwks.json', audience: 'https://reports.internal' },
      ],
      files: { 'rs-jwks.json': jwks },
    });
  });
  afterAll(async () => t?.close());

  test('advertises the client authentication methods configured for introspection, and the assertion algorithms', async () => {
    const { body } = await t.request('GET', '/.well-known/oauth-authorization-server');
    expect(body.introspection_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ]);
    expect(body.introspection_endpoint_auth_signing_alg_values_supported).toEqual(
      expect.arrayContaining(['ES256', 'RS256', 'EdDSA']),
    );
    expect(body.introspection_endpoint_auth_signing_alg_values_supported).not.toContain('none');
    expect(
      body.introspection_endpoint_auth_signing_alg_values_supported.some((a: string) => a.startsWith('HS')),
    ).toBe(false);
  });
});
