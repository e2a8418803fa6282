// What the log says about a refused identity token: who it claims to be (iss, kid, sub) and why it
// was refused, on one line, never the decoded payload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialRequest, startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => {
  await t?.close();
});

function rejectionLines(marker: string): Record<string, unknown>[] {
  return t.logs
    .filter((line) => line.includes(marker))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the log line of a refused token', () => {
  it.each([
    ['a wrong audience', { aud: 'someone-else' }, /aud does not include/],
    [
      'an iat from the future',
      { iat: Math.floor(Date.now() / 1000) + 3600, exp: Math.floor(Date.now() / 1000) + 7200 },
      /future/,
    ],
    ['an exp of 1e308', { exp: 1e308 }, /lifetime/],
  ])(
    'names iss, kid, sub and the reason for %s, and leaves the payload out',
    async (_name, claims, reason) => {
      const sub = `agent-log-${Math.random().toString(36).slice(2, 8)}`;
      const token = await t.agentToken(sub, {
        ...claims,
        email: 'victim@example.com',
        secret_note: 'do-not-log-me',
      });
      const res = await t.request('POST', '/v1/credentials', { token, body: credentialRequest() });
      expect(res.status).toBe(401);

      const lines = rejectionLines(sub);
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(line.level).toBeLessThan(50);
      expect(line.cause).toMatchObject({
        iss: t.issuer.issuer,
        kid: t.issuer.kid,
        sub,
        reason: expect.stringMatching(reason),
      });
      const text = JSON.stringify(line);
      expect(text).not.toContain('victim@example.com');
      expect(text).not.toContain('do-not-log-me');
      expect(text).not.toContain(token);
    },
  );
});
