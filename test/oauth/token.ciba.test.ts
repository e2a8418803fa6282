// Step-up through the token endpoint in CIBA poll mode, on the same approvals staff decide in the
// API and console: pending, slow_down, the token exactly once, access_denied, expired_token.
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker } from '../helpers/broker.js';
import {
  CIBA,
  exchange,
  JWT_TYPE,
  oauthFailure,
  REPORTS,
  type ServedBroker,
  startServedBroker,
  TOKEN_EXCHANGE,
} from '../helpers/oauth.js';

let b: ServedBroker;

beforeAll(async () => {
  b = await startServedBroker();
});
afterAll(async () => {
  await b?.stop();
});

/** Asks for reports:admin, which a @step_up permit holds for security-oncall. */
async function askForAdmin(agentToken: string) {
  const failure = await oauthFailure(exchange(b, agentToken, { scope: 'reports:admin' }));
  expect(failure).toMatchObject({ status: 400, error: 'authorization_pending' });
  expect(failure.body).toMatchObject({ interval: 5, auth_req_id: expect.any(String) });
  return failure.body.auth_req_id as string;
}

function poll(authReqId: string, agentToken: string) {
  return client.genericGrantRequest(b.oauth, CIBA, {
    auth_req_id: authReqId,
    subject_token: agentToken,
    subject_token_type: JWT_TYPE,
  });
}

describe('CIBA poll mode', () => {
  test('pending, slow_down when polled too fast, then the token once the request is approved', async () => {
    const agentToken = await b.agentToken();
    const authReqId = await askForAdmin(agentToken);
    // The first request counted as a poll: asking again at once is too fast.
    expect(await oauthFailure(poll(authReqId, agentToken))).toMatchObject({ error: 'slow_down' });
    b.clock.advance(5);
    const pending = await oauthFailure(poll(authReqId, agentToken));
    expect(pending).toMatchObject({ error: 'authorization_pending' });
    expect(pending.body.expires_in).toBeGreaterThan(0);

    const approved = await b.request('POST', `/v1/approvals/${authReqId}/approve`, {
      token: await b.staffToken('alice'),
      body: { reason: 'on-call change' },
    });
    expect(approved.status).toBe(200);
    b.clock.advance(5);
    const response = await poll(authReqId, agentToken);
    expect(decodeJwt(response.access_token)).toMatchObject({
      scope: 'reports:admin',
      aud: REPORTS,
      sub: 'agent-reports',
    });
    expect(response.lease_id).toBe(approved.body.lease_id);

    // Exactly once: the next poll is refused.
    b.clock.advance(5);
    expect(await oauthFailure(poll(authReqId, agentToken))).toMatchObject({ error: 'invalid_grant' });
  });

  test('access_denied once a reviewer denies the request', async () => {
    const agentToken = await b.agentToken();
    const authReqId = await askForAdmin(agentToken);
    const denied = await b.request('POST', `/v1/approvals/${authReqId}/deny`, {
      token: await b.staffToken('alice'),
      body: { reason: 'not during the freeze' },
    });
    expect(denied.status).toBe(200);
    b.clock.advance(5);
    const failure = await oauthFailure(poll(authReqId, agentToken));
    expect(failure).toMatchObject({ status: 403, error: 'access_denied' });
  });

  test('expired_token once the approval window closed unanswered', async () => {
    const authReqId = await askForAdmin(await b.agentToken());
    b.clock.advance(24 * 3600);
    // The same workload, with an identity token of today: its first one has expired meanwhile.
    expect(await oauthFailure(poll(authReqId, await b.agentToken()))).toMatchObject({
      error: 'expired_token',
    });
  });

  test('another workload, or none, polling the auth_req_id gets invalid_grant', async () => {
    const authReqId = await askForAdmin(await b.agentToken());
    b.clock.advance(5);
    expect(await oauthFailure(poll(authReqId, await b.agentToken('agent-other')))).toMatchObject({
      error: 'invalid_grant',
    });
    const bare = await b.token({ grant_type: CIBA, auth_req_id: authReqId });
    expect(bare.status).toBe(400);
    expect(bare.body.error).toBe('invalid_grant');
    expect(
      (
        await b.token({
          grant_type: CIBA,
          auth_req_id: 'not-a-uuid',
          subject_token: await b.agentToken(),
          subject_token_type: JWT_TYPE,
        })
      ).body.error,
    ).toBe('invalid_grant');
  });

  test('the poll interval holds across two replicas sharing the database', async () => {
    const replica = await startTestBroker({
      database: b.database,
      issuers: { workload: b.issuer, staff: b.staffIssuer },
      clock: b.clock,
      schema: undefined,
    });
    try {
      const agentToken = await b.agentToken();
      const authReqId = await askForAdmin(agentToken);
      b.clock.advance(5);
      const body = new URLSearchParams({
        grant_type: CIBA,
        auth_req_id: authReqId,
        subject_token: agentToken,
        subject_token_type: JWT_TYPE,
      });
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      const read = async (res: Response | Promise<Response>) =>
        (await (await res).json()) as { error: string };
      const [onA, onB] = await Promise.all([
        read(fetch(`${b.url}/v1/token`, { method: 'POST', headers, body })),
        read(replica.broker.app.request('/v1/token', { method: 'POST', headers, body: body.toString() })),
      ]);
      expect([onA.error, onB.error].sort()).toEqual(['authorization_pending', 'slow_down']);
    } finally {
      await replica.close();
    }
  });

  test('a token request without step-up never answers authorization_pending', async () => {
    const res = await b.token({
      grant_type: TOKEN_EXCHANGE,
      subject_token: await b.agentToken(),
      subject_token_type: JWT_TYPE,
      resource: REPORTS,
      scope: 'reports:read',
    });
    expect(res.status).toBe(200);
  });
});
