// HTTP hygiene over the wire: every refusal is RFC 9457 problem+json, bodies are capped at 64 KiB
// (declared or chunked), every response carries a request id, health, readiness, metrics and the
// OpenAPI document are served, and none of it ever answers 500.
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { credentialRequest, startTestBroker, type TestBroker, type TestResponse } from '../helpers/broker.js';
import { expectProblem } from '../helpers/problems.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LIMIT = 64 * 1024;

let t: TestBroker;
let server: ReturnType<typeof serve>;
let port: number;
/** Every status this file has seen: none may be a 500. */
const statuses: { what: string; status: number }[] = [];

beforeAll(async () => {
  t = await startTestBroker();
  server = serve({ fetch: t.broker.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await t?.close();
});

async function call(
  method: string,
  path: string,
  init?: Parameters<TestBroker['request']>[2],
): Promise<TestResponse> {
  const res = await t.request(method, path, init);
  statuses.push({ what: `${method} ${path}`, status: res.status });
  return res;
}

/** /v1/introspect answers in OAuth's JSON error shape (RFC 6749 §5.2), never problem+json. */
function expectOAuthError(
  res: { status: number; headers: Headers | Record<string, unknown>; body: unknown },
  status: number,
  error: string,
) {
  expect(res.status).toBe(status);
  const contentType =
    res.headers instanceof Headers ? res.headers.get('content-type') : res.headers['content-type'];
  expect(contentType).toMatch(/^application\/json/);
  const body = typeof res.body === 'string' ? JSON.parse(res.body) : res.body;
  expect(body).toEqual({ error, error_description: expect.any(String) });
}

interface WireResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A real HTTP/1.1 request on a fresh connection; with no content-length the body goes chunked. */
function sendOverTcp(path: string, chunks: Buffer[], headers: Record<string, string>): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: 'POST', headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

/** Parses Prometheus text into samples: `name{a="b"} 1` → { name, labels: { a: 'b' }, value: 1 }. */
function samples(text: string) {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`unparseable metrics line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
      );
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await call('GET', '/metrics');
  expect(res.status).toBe(200);
  const found = samples(res.text).filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(found.length).toBeLessThanOrEqual(1);
  return found[0]?.value ?? 0;
}

describe('requests that match no route', () => {
  test('an unknown path is a 404 problem naming the method and path', async () => {
    const res = await call('GET', '/v1/no-such-thing');
    expectProblem(res, 404, 'not-found', { requestId: true });
    expect(res.body.detail).toContain('GET /v1/no-such-thing');
  });

  test('an unknown path with a body is still a 404, not a parse error', async () => {
    expectProblem(await call('POST', '/v2/credentials', { body: '{not json' }), 404, 'not-found', {
      requestId: true,
    });
  });

  test('a known path with the wrong method is a 405 problem with an Allow header', async () => {
    for (const [method, path, allow] of [
      ['PUT', '/healthz', 'GET'],
      ['DELETE', '/metrics', 'GET'],
      ['GET', '/v1/webhooks/anomaly', 'POST'],
      ['PATCH', '/v1/introspect', 'POST'],
      ['POST', '/openapi.json', 'GET'],
    ] as const) {
      const res = await call(method, path);
      expectProblem(res, 405, 'method-not-allowed', { requestId: true });
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
    }
  });

  test('an authenticated agent using the wrong method on its own route gets 405, not 404', async () => {
    const res = await call('DELETE', '/v1/credentials', { token: await t.agentToken() });
    expectProblem(res, 405, 'method-not-allowed', { requestId: true });
    expect(res.headers.get('allow')).toBe('POST');
  });

  test('hostile and malformed paths are 404 problems, never a 500', async () => {
    for (const path of [
      '/%2e%2e/%2e%2e/etc/passwd',
      '/..%2f..%2fetc',
      '/%ZZ',
      '/v1/%00',
      `/${'a'.repeat(8000)}`,
      '/healthz/../../x',
      '/metrics%0d%0aX-Injected:%201',
    ]) {
      const res = await call('GET', path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toBe('application/problem+json');
      expect(res.headers.get('x-injected'), path).toBeNull();
    }
  });
});

describe('request bodies', () => {
  test('malformed JSON is a 400 problem on every JSON route', async () => {
    const agent = await t.agentToken('hygiene-json');
    const staff = await t.staffToken('alice@example.com');
    const lease = await call('POST', '/v1/credentials', { token: agent, body: credentialRequest() });
    expect(lease.status).toBe(201);
    for (const [path, token] of [
      ['/v1/credentials', agent],
      [`/v1/leases/${lease.body.lease_id}/renew`, agent],
      ['/v1/leases/revoke', staff],
      ['/v1/introspect', undefined],
    ] as const) {
      for (const body of ['{"template":', '{"a":1}}', "{'single':'quotes'}", '\u0000']) {
        const res = await call('POST', path, {
          token,
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(res.status, `${path} ${JSON.stringify(body)}: ${res.text}`).toBe(400);
        if (path === '/v1/introspect') expectOAuthError(res, 400, 'invalid_request');
        else expectProblem(res, 400, 'bad-request', { requestId: true });
      }
    }
  });

  test('the staff bulk revoke beside the agent lease routes authenticates staff, and only staff', async () => {
    const body = { agent: 'nobody-in-particular', reason: 'hygiene' };
    const staff = await call('POST', '/v1/leases/revoke', {
      token: await t.staffToken('alice@example.com'),
      body,
    });
    expect(staff.status).toBe(200);
    expect(staff.body.revoked).toEqual([]);
    const agent = await call('POST', '/v1/leases/revoke', { token: await t.agentToken(), body });
    expectProblem(agent, 403, 'forbidden', { requestId: true });
  });

  test('a body that is not JSON at all, sent as JSON, is a 400 and mints nothing', async () => {
    const token = await t.agentToken('hygiene-garbage');
    const res = await call('POST', '/v1/credentials', {
      token,
      body: 'template=reports-api',
      headers: { 'content-type': 'application/json' },
    });
    expectProblem(res, 400, 'bad-request', { requestId: true });
    expect(res.body.detail).toBe('the request body is not valid JSON');
    const [row] = await t.database.sql`select count(*)::int as n from leases where agent = 'hygiene-garbage'`;
    expect(row!.n).toBe(0);
  });

  test('a JSON route refuses another content type with a 415 problem saying what to send', async () => {
    const token = await t.agentToken('hygiene-ct');
    const body = JSON.stringify(credentialRequest());
    for (const contentType of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
    ]) {
      const res = await call('POST', '/v1/credentials', {
        token,
        body,
        headers: { 'content-type': contentType },
      });
      expectProblem(res, 415, 'unsupported-media-type', { requestId: true });
      expect(res.body.detail, contentType).toContain('application/json');
    }
    const [row] = await t.database.sql`select count(*)::int as n from leases where agent = 'hygiene-ct'`;
    expect(row!.n).toBe(0);
  });

  test('a JSON body with no Content-Type at all is a 415 too', async () => {
    const token = await t.agentToken('hygiene-no-ct');
    const res = await t.broker.app.request('/v1/credentials', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: new TextEncoder().encode(JSON.stringify(credentialRequest())),
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });

  test('JSON with a charset parameter or a +json suffix is accepted', async () => {
    const token = await t.agentToken('hygiene-charset');
    const res = await call('POST', '/v1/credentials', {
      token,
      body: credentialRequest(),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status).toBe(201);
  });

  test('introspection refuses a content type it does not read with a 415 OAuth error', async () => {
    const res = await call('POST', '/v1/introspect', {
      body: 'token=abc',
      headers: { 'content-type': 'text/plain' },
    });
    expectOAuthError(res, 415, 'invalid_request');
    expect(res.body.error_description).toContain('application/x-www-form-urlencoded');
  });

  test('exactly 64 KiB is read; one byte more is a 413 problem (Content-Length declared)', async () => {
    const atLimit = `{"token":"${'a'.repeat(LIMIT - 12)}"}`;
    expect(Buffer.byteLength(atLimit)).toBe(LIMIT);
    const ok = await call('POST', '/v1/introspect', { body: atLimit });
    // Read and refused for what it says (the token is over its own 16 KiB bound), not for its size.
    expectOAuthError(ok, 400, 'invalid_request');
    const over = await call('POST', '/v1/introspect', { body: `${atLimit} ` });
    expectOAuthError(over, 413, 'invalid_request');
    expect(over.body.error_description).toBe('request bodies are limited to 64 KiB');
  });

  test('over a real socket: a declared Content-Length over 64 KiB is a 413 problem', async () => {
    const body = Buffer.alloc(LIMIT + 1, 'a');
    const res = await sendOverTcp('/v1/credentials', [body], {
      'content-type': 'application/json',
      'content-length': String(body.length),
    });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'urn:jit-broker:problem:payload-too-large',
      status: 413,
    });
  });

  test('over a real socket: a chunked body with no Content-Length is cut off at 64 KiB with a 413 problem', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(4096, 'a'));
    for (const path of ['/v1/introspect', '/v1/webhooks/anomaly', '/v1/credentials']) {
      const res = await sendOverTcp(path, chunks, {
        'content-type': 'application/json',
        'transfer-encoding': 'chunked',
      });
      expect(res.status, path).toBe(413);
      expect(res.headers['x-request-id'], path).toMatch(UUID);
      if (path === '/v1/introspect') {
        expectOAuthError(res, 413, 'invalid_request');
        continue;
      }
      expect(res.headers['content-type'], path).toBe('application/problem+json');
      expect(JSON.parse(res.body)).toMatchObject({
        type: 'urn:jit-broker:problem:payload-too-large',
        status: 413,
      });
    }
  });

  test('over a real socket: a chunked body under 64 KiB is read normally', async () => {
    const json = Buffer.from(JSON.stringify({ token: 'not-a-jwt' }));
    const res = await sendOverTcp('/v1/introspect', [json.subarray(0, 5), json.subarray(5)], {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ active: false });
  });

  test('a 413 tells the client to close the connection, whose unread body the server will not drain', async () => {
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(4096, 'a'));
    const res = await sendOverTcp('/v1/introspect', chunks, {
      'content-type': 'application/json',
      'transfer-encoding': 'chunked',
    });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
  });
});

describe('request ids', () => {
  test('a request without one gets a fresh uuid, in the header and in the problem body', async () => {
    const a = await call('GET', '/v1/nothing-here');
    const b = await call('GET', '/v1/nothing-here');
    expect(a.headers.get('x-request-id')).toMatch(UUID);
    expect(a.body.request_id).toBe(a.headers.get('x-request-id'));
    expect(b.headers.get('x-request-id')).not.toBe(a.headers.get('x-request-id'));
  });

  test('a sane caller id is echoed, logged, and recorded in the audit trail of what it did', async () => {
    const requestId = 'trace-7f3a.b9:01_hygiene';
    const token = await t.agentToken('hygiene-trace');
    const res = await call('POST', '/v1/credentials', {
      token,
      body: credentialRequest(),
      headers: { 'x-request-id': requestId },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const rows = await t.database
      .sql`select event, request_id from audit_events where lease_id = ${res.body.lease_id} order by id`;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(row.request_id, row.event as string).toBe(requestId);
    expect(t.logs.some((line) => JSON.parse(line).requestId === requestId)).toBe(true);
  });

  test('the caller id is echoed on problems too', async () => {
    const res = await call('GET', '/v1/leases/whatever', { headers: { 'x-request-id': 'abc-123' } });
    expectProblem(res, 401, 'missing-token', { requestId: true });
    expect(res.body.request_id).toBe('abc-123');
  });

  test('a hostile or oversized caller id is replaced by a fresh one and never logged', async () => {
    const hostile = [
      'x'.repeat(129),
      'id with spaces',
      '"},"level":60,"msg":"forged',
      '<script>alert(1)</script>',
      'ünïcödé',
      'tab\there',
      'bell\u0007',
      '../../etc/passwd',
    ];
    for (const value of hostile) {
      const res = await t.broker.app.request('/healthz', { headers: { 'x-request-id': value } });
      expect(res.status).toBe(200);
      const given = res.headers.get('x-request-id');
      expect(given, JSON.stringify(value)).toMatch(UUID);
      expect(
        t.logs.some((line) => line.includes(value)),
        JSON.stringify(value),
      ).toBe(false);
    }
  });
});

describe('health, readiness, metrics, the OpenAPI document', () => {
  test('/healthz says the process is up', async () => {
    const res = await call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  test('/readyz names the policy version and the migrations applied', async () => {
    const res = await call('GET', '/readyz');
    expect(res.status).toBe(200);
    const [{ n }] = (await t.database.sql`select count(*)::int as n from broker_migrations`) as unknown as [
      { n: number },
    ];
    expect(res.body).toEqual({
      status: 'ready',
      policy_version: t.policies.current().version,
      migrations: n,
    });
    expect(res.body.policy_version).toMatch(/^[0-9a-f]{64}$/);
  });

  test('/readyz is a 503 problem while a migration this code needs is not applied', async () => {
    const applied = await t.database.sql`select * from broker_migrations`;
    await t.database.sql`delete from broker_migrations`;
    try {
      const res = await call('GET', '/readyz');
      expectProblem(res, 503, 'unavailable', { requestId: true });
      expect(res.body.detail).toContain('migrations');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      // Liveness is not readiness: the process is still up.
      expect((await call('GET', '/healthz')).status).toBe(200);
    } finally {
      await t.database.sql`insert into broker_migrations ${t.database.sql(applied)}`;
    }
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  test('/metrics counts decisions by template and outcome after a mint and a deny', async () => {
    const allowBefore = await metric('jit_broker_decisions_total', {
      template: 'reports-api',
      outcome: 'allow',
    });
    const denyBefore = await metric('jit_broker_decisions_total', {
      template: 'reports-api',
      outcome: 'deny',
    });
    const token = await t.agentToken('hygiene-metrics');
    expect((await call('POST', '/v1/credentials', { token, body: credentialRequest() })).status).toBe(201);
    const denied = await call('POST', '/v1/credentials', {
      token,
      body: credentialRequest({}, { actions: ['reports:export'] }),
    });
    expect(denied.status).toBe(403);
    expect(await metric('jit_broker_decisions_total', { template: 'reports-api', outcome: 'allow' })).toBe(
      allowBefore + 1,
    );
    expect(await metric('jit_broker_decisions_total', { template: 'reports-api', outcome: 'deny' })).toBe(
      denyBefore + 1,
    );
  });

  test('/metrics counts decision cache lookups: a new task of the same agent is a hit', async () => {
    const hitsBefore = await metric('jit_broker_decision_cache_lookups_total', { result: 'hit' });
    const missesBefore = await metric('jit_broker_decision_cache_lookups_total', { result: 'miss' });
    const token = await t.agentToken('hygiene-cache');
    for (const task_id of ['cache-1', 'cache-2']) {
      const body = credentialRequest({}, { task_id });
      expect((await call('POST', '/v1/credentials', { token, body })).status).toBe(201);
    }
    // The test policies read neither the task id nor the purpose.
    expect(await metric('jit_broker_decision_cache_lookups_total', { result: 'miss' })).toBe(
      missesBefore + 1,
    );
    expect(await metric('jit_broker_decision_cache_lookups_total', { result: 'hit' })).toBe(hitsBefore + 1);
  });

  test('/metrics has an issuance latency histogram observed once per minted credential, not per deny', async () => {
    const labels = { template: 'reports-api', provider: 'jwt' };
    const before = await metric('jit_broker_issuance_duration_seconds_count', labels);
    const token = await t.agentToken('hygiene-latency');
    expect((await call('POST', '/v1/credentials', { token, body: credentialRequest() })).status).toBe(201);
    expect(
      (
        await call('POST', '/v1/credentials', {
          token,
          body: credentialRequest({}, { actions: ['reports:export'] }),
        })
      ).status,
    ).toBe(403);
    expect(await metric('jit_broker_issuance_duration_seconds_count', labels)).toBe(before + 1);
    expect(await metric('jit_broker_issuance_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(
      before + 1,
    );
    expect(await metric('jit_broker_issuance_duration_seconds_sum', labels)).toBeGreaterThan(0);
  });

  test('/metrics reports the active leases as they are issued and revoked', async () => {
    const before = await metric('jit_broker_active_leases');
    const token = await t.agentToken('hygiene-gauge');
    const minted = await call('POST', '/v1/credentials', { token, body: credentialRequest() });
    expect(minted.status).toBe(201);
    expect(await metric('jit_broker_active_leases')).toBe(before + 1);
    expect((await call('POST', `/v1/leases/${minted.body.lease_id}/revoke`, { token })).status).toBe(200);
    expect(await metric('jit_broker_active_leases')).toBe(before);
  });

  test('/metrics reports how far behind the sweeper was, and zero once it has caught up', async () => {
    // Everything earlier in this file is either revoked or far from expiry; clear any lag first.
    await t.broker.sweeper.sweep();
    expect(await metric('jit_broker_sweeper_lag_seconds')).toBe(0);
    const token = await t.agentToken('hygiene-lag');
    const minted = await call('POST', '/v1/credentials', {
      token,
      body: credentialRequest({ ttl_seconds: 60 }),
    });
    expect(minted.status).toBe(201);
    t.clock.set(new Date(Date.parse(minted.body.expires_at) + 45_000));
    await t.broker.sweeper.sweep();
    expect(await metric('jit_broker_sweeper_lag_seconds')).toBe(45);
    const lease = await call('GET', `/v1/leases/${minted.body.lease_id}`, {
      token: await t.agentToken('hygiene-lag'),
    });
    expect(lease.body.state).toBe('expired');
    await t.broker.sweeper.sweep();
    expect(await metric('jit_broker_sweeper_lag_seconds')).toBe(0);
  });

  test('/metrics is Prometheus text, and no credential ever appears in it', async () => {
    const token = await t.agentToken('hygiene-scrape');
    const minted = await call('POST', '/v1/credentials', { token, body: credentialRequest() });
    const res = await call('GET', '/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(() => samples(res.text)).not.toThrow();
    expect(res.text).not.toContain(minted.body.credential.token);
    expect(res.text).not.toContain(token);
  });

  test('/openapi.json is an OpenAPI 3.1 document covering every /v1 route the app serves', async () => {
    const res = await call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const served = t.broker.app.routes
      .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/') && !r.path.includes('*'))
      .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:([^/]+)/g, '{$1}')}`);
    const documented = Object.entries(res.body.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`),
    );
    expect(served.length).toBeGreaterThan(10);
    expect(documented).toEqual(expect.arrayContaining([...new Set(served)]));
  });

  test('openapi.yaml at the repository root is exactly what the server serves at /openapi.json', async () => {
    const served = (await call('GET', '/openapi.json')).body;
    const file = new URL('../../openapi.yaml', import.meta.url);
    const text = await readFile(file, 'utf8').catch(() => {
      throw new Error('openapi.yaml is missing: run `npm run openapi` and commit it');
    });
    expect(
      parseYaml(text),
      'openapi.yaml is out of date with the served /openapi.json: run `npm run openapi` and commit it',
    ).toEqual(served);
  });
});

describe('never a 500', () => {
  test('no request in this file was answered with a 5xx other than the deliberate 503, and nothing was logged as an error', () => {
    expect(statuses.length).toBeGreaterThan(50);
    expect(
      statuses.filter((s) => s.status >= 500 && !(s.what === 'GET /readyz' && s.status === 503)),
    ).toEqual([]);
    const errors = t.logs
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((entry) => entry.level >= 50 && entry.msg !== 'database migrations are not applied');
    expect(errors).toEqual([]);
  });
});
