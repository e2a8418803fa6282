// POST /v1/introspect: a request without a token is a 400 in OAuth's error shape (RFC 6749 §5.2).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => t?.close());

describe('POST /v1/introspect', () => {
  test('a missing token is a 400 invalid_request OAuth error', async () => {
    const res = await t.request('POST', '/v1/introspect', {
      body: 'nothing=here',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.error).toBe('invalid_request');
  });
});
