// What an attacker tries at the token endpoint: oversized intent, one token playing both roles,
// an act claim smuggled into a workload token, forged or foreign broker tokens, a transaction
// token stretched into a wider one. All refused, none leaves a lease, none answers 5xx.
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  ACCESS_TOKEN_TYPE,
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

async function refusedWithoutLease(params: Record<string, string>) {
  const before = await leaseCount(b);
  const res = await b.token(params);
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(await leaseCount(b)).toBe(before);
  return res;
}

const delegation = (subject: string, actor: string, extra: Record<string, string> = {}) => ({
  grant_type: TOKEN_EXCHANGE,
  subject_token: subject,
  subject_token_type: ACCESS_TOKEN_TYPE,
  actor_token: actor,
  actor_token_type: JWT_TYPE,
  ...extra,
});

describe('hostile input', () => {
  test('huge authorization_details under the body limit is refused before it is parsed', async () => {
    const huge = taskIntent({ resources: Array.from({ length: 25 }, (_, i) => `r-${i}-${'x'.repeat(700)}`) });
    expect(huge.length).toBeGreaterThan(16_000);
    const res = await refusedWithoutLease({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken(),
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      authorization_details: huge,
    });
    expect(res.body.error).toBe('invalid_authorization_details');
  });

  test('actor_token identical to subject_token is refused', async () => {
    const root = await exchange(b, await b.agentToken());
    const res = await refusedWithoutLease(delegation(root.access_token, root.access_token));
    expect(res.body.error).toBe('invalid_request');
  });

  test('an act claim smuggled inside a workload token is refused in every role', async () => {
    const smuggled = await b.agentToken('agent-reports', { act: { sub: 'agent-admin' } });
    const asSubject = await refusedWithoutLease({
      grant_type: TOKEN_EXCHANGE,
      subject_token: smuggled,
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(asSubject.body.error).toBe('invalid_request');
    const asAssertion = await refusedWithoutLease({
      grant_type: JWT_BEARER,
      assertion: smuggled,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(asAssertion.body.error).toBe('invalid_grant');
    const root = await exchange(b, await b.agentToken());
    const asActor = await refusedWithoutLease(delegation(root.access_token, smuggled));
    expect(asActor.body.error).toBe('invalid_request');
  });

  test('a broker-looking token signed with another key is no parent', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const root = await exchange(b, await b.agentToken());
    const forged = await new SignJWT({ scope: 'reports:read reports:export', task_id: root.task_id })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: 'forged' })
      .setIssuer(b.url)
      .setSubject('agent-reports')
      .setAudience(REPORTS)
      .setJti(root.lease_id as string)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const res = await refusedWithoutLease(delegation(forged, await b.agentToken('sub-b')));
    expect(res.body.error).toBe('invalid_request');
  });

  test('a broker token presented as a workload identity token is refused', async () => {
    const root = await exchange(b, await b.agentToken());
    const res = await refusedWithoutLease({
      grant_type: TOKEN_EXCHANGE,
      subject_token: root.access_token,
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(res.body.error).toBe('invalid_request');
  });

  test('a transaction token is never exchanged for a wider token', async () => {
    const txn = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken(),
      subject_token_type: JWT_TYPE,
      requested_token_type: TXN_TOKEN_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(txn.status).toBe(200);
    const res = await refusedWithoutLease(
      delegation(txn.body.access_token, await b.agentToken('sub-b'), { scope: 'reports:read' }),
    );
    expect(res.body.error).toBe('invalid_request');
  });

  test('a delegated exchange swapping the audience is refused', async () => {
    const root = await exchange(b, await b.agentToken());
    const res = await refusedWithoutLease(
      delegation(root.access_token, await b.agentToken('sub-b'), { audience: 'https://payments.internal' }),
    );
    expect(res.body.error).toBe('invalid_target');
  });

  test('an expired parent cannot be exchanged even while its JWT still verifies somewhere else', async () => {
    const root = await exchange(b, await b.agentToken());
    const sub = await b.agentToken('sub-b');
    b.clock.advance(301);
    const res = await refusedWithoutLease(delegation(root.access_token, sub));
    expect(res.body.error).toBe('invalid_request');
  });

  test('error descriptions never echo a token', async () => {
    const token = await b.agentToken('agent-reports', { act: { sub: 'x' } });
    const res = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: token,
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
    });
    expect(JSON.stringify(res.body)).not.toContain(token.split('.')[1]!);
    expect(b.logs.join('\n')).not.toContain(token.split('.')[2]!);
  });
});
