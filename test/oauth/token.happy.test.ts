// POST /v1/token with a standard OAuth client (openid-client) against a real broker: discovery,
// token exchange, jwt-bearer, authorization_details, idempotency, transaction tokens.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  exchange,
  JWT_BEARER,
  JWT_TYPE,
  leaseCount,
  REPORTS,
  type ServedBroker,
  startServedBroker,
  TOKEN_EXCHANGE,
  TXN_TOKEN_TYPE,
  taskIntent,
} from '../helpers/oauth.js';

let b: ServedBroker;

beforeAll(async () => {
  b = await startServedBroker({ env: { TXN_TOKEN_AUDIENCE: 'https://trust-domain.test' } });
});
afterAll(async () => {
  await b?.stop();
});

async function introspect(token: string) {
  const res = await fetch(`${b.url}/v1/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return res.json();
}

describe('discovery', () => {
  test('openid-configuration advertises the token endpoint, its grants and task_intent', () => {
    const metadata = b.oauth.serverMetadata();
    expect(metadata.issuer).toBe(b.url);
    expect(metadata.token_endpoint).toBe(`${b.url}/v1/token`);
    expect(metadata.grant_types_supported).toEqual(
      expect.arrayContaining([TOKEN_EXCHANGE, JWT_BEARER, 'urn:openid:params:grant-type:ciba']),
    );
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(['none']);
    expect(metadata.authorization_details_types_supported).toEqual(['task_intent']);
  });
});

describe('RFC 8414 discovery', () => {
  test('oauth-authorization-server advertises the same token endpoint to an OAuth 2.0 client', async () => {
    const oauth2 = await client.discovery(new URL(b.url), 'jit-broker-tests', undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    const metadata = oauth2.serverMetadata();
    expect(metadata.token_endpoint).toBe(`${b.url}/v1/token`);
    expect(metadata.authorization_details_types_supported).toEqual(['task_intent']);
    const response = await client.genericGrantRequest(oauth2, JWT_BEARER, {
      assertion: await b.agentToken(),
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(decodeJwt(response.access_token).aud).toBe(REPORTS);
  });
});

describe('token exchange', () => {
  test("exchanges a workload's identity token for a token bound to the one resource", async () => {
    // openid-client sends its client_id (auth method none): the broker audits it.
    const response = await exchange(b, await b.agentToken());
    expect(response.token_type).toBe('bearer');
    expect(response.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
    expect(response.scope).toBe('reports:read');
    // The template's default TTL, counted down from the whole second the lease was issued in.
    expect(response.expires_in).toBeGreaterThanOrEqual(299);
    expect(response.expires_in).toBeLessThanOrEqual(300);
    const claims = decodeJwt(response.access_token);
    expect(claims).toMatchObject({ iss: b.url, sub: 'agent-reports', aud: REPORTS, scope: 'reports:read' });
    expect(claims.act).toBeUndefined();
    // A request without authorization_details is a task of its own, named in the token.
    expect(claims.task_id).toBe(response.task_id);
    expect(response.task_id).toMatch(/^task-/);
    expect(claims.jti).toBe(response.lease_id);
    expect(response.authorization_details).toEqual([
      {
        type: 'task_intent',
        task_id: response.task_id,
        purpose: 'OAuth token exchange',
        actions: ['reports:read'],
        resources: [],
        template: 'reports-api',
      },
    ]);
    expect(await introspect(response.access_token)).toMatchObject({
      active: true,
      task_id: response.task_id,
    });
    const [lease] = await b.database
      .sql`select state, client_id, template from leases where id = ${response.lease_id as string}`;
    expect(lease).toEqual({ state: 'active', client_id: 'jit-broker-tests', template: 'reports-api' });
    const [decision] = await b.database.sql`
      select decision, detail from audit_events where lease_id = ${response.lease_id as string} and event = 'decision'`;
    expect(decision).toMatchObject({ decision: 'allow', detail: { client_id: 'jit-broker-tests' } });
  });

  test('takes the intent from authorization_details and echoes what was granted', async () => {
    const response = await exchange(b, await b.agentToken(), {
      scope: '',
      authorization_details: taskIntent({ task_id: 't-77', purpose: 'quarterly numbers' }),
    });
    expect(response.task_id).toBe('t-77');
    expect(decodeJwt(response.access_token).task_id).toBe('t-77');
    expect(response.authorization_details).toEqual([
      {
        type: 'task_intent',
        task_id: 't-77',
        purpose: 'quarterly numbers',
        actions: ['reports:read'],
        resources: [],
        template: 'reports-api',
      },
    ]);
  });

  test('accepts the audience parameter in place of resource, and an OIDC id_token type', async () => {
    const response = await client.genericGrantRequest(b.oauth, TOKEN_EXCHANGE, {
      subject_token: await b.agentToken(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      audience: REPORTS,
      scope: 'reports:read',
    });
    expect(decodeJwt(response.access_token).aud).toBe(REPORTS);
  });

  test('the same Idempotency-Key and request give the same lease, not a second one', async () => {
    const params = {
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken('agent-idem'),
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    };
    const first = await b.token(params, { 'idempotency-key': 'k-oauth-1' });
    const before = await leaseCount(b);
    const again = await b.token(params, { 'idempotency-key': 'k-oauth-1' });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.lease_id).toBe(first.body.lease_id);
    expect(again.body.task_id).toBe(first.body.task_id);
    expect(decodeJwt(again.body.access_token)).toEqual(decodeJwt(first.body.access_token));
    expect(await leaseCount(b)).toBe(before);
  });

  test('answers with Cache-Control: no-store', async () => {
    const res = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken(),
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('jwt-bearer', () => {
  test('exchanges the workload token sent as assertion (RFC 7523)', async () => {
    const response = await client.genericGrantRequest(b.oauth, JWT_BEARER, {
      assertion: await b.agentToken(),
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(decodeJwt(response.access_token)).toMatchObject({
      sub: 'agent-reports',
      aud: REPORTS,
      scope: 'reports:read',
    });
  });
});

describe('transaction tokens', () => {
  test('mints a txntoken+jwt for the trust domain carrying the granted intent', async () => {
    const res = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken(),
      subject_token_type: JWT_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      resource: REPORTS,
      authorization_details: taskIntent({ task_id: 't-txn' }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issued_token_type: TXN_TOKEN_TYPE,
      token_type: 'N_A',
      task_id: 't-txn',
    });
    expect(decodeProtectedHeader(res.body.access_token).typ).toBe('txntoken+jwt');
    const claims = decodeJwt(res.body.access_token);
    expect(claims).toMatchObject({
      aud: 'https://trust-domain.test',
      sub: 'agent-reports',
      txn: res.body.lease_id,
      req_wl: 'agent-reports',
      scope: 'reports:read',
      tctx: { task_id: 't-txn', actions: ['reports:read'], template: 'reports-api' },
    });
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(600);
    const [lease] = await b.database
      .sql`select token_type, state from leases where id = ${res.body.lease_id as string}`;
    expect(lease).toEqual({ token_type: 'txn_token', state: 'active' });
    // Revocable like every lease: introspection says so the moment it is revoked.
    expect(await introspect(res.body.access_token)).toMatchObject({
      active: true,
      token_type: 'N_A',
      task_id: 't-txn',
    });
    const revoked = await b.request('POST', `/v1/leases/${res.body.lease_id}/revoke`, {
      token: await b.agentToken(),
    });
    expect(revoked.status).toBe(200);
    expect(await introspect(res.body.access_token)).toEqual({ active: false });
  });
});
