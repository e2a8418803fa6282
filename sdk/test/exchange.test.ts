// exchange() speaks the token endpoint's contract (form-encoded RFC 8693 with the intent as RFC
// 9396 authorization_details; CIBA poll mode for a step-up; OAuth error JSON). A local endpoint
// records exactly what the SDK sends and answers as the contract says; the test against the real
// broker is in client.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  ApprovalRequiredError,
  GRANT_CIBA,
  GRANT_TOKEN_EXCHANGE,
  JitBroker,
  OAuthError,
  TOKEN_TYPE_JWT,
} from '../src/index.js';

const received: URLSearchParams[] = [];
let answers: { status: number; body: object }[] = [];
let server: Server;
let url: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/v1/token');
      expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
      received.push(new URLSearchParams(body));
      const answer = answers.shift() ?? { status: 500, body: { error: 'server_error' } };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const TOKEN = {
  access_token: 'at',
  issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
  token_type: 'Bearer',
  expires_in: 300,
  task_id: 't-1',
  lease_id: 'l-1',
};

test('a token exchange: the workload token as subject, the intent as authorization_details', async () => {
  received.length = 0;
  answers = [{ status: 200, body: TOKEN }];
  const broker = new JitBroker({ url, token: 'workload-jwt' });
  const token = await broker.exchange({
    resource: 'https://reports.internal',
    scope: ['reports:read'],
    intent: { taskId: 't-1', purpose: 'monthly report', actions: ['reports:read'] },
    clientId: 'reports-agent',
  });
  expect(token).toEqual(TOKEN);
  const form = received[0]!;
  expect(Object.fromEntries(form)).toEqual({
    grant_type: GRANT_TOKEN_EXCHANGE,
    subject_token: 'workload-jwt',
    subject_token_type: TOKEN_TYPE_JWT,
    resource: 'https://reports.internal',
    scope: 'reports:read',
    client_id: 'reports-agent',
    authorization_details: JSON.stringify([
      {
        type: 'task_intent',
        task_id: 't-1',
        purpose: 'monthly report',
        actions: ['reports:read'],
        resources: [],
      },
    ]),
  });
});

test('a policy denial is an OAuthError with the deciding policies', async () => {
  answers = [
    {
      status: 403,
      body: { error: 'access_denied', error_description: 'denied by policy', policies: ['p-1'] },
    },
  ];
  const error = await new JitBroker({ url, token: 'w' }).exchange({ resource: 'r' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(OAuthError);
  expect(error).toMatchObject({ status: 403, error: 'access_denied', policies: ['p-1'] });
});

test('a step-up: ApprovalRequiredError without wait; with wait, CIBA polls as the same workload until the token', async () => {
  const pending = { status: 400, body: { error: 'authorization_pending', auth_req_id: 'ar-1', interval: 1 } };
  answers = [pending];
  const broker = new JitBroker({ url, token: 'workload-jwt' });
  const first = await broker.exchange({ resource: 'r' }).catch((e: unknown) => e);
  expect(first).toBeInstanceOf(ApprovalRequiredError);
  expect((first as ApprovalRequiredError).approvalId).toBe('ar-1');

  received.length = 0;
  answers = [
    pending,
    { status: 400, body: { error: 'authorization_pending' } },
    { status: 200, body: TOKEN },
  ];
  const told: string[] = [];
  const token = await broker.exchange(
    { resource: 'r' },
    { wait: true, onPending: (p) => told.push(p.approval_id) },
  );
  expect(token).toEqual(TOKEN);
  expect(told[0]).toBe('ar-1');
  expect(received.slice(1).map((f) => Object.fromEntries(f))).toEqual([
    {
      grant_type: GRANT_CIBA,
      auth_req_id: 'ar-1',
      subject_token: 'workload-jwt',
      subject_token_type: TOKEN_TYPE_JWT,
    },
    {
      grant_type: GRANT_CIBA,
      auth_req_id: 'ar-1',
      subject_token: 'workload-jwt',
      subject_token_type: TOKEN_TYPE_JWT,
    },
  ]);
});
