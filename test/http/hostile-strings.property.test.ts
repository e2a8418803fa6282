// Property-based: strings PostgreSQL cannot store (a NUL, an unpaired UTF-16 surrogate) placed in
// every field of every route that takes strings. Each request is answered with a 4xx that names
// the field, never a 5xx, and no lease or approval comes of it. The anomaly webhook is the one
// exception by design: its free-text reason is sanitised and the revocation still happens.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isDbText } from '../../src/core/db-text.js';
import { signWebhook } from '../../src/webhooks/signature.js';
import {
  credentialRequest,
  startTestBroker,
  TEST_WEBHOOK_SECRET,
  type TestBroker,
  type TestResponse,
} from '../helpers/broker.js';
import { percentEncodeRaw } from '../helpers/hostile-text.js';

/** Runs per property; 15 properties below make well over 10,000 requests per `npm test`. */
const RUNS = 850;
const MIN_REQUESTS = 10_000;

let t: TestBroker;
let agentToken: string;
let staffToken: string;
let sent = 0;
let fiveHundreds = 0;
const FUZZ_AGENT = 'agent-fuzz';

beforeAll(async () => {
  t = await startTestBroker();
  agentToken = await t.agentToken(FUZZ_AGENT);
  staffToken = await t.staffToken('alice@example.com');
});
afterAll(async () => {
  await t?.close();
});

