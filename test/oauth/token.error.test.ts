// What POST /v1/token refuses, and with which OAuth error (RFC 6749 §5.2 and the codes RFC 8693,
// RFC 8707 and RFC 9396 add): always OAuth JSON with Cache-Control: no-store, never problem+json,
// never a 5xx, never a lease.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  JWT_BEARER,
  JWT_TYPE,
  leaseCount,
  REPORTS,
  type ServedBroker,
  startServedBroker,
  TOKEN_EXCHANGE,
  TXN_TOKEN_TYPE,
  taskIntent,
  type WireResponse,
} from '../helpers/oauth.js';

let b: ServedBroker;
let agent: string;

beforeAll(async () => {
  b = await startServedBroker();
  agent = await b.agentToken();
});
afterAll(async () => {
  await b?.stop();
});

function expectOAuthError(res: WireResponse, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toMatchObject({ error, error_description: expect.any(String) });
}

/** Runs the request and checks it wrote no lease. */
async function refused(
  params: Record<string, string>,
  headers?: Record<string, string>,
): Promise<WireResponse> {
  const before = await leaseCount(b);
  const res = await b.token(params, headers);
  expect(await leaseCount(b)).toBe(before);
  return res;
}

const exchangeParams = (extra: Record<string, string> = {}) => ({
  grant_type: TOKEN_EXCHANGE,
  subject_token: agent,
  subject_token_type: JWT_TYPE,
  resource: REPORTS,
  scope: 'reports:read',
  ...extra,
});

describe('malformed requests: invalid_request', () => {
  test('a JSON body', async () => {
    const res = await fetch(`${b.url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(exchangeParams()),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).not.toMatch(/problem/);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  test('a body with no grant_type, or a grant without its parameters', async () => {
    expectOAuthError(await refused({ scope: 'reports:read' }), 400, 'invalid_request');
    expectOAuthError(
      await refused({ grant_type: TOKEN_EXCHANGE, subject_token_type: JWT_TYPE }),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await refused({ grant_type: TOKEN_EXCHANGE, subject_token: agent }),
      400,
      'invalid_request',
    );
    expectOAuthError(await refused({ grant_type: JWT_BEARER }), 400, 'invalid_request');
  });

  test('a parameter sent twice', async () => {
    const res = await fetch(`${b.url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams(exchangeParams())}&scope=reports:export`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'invalid_request',
      error_description: 'parameter scope is included more than once',
    });
  });

  test('a body over 64 KiB gets 413 in OAuth shape', async () => {
    const res = await refused(exchangeParams({ purpose: 'x'.repeat(70 * 1024) }));
    expectOAuthError(res, 413, 'invalid_request');
  });

  test('a subject_token_type that is not a workload identity token', async () => {
    expectOAuthError(
      await refused(exchangeParams({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' })),
      400,
      'invalid_request',
    );
  });

  test('a requested_token_type the broker does not issue, and txn tokens without a trust domain', async () => {
    expectOAuthError(
      await refused(
        exchangeParams({ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
      ),
      400,
      'invalid_request',
    );
    expectOAuthError(
      await refused(exchangeParams({ requested_token_type: TXN_TOKEN_TYPE })),
      400,
      'invalid_request',
    );
  });

  test('a malformed client_id or Idempotency-Key', async () => {
    expectOAuthError(await refused(exchangeParams({ client_id: 'bad\u0000id' })), 400, 'invalid_request');
    expectOAuthError(
      await refused(exchangeParams(), { 'idempotency-key': 'has spaces in it' }),
      400,
      'invalid_request',
    );
  });
});

describe('each remaining code', () => {
  test('unsupported_grant_type', async () => {
    expectOAuthError(await refused({ grant_type: 'client_credentials' }), 400, 'unsupported_grant_type');
    expectOAuthError(
      await refused({ grant_type: 'password', username: 'a', password: 'b' }),
      400,
      'unsupported_grant_type',
    );
  });

  test('invalid_request for a bad subject_token, invalid_grant for a bad assertion', async () => {
    const expired = await b.issuer.sign({
      sub: 'agent-reports',
      exp: Math.floor(b.clock.now().getTime() / 1000) - 3600,
    });
    expectOAuthError(await refused(exchangeParams({ subject_token: expired })), 400, 'invalid_request');
    expectOAuthError(await refused(exchangeParams({ subject_token: 'not.a.jwt' })), 400, 'invalid_request');
    expectOAuthError(
      await refused({ grant_type: JWT_BEARER, assertion: expired, resource: REPORTS, scope: 'reports:read' }),
      400,
      'invalid_grant',
    );
  });

  test('invalid_target: no resource, an unknown one, two at once', async () => {
    expectOAuthError(await refused(exchangeParams({ resource: '' })), 400, 'invalid_target');
    expectOAuthError(
      await refused(exchangeParams({ resource: 'https://unknown.internal' })),
      400,
      'invalid_target',
    );
    const res = await fetch(`${b.url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${new URLSearchParams(exchangeParams())}&resource=https://other.internal`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
  });

  test('invalid_scope: no scope at all, or a malformed one', async () => {
    expectOAuthError(await refused(exchangeParams({ scope: '' })), 400, 'invalid_scope');
    expectOAuthError(await refused(exchangeParams({ scope: 'reports:"read' })), 400, 'invalid_scope');
  });

  test('invalid_authorization_details: malformed, or over the template ceiling', async () => {
    expectOAuthError(
      await refused(exchangeParams({ scope: '', authorization_details: '{"type":"task_intent"}' })),
      400,
      'invalid_authorization_details',
    );
    const over = await refused(
      exchangeParams({
        scope: '',
        authorization_details: taskIntent({ template: 'reports-api', actions: ['reports:admin'] }),
      }),
    );
    expectOAuthError(over, 400, 'invalid_authorization_details');
    expect(over.body.error_description).toMatch(/not in the ceiling of template "reports-api"/);
  });

  test('access_denied (403) names the deciding policy', async () => {
    const res = await refused(exchangeParams({ scope: 'reports:export' }));
    expectOAuthError(res, 403, 'access_denied');
    expect(res.body.policies).toEqual(['forbid-unattended-export']);
  });

  test('GET is not the token endpoint', async () => {
    const res = await fetch(`${b.url}/v1/token`);
    expect(res.status).toBe(405);
  });
});
