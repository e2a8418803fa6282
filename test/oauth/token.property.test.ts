// Property-based: hostile form bodies on the OAuth endpoints, sent over a real socket as raw bytes
// (NULs, invalid UTF-8 from unpaired surrogates, long and repeated parameters, broken JSON in
// authorization_details, tokens that are not JWTs), mixed with valid parameters so the requests
// reach every check. POST /v1/token answers a 4xx in OAuth's JSON with Cache-Control: no-store,
// or a token response; never a 5xx, and no lease comes of a refusal. POST /v1/introspect answers
// `active: false` or an OAuth error, never a 5xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { OAUTH_ERROR_CODES } from '../../src/oauth/errors.js';
import { percentEncodeRaw } from '../helpers/hostile-text.js';
import {
  ACCESS_TOKEN_TYPE,
  CIBA,
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

const RUNS = 400;

let b: ServedBroker;
let agent: string;
beforeAll(async () => {
  b = await startServedBroker();
  agent = await b.agentToken('agent-token-fuzz');
});
afterAll(async () => {
  await b?.stop();
});

const BAD = ['\u0000', '\ud800', '\udfff', '\ud83d', '%', '&', '=', '+', '\r\n'];

const hostile = fc
  .tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...BAD), fc.string({ maxLength: 10 }))
  .map(([a, bad, c]) => `${a}${bad}${c}`);

const value = () =>
  fc.oneof(
    hostile,
    fc.string({ maxLength: 40 }),
    fc.string({ minLength: 2000, maxLength: 4000 }),
    fc.constantFrom(
      '',
      'null',
      '{',
      '[]',
      '[{"type":"task_intent"}]',
      'eyJhbGciOiJub25lIn0.e30.',
      'a.b.c',
      JWT_TYPE,
      ACCESS_TOKEN_TYPE,
      TXN_TOKEN_TYPE,
      REPORTS,
      'reports:read',
      'reports:read reports:export',
    ),
  );

/** Known parameter names (and a few unknown ones), each given a valid, random or hostile value. */
const NAMES = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'resource',
  'audience',
  'scope',
  'requested_token_type',
  'authorization_details',
  'assertion',
  'auth_req_id',
  'client_id',
  'client_secret',
  'unknown',
  '',
] as const;

const param = fc.tuple(
  fc.oneof(fc.constantFrom(...NAMES), hostile),
  fc.oneof(value(), fc.constant('<valid>')),
);

/** Parameters made of whatever: most refused at the first checks. */
const randomBody = fc
  .tuple(
    fc.oneof(fc.constantFrom(TOKEN_EXCHANGE, JWT_BEARER, CIBA, 'password', 'client_credentials'), value()),
    fc.array(param, { maxLength: 12 }),
    fc.boolean(),
  )
  .map(([grantType, params, withoutGrantType]) => {
    const pairs = params.map(([name, v]) => [name, v === '<valid>' ? valid(name) : v] as [string, string]);
    return withoutGrantType ? pairs : [['grant_type', grantType] as [string, string], ...pairs];
  });

/**
 * A valid token exchange with up to three things changed (a value replaced, a parameter dropped
 * or sent twice): these get past the parsing to identity, intent, policy and issuance.
 */
const mutatedExchange = fc
  .array(
    fc.tuple(fc.nat(7), fc.constantFrom('replace', 'drop', 'repeat'), value(), fc.string({ maxLength: 8 })),
    { maxLength: 3 },
  )
  .map((mutations) => {
    const pairs: [string, string][] = [
      ['grant_type', TOKEN_EXCHANGE],
      ['subject_token', agent],
      ['subject_token_type', JWT_TYPE],
      ['resource', REPORTS],
      ['scope', 'reports:read'],
      ['authorization_details', taskIntent()],
    ];
    for (const [at, how, v, taskId] of mutations) {
      const i = at % pairs.length;
      if (how === 'replace') pairs[i] = [pairs[i]![0], v];
      else if (how === 'drop') pairs.splice(i, 1);
      else pairs.push([pairs[i]![0], v]);
      // A new task id sometimes, or the intent with a hostile one.
      if (taskId.length > 0 && pairs.some(([name]) => name === 'authorization_details'))
        pairs.push(['authorization_details', taskIntent({ task_id: taskId })]);
      if (pairs.length === 0) break;
    }
    return pairs;
  });

const tokenBody = fc.oneof(randomBody, mutatedExchange);

/** A valid value for a parameter, so some requests get far into the checks. */
function valid(name: string): string {
  switch (name) {
    case 'subject_token':
    case 'assertion':
      return agent;
    case 'subject_token_type':
      return JWT_TYPE;
    case 'resource':
      return REPORTS;
    case 'authorization_details':
      return taskIntent();
    default:
      return 'reports:read';
  }
}

async function post(path: string, body: string) {
  const res = await fetch(`${b.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('POST /v1/token with hostile form bodies', () => {
  test('every answer is an OAuth error (4xx, no-store) or a token; never a 5xx; no lease from a refusal', async () => {
    let tokens = 0;
    await fc.assert(
      fc.asyncProperty(tokenBody, async (pairs) => {
        const body = pairs.map(([name, v]) => `${percentEncodeRaw(name)}=${percentEncodeRaw(v)}`).join('&');
        const before = await leaseCount(b);
        const res = await post('/v1/token', body);
        expect(res.status, res.text).toBeLessThan(500);
        expect(res.headers.get('content-type'), res.text).toMatch(/^application\/json/);
        expect(res.headers.get('cache-control')).toBe('no-store');
        if (res.status === 200) {
          tokens++;
          expect(res.json).toMatchObject({
            access_token: expect.any(String),
            issued_token_type: expect.any(String),
          });
          return;
        }
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(OAUTH_ERROR_CODES, res.text).toContain(res.json?.error);
        expect(res.json?.error_description, res.text).toEqual(expect.any(String));
        expect(await leaseCount(b)).toBe(before);
      }),
      { numRuns: RUNS },
    );
    // The generator does reach a granted exchange now and then: the checks were passed, not skipped.
    expect(tokens).toBeGreaterThan(0);
  });
});

describe('POST /v1/introspect with hostile form bodies', () => {
  test('every answer is active: false or an OAuth error; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(fc.oneof(fc.constantFrom('token', 'token_type_hint', 'client_id'), hostile), value()),
          {
            maxLength: 6,
          },
        ),
        async (params) => {
          const body = params
            .map(([name, v]) => `${percentEncodeRaw(name)}=${percentEncodeRaw(v)}`)
            .join('&');
          const res = await post('/v1/introspect', body);
          expect(res.status, res.text).toBeLessThan(500);
          expect(res.headers.get('content-type'), res.text).toMatch(/^application\/json/);
          if (res.status === 200) expect(res.json, res.text).toEqual({ active: false });
          else expect(OAUTH_ERROR_CODES, res.text).toContain(res.json?.error);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
