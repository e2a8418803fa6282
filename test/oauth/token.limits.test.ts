// broker.yaml `limits:` on POST /v1/token: a token exchange mints a lease like POST /v1/credentials,
// so it counts against the same per-agent quota, and over it the answer is a 429 in OAuth's shape
// with Retry-After and the limit's name.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { exchange, oauthFailure, type ServedBroker, startServedBroker } from '../helpers/oauth.js';

let b: ServedBroker;
beforeAll(async () => {
  b = await startServedBroker({ limits: { live_leases_per_agent: 2 } });
});
afterAll(async () => {
  await b?.stop();
});

test('the third live lease of an agent is refused: 429, Retry-After, the limit named, no lease written', async () => {
  const token = await b.agentToken('quota-agent');
  await exchange(b, token);
  await exchange(b, token);
  const failure = await oauthFailure(exchange(b, token));
  expect(failure.status).toBe(429);
  expect(failure.body).toMatchObject({
    error: 'temporarily_unavailable',
    limit: 'live_leases_per_agent',
    limit_value: 2,
  });
  const [row] = await b.database.sql<{ n: number }[]>`
    select count(*)::int as n from leases where agent = 'quota-agent'`;
  expect(row?.n).toBe(2);

  const wire = await b.token({
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    resource: 'https://reports.internal',
    scope: 'reports:read',
  });
  expect(wire.status).toBe(429);
  expect(Number(wire.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(wire.headers.get('content-type')).toMatch(/^application\/json/);
});
