// What the log says about requests that end badly but are no fault of the broker: a client that
// hangs up mid-request, a console that is not configured. Neither is an error-level line, and
// neither is blamed on the database.

import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
let server: ReturnType<typeof serve>;
let port: number;

beforeAll(async () => {
  t = await startTestBroker({ staff: { client_id: undefined } });
  server = serve({ fetch: t.broker.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await t?.close();
});

type LogLine = { level: number; msg: string; requestId?: string; status?: number };
const parsed = (): LogLine[] => t.logs.map((line) => JSON.parse(line) as LogLine);
const ERROR = 50;
const WARN = 40;

/** Sends headers and half a body, then hangs up. */
async function abortMidBody(requestId: string, path: string): Promise<void> {
  const token = await t.agentToken('agent-abort');
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Authorization: Bearer ${token}`,
    'Content-Type: application/json',
    'Content-Length: 4000',
    `X-Request-Id: ${requestId}`,
    '',
    '{"template":"reports-api","intent":',
  ].join('\r\n');
  // Hang up once the half request has left this process, as a client that is killed mid-upload.
  await new Promise<void>((resolve) => socket.write(head, () => resolve()));
  socket.destroy();
}

describe('a client that hangs up mid-request', () => {
  test.each(['/v1/webhooks/anomaly', '/v1/credentials', '/v1/introspect'])(
    'on %s is logged below error level and not as a database outage',
    async (path) => {
      const requestId = `abort-${Math.random().toString(36).slice(2)}`;
      await abortMidBody(requestId, path);
      // The access log line is the last one a request writes: once it is there, the request is over.
      await expect
        .poll(() => parsed().some((l) => l.requestId === requestId && l.msg === 'request'), {
          timeout: 10_000,
        })
        .toBe(true);
      const lines = parsed().filter((l) => l.requestId === requestId);
      expect(lines.filter((l) => l.level >= ERROR)).toEqual([]);
      expect(lines.map((l) => l.msg).join('\n')).not.toMatch(/database/);
    },
  );
});

describe('the console without staff.client_id', () => {
  test('answers 503 naming the missing option, logged as a warning, not an error', async () => {
    const res = await t.request('GET', '/console/login', { headers: { 'x-request-id': 'console-503' } });
    expect(res.status).toBe(503);
    expect(res.text).toContain('staff.client_id');
    const lines = parsed().filter((l) => l.requestId === 'console-503');
    expect(lines.filter((l) => l.level >= ERROR)).toEqual([]);
    expect(lines.some((l) => l.level === WARN && l.status === 503)).toBe(true);
  });
});