const BAD = ['\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '\ud83d', '\u0000\u0000'];

/** A string that always holds at least one NUL or unpaired surrogate, somewhere in it. */
const hostile = fc
  .tuple(
    fc.string({ maxLength: 12, unit: 'grapheme' }),
    fc.constantFrom(...BAD),
    fc.string({ maxLength: 12, unit: 'grapheme' }),
  )
  .map(([a, bad, b]) => `${a}${bad}${b}`)
  .filter((s) => !isDbText(s));

/** What a header can carry of a string: each UTF-16 unit above U+00FF becomes U+00FF. */
function latin1(value: string): string {
  return Array.from(value, (ch) => (ch.length === 1 && ch.charCodeAt(0) <= 0xff ? ch : '\u00ff')).join('');
}

async function send(
  method: string,
  path: string,
  init: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<TestResponse> {
  sent++;
  const res = await t.request(method, path, init);
  if (res.status >= 500) fiveHundreds++;
  return res;
}

function expectRefused(res: TestResponse, field?: string) {
  expect(res.status, res.text).toBeGreaterThanOrEqual(400);
  expect(res.status, res.text).toBeLessThan(500);
  if (field !== undefined) {
    expect(res.status).toBe(400);
    expect(
      res.body.errors?.map((e: { field: string }) => e.field),
      res.text,
    ).toContain(field);
  }
}

function signed(body: unknown): { body: string; headers: Record<string, string> } {
  const raw = JSON.stringify(body);
  return {
    body: raw,
    headers: {
      'content-type': 'application/json',
      'x-broker-signature': signWebhook(TEST_WEBHOOK_SECRET, raw, t.clock.now()),
      'x-broker-delivery': `dlv-${randomUUID()}`,
    },
  };
}

async function property<T>(arb: fc.Arbitrary<T>, check: (value: T) => Promise<void>) {
  await fc.assert(fc.asyncProperty(arb, check), { numRuns: RUNS });
}

/** Where in a credential request a hostile string goes, and the field the 400 must name. */
const credentialPlacements: [string, (bad: string) => Record<string, unknown>][] = [
  ['template', (bad) => credentialRequest({ template: bad })],
  ['intent.task_id', (bad) => credentialRequest({}, { task_id: bad })],
  ['intent.purpose', (bad) => credentialRequest({}, { purpose: bad })],
  ['intent.actions.0', (bad) => credentialRequest({}, { actions: [bad] })],
  ['intent.actions.1', (bad) => credentialRequest({}, { actions: ['reports:read', bad] })],
  ['intent.resources.0', (bad) => credentialRequest({}, { resources: [bad] })],
  ['on_behalf_of', (bad) => credentialRequest({ on_behalf_of: bad })],
];

/** Hundreds of requests per property: far more than the default per-test timeout on a busy machine. */
const PROPERTY_TIMEOUT = { timeout: 180_000 };

describe(
  'NUL bytes and unpaired surrogates in every field: a 4xx naming it, never a 5xx',
  PROPERTY_TIMEOUT,
  () => {
    test('POST /v1/credentials, in every string of the body', async () => {
      await property(
        fc.tuple(hostile, fc.constantFrom(...credentialPlacements)),
        async ([bad, [field, body]]) => {
          const res = await send('POST', '/v1/credentials', { token: agentToken, body: body(bad) });
          expectRefused(res, field);
        },
      );
    });

    test('POST /v1/credentials, in the Idempotency-Key header (as far as a header can carry it)', async () => {
      await property(hostile, async (bad) => {
        const key = latin1(bad);
        const res = await send('POST', '/v1/credentials', {
          token: agentToken,
          body: credentialRequest({}, { purpose: bad }),
          headers: { 'idempotency-key': key.replaceAll('\u0000', '') || 'k' },
        });
        expectRefused(res);
      });
    });

    test('agent routes with a hostile path segment: lease read, renew, revoke, task completion, approval collect', async () => {
      const routes: [string, (seg: string) => string, unknown?][] = [
        ['GET', (s) => `/v1/leases/${s}`],
        ['POST', (s) => `/v1/leases/${s}/renew`, { ttl_seconds: 60 }],
        ['POST', (s) => `/v1/leases/${s}/revoke`],
        ['POST', (s) => `/v1/tasks/${s}/complete`],
        ['GET', (s) => `/v1/approvals/${s}`],
      ];
      await property(fc.tuple(hostile, fc.constantFrom(...routes)), async ([bad, [method, path, body]]) => {
        const res = await send(method, path(percentEncodeRaw(bad)), { token: agentToken, body });
        // A URL cannot carry an unpaired surrogate (it arrives as invalid UTF-8 and stays undecoded,
        // an unknown id or task): only a NUL makes the segment one PostgreSQL cannot store.
        if (bad.includes('\u0000')) expectRefused(res);
        else expect(res.status, res.text).toBeLessThan(500);
      });
    });

    test('GET /v1/leases (staff) with hostile filters and cursors', async () => {
      await property(
        fc.tuple(hostile, fc.constantFrom('agent', 'task_id', 'template', 'cursor')),
        async ([bad, name]) => {
          const res = await send('GET', `/v1/leases?${name}=${percentEncodeRaw(bad)}`, { token: staffToken });
          // A query string cannot carry an unpaired surrogate (it arrives as invalid UTF-8 and is kept
          // undecoded): only a NUL makes the value one PostgreSQL cannot store.
          if (bad.includes('\u0000')) expectRefused(res, `query.${name}`);
          else expect(res.status, res.text).toBeLessThan(500);
        },
      );
    });

    test('POST /v1/leases/revoke (staff) with hostile selectors and reasons', async () => {
      await property(
        fc.tuple(hostile, fc.constantFrom('agent', 'task_id', 'template', 'reason')),
        async ([bad, name]) => {
          const body: Record<string, string> = { agent: FUZZ_AGENT, reason: 'fuzzing', [name]: bad };
          const res = await send('POST', '/v1/leases/revoke', { token: staffToken, body });
          expectRefused(res, name);
        },
      );
    });

    test('GET /v1/audit (staff) with hostile queries', async () => {
      await property(
        fc.tuple(hostile, fc.constantFrom('agent', 'cursor', 'lease_id', 'since')),
        async ([bad, name]) => {
          const res = await send('GET', `/v1/audit?${name}=${percentEncodeRaw(bad)}`, { token: staffToken });
          if (bad.includes('\u0000')) expectRefused(res, `query.${name}`);
          else expect(res.status, res.text).toBeLessThan(500);
        },
      );
    });

    test('GET /v1/approvals (staff) with a hostile cursor or status', async () => {
      await property(fc.tuple(hostile, fc.constantFrom('cursor', 'status')), async ([bad, name]) => {
        const res = await send('GET', `/v1/approvals?${name}=${percentEncodeRaw(bad)}`, {
          token: staffToken,
        });
        if (bad.includes('\u0000')) expectRefused(res, `query.${name}`);
        else expect(res.status, res.text).toBeLessThan(500);
      });
    });

    test('POST /v1/approvals/{id}/approve and /deny with a hostile reason', async () => {
      const pending = await t.request('POST', '/v1/credentials', {
        token: await t.agentToken('agent-approvals'),
        body: credentialRequest(
          { template: 'reports-admin' },
          { actions: ['reports:admin'], task_id: 't-approve' },
        ),
      });
      expect(pending.status, pending.text).toBe(202);
      const id = pending.body.approval_id as string;
      await property(fc.tuple(hostile, fc.constantFrom('approve', 'deny')), async ([bad, verb]) => {
        const res = await send('POST', `/v1/approvals/${id}/${verb}`, {
          token: staffToken,
          body: { reason: bad },
        });
        expectRefused(res, 'reason');
      });
      const after = await t.request('GET', '/v1/approvals?status=pending', { token: staffToken });
      expect(after.body.items.map((a: { approval_id: string }) => a.approval_id)).toContain(id);
    });

    test('POST /v1/introspect with a hostile token, as JSON and as a form', async () => {
      await property(fc.tuple(hostile, fc.boolean()), async ([bad, asJson]) => {
        const res = asJson
          ? await send('POST', '/v1/introspect', { body: { token: bad } })
          : await send('POST', '/v1/introspect', {
              body: `token=${percentEncodeRaw(bad)}`,
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
            });
        expect(res.status, res.text).toBeLessThan(500);
        if (res.status === 200) expect(res.body).toEqual({ active: false });
      });
    });

    test('POST /v1/webhooks/anomaly with a hostile selector: 400, nothing revoked', async () => {
      await property(
        fc.tuple(hostile, fc.constantFrom('agent', 'task_id', 'lease_id')),
        async ([bad, name]) => {
          const call = signed({ [name]: bad, reason: 'suspicious', severity: 'high' });
          const res = await send('POST', '/v1/webhooks/anomaly', call);
          expectRefused(res, name);
        },
      );
    });

    test('POST /v1/webhooks/task-completed with a hostile task or agent', async () => {
      await property(fc.tuple(hostile, fc.constantFrom('task_id', 'agent')), async ([bad, name]) => {
        const call = signed({ task_id: 't-1', agent: FUZZ_AGENT, [name]: bad });
        const res = await send('POST', '/v1/webhooks/task-completed', call);
        expectRefused(res, name);
      });
    });

    test('hostile X-Request-Id and X-Broker-Delivery headers are refused or replaced, never a 5xx', async () => {
      await property(hostile, async (bad) => {
        // Headers are bytes: what reaches the server is the Latin-1 rendering of the string.
        const header = latin1(bad).replaceAll('\u0000', '') || 'x';
        const read = await send('GET', `/v1/leases/${randomUUID()}`, {
          token: agentToken,
          headers: { 'x-request-id': header },
        });
        expect(read.status).toBe(404);
        const call = signed({ agent: FUZZ_AGENT, reason: 'r', severity: 'low' });
        call.headers['x-broker-delivery'] = header;
        const hook = await send('POST', '/v1/webhooks/anomaly', call);
        expect(hook.status, hook.text).toBeLessThan(500);
      });
    });
  },
);

describe(
  'the anomaly webhook still revokes when its reason cannot be stored as sent',
  PROPERTY_TIMEOUT,
  () => {
    test('a reason with NUL bytes or unpaired surrogates is sanitised and the lease is revoked', async () => {
      await fc.assert(
        fc.asyncProperty(hostile, async (bad) => {
          const agent = `agent-anomaly-${randomUUID().slice(0, 8)}`;
          const minted = await t.request('POST', '/v1/credentials', {
            token: await t.agentToken(agent),
            body: credentialRequest({}, { task_id: 't-anomaly' }),
          });
          expect(minted.status, minted.text).toBe(201);
          const res = await send(
            'POST',
            '/v1/webhooks/anomaly',
            signed({ agent, reason: bad, severity: 'critical' }),
          );
          expect(res.status, res.text).toBe(200);
          expect(res.body.revoked).toEqual([minted.body.lease_id]);
          const [row] = await t.database.sql<{ state: string; revoke_reason: string }[]>`
          select state, revoke_reason from leases where id = ${minted.body.lease_id}`;
          expect(['revoked', 'revoking']).toContain(row!.state);
          expect(isDbText(row!.revoke_reason)).toBe(true);
          expect(row!.revoke_reason).toContain('\uFFFD');
        }),
        { numRuns: 60 },
      );
    });
  },
);

describe('what all of that added up to', () => {
  test(`at least ${MIN_REQUESTS} hostile requests, no 5xx, and no lease or approval for the fuzzing agent`, async () => {
    expect(sent).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(fiveHundreds).toBe(0);
    const [leases] = await t.database.sql<
      { n: number }[]
    >`select count(*)::int as n from leases where agent = ${FUZZ_AGENT}`;
    expect(leases!.n).toBe(0);
    const [approvals] = await t.database.sql<{ n: number }[]>`
      select count(*)::int as n from approvals a join leases l on l.id = a.lease_id where l.agent = ${FUZZ_AGENT}`;
    expect(approvals!.n).toBe(0);
  });
});
