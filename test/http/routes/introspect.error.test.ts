// POST /v1/introspect: a request without a token is a 400 problem.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

describe('POST /v1/introspect', () => {
  test('a missing token is a 400 problem', async () => {
    const res = await t.request('POST', '/v1/introspect', {
      body: 'nothing=here',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});
