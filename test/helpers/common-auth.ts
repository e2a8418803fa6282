// The checks every authenticated route gets: no token, a malformed Authorization header, a token
// that is not a JWT, an expired token, a token from an issuer the broker does not trust, and the
// other kind's valid token (an agent on a staff route, a reviewer on an agent route). Each answer
// is asserted exactly as src/http/middleware/auth.ts and src/identity/ give it.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { STAFF_AUDIENCE, type TestBroker, type TestResponse } from './broker.js';
import { createTestIssuer, TEST_AUDIENCE, type TestIssuer } from './issuer.js';
import { expectProblem } from './problems.js';

export interface CommonAuthTests {
  method: 'GET' | 'POST';
  /** A concrete path (ids filled in): auth must answer before the route looks at them. */
  path: string;
  /** Which bearer token the route takes: a workload identity token or a staff OIDC token. */
  kind: 'workload' | 'staff';
  /** A staff route that also serves agents (their own data): an agent's token is accepted there. */
  agentsAllowed?: boolean;
  /** A body the route would accept, for POST routes. */
  body?: unknown;
  /** The file's one test broker (made in its beforeAll). */
  broker: () => TestBroker;
}

const MALFORMED_DETAIL = 'the Authorization header must be "Bearer <token>"';

/** A 401 invalid-token problem with the detail, also carried (quotes dropped) in WWW-Authenticate. */
function expectInvalidToken(res: TestResponse, detail: string): void {
  expectProblem(res, 401, 'invalid-token');
  expect(res.body.detail).toBe(detail);
  expect(res.headers.get('www-authenticate')).toBe(
    `Bearer error="invalid_token", error_description="${detail.replace(/["\\]/g, '')}"`,
  );
}

export function runCommonAuthTests(route: CommonAuthTests): void {
  const { method, path, kind } = route;
  const unknownIssuer =
    kind === 'staff'
      ? 'unknown issuer: the token is not from the staff identity provider'
      : 'unknown issuer: no configured issuer has this iss';

  describe(`${method} ${path}: ${kind} authentication`, () => {
    let stranger: TestIssuer;
    beforeAll(async () => {
      stranger = await createTestIssuer({ alg: 'ES256', jwks: 'file', clock: route.broker().clock });
    });
    afterAll(async () => {
      await stranger?.close();
    });

    const call = (init: { token?: string; headers?: Record<string, string> }) =>
      route.broker().request(method, path, { ...init, body: route.body });

    /** A valid token of the route's kind with these claims over the defaults. */
    function ownKindToken(claims: Record<string, unknown> = {}): Promise<string> {
      const t = route.broker();
      return kind === 'staff'
        ? t.staffToken('sam', ['security-oncall'], claims)
        : t.agentToken(undefined, claims);
    }

    test('no Authorization header is a 401 missing-token problem with WWW-Authenticate: Bearer', async () => {
      for (const headers of [{}, { authorization: '' }, { authorization: '   ' }] as Record<
        string,
        string
      >[]) {
        const res = await call({ headers });
        expectProblem(res, 401, 'missing-token');
        expect(res.body.detail).toBe('an Authorization: Bearer token is required');
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
      }
    });

    test('a malformed Authorization header is a 401 invalid-token problem', async () => {
      const token = await ownKindToken();
      for (const authorization of [
        `Basic ${Buffer.from('sam:secret').toString('base64')}`,
        'Bearer',
        `Bearer ${token} x`,
        token,
      ]) {
        expectInvalidToken(await call({ headers: { authorization } }), MALFORMED_DETAIL);
      }
      expectInvalidToken(
        await call({ token: 'not-a-jwt' }),
        'token is not a compact JWS (header.payload.signature)',
      );
    });

    test('an expired token is a 401 invalid-token problem', async () => {
      const now = Math.floor(route.broker().clock.now().getTime() / 1000);
      const expired = await ownKindToken({ iat: now - 600, exp: now - 120 });
      expectInvalidToken(await call({ token: expired }), 'token has expired');
    });

    test('a token from an issuer the broker does not trust is a 401 invalid-token problem', async () => {
      const aud = kind === 'staff' ? STAFF_AUDIENCE : TEST_AUDIENCE;
      const token = await stranger.sign({ sub: 'sam', aud, groups: ['security-oncall'] });
      expectInvalidToken(await call({ token }), unknownIssuer);
    });

    if (kind === 'staff' && route.agentsAllowed) {
      test("an agent's valid workload token is accepted (the route serves agents their own data)", async () => {
        const res = await call({ token: await route.broker().agentToken() });
        expect(res.status).toBeLessThan(400);
      });
    } else if (kind === 'staff') {
      test("an agent's valid workload token is a 403 forbidden problem", async () => {
        const res = await call({ token: await route.broker().agentToken() });
        expectProblem(res, 403, 'forbidden');
        expect(res.body.detail).toBe('only security staff may use this route; agents may not');
      });
    } else {
      test("a reviewer's valid staff token is a 401 invalid-token problem: staff are not agents", async () => {
        const res = await call({ token: await route.broker().staffToken('sam') });
        expectInvalidToken(res, unknownIssuer);
      });
    }
  });
}
