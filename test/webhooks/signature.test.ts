import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { Problem } from '../../src/problem.js';
import { signWebhook, verifyWebhookSignature } from '../../src/webhooks/signature.js';

const SECRET = 'whsec-test-0123456789abcdef';
const BODY = '{"lease_id":"0b6f4c1e-8f57-4d0b-9a51-2f5f3c1f7a01","reason":"exfiltration","severity":"high"}';
const clock = new ManualClock(new Date('2025-06-01T12:00:00.400Z'));
const T = Math.floor(clock.now().getTime() / 1000);

function hex(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

function refusal(fn: () => unknown): Problem {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Problem);
    const problem = error as Problem;
    expect(problem).toMatchObject({ status: 401, type: 'invalid-signature', title: 'Unauthorized' });
    return problem;
  }
  throw new Error('expected a 401 problem');
}

const verify = (header: string | undefined, rawBody: Uint8Array | string = BODY, now = clock.now()) =>
  verifyWebhookSignature({ secret: SECRET, header, rawBody, now });

describe('signWebhook', () => {
  it('produces t=<unix seconds>,v1=<hex hmac of "<t>.<body>">', () => {
    expect(signWebhook(SECRET, BODY, clock.now())).toBe(`t=${T},v1=${hex(SECRET, T, BODY)}`);
  });

  it('signs the bytes of a Uint8Array body exactly as the same UTF-8 string', () => {
    const body = '{"reason":"naïve ✓"}';
    expect(signWebhook(SECRET, new TextEncoder().encode(body), clock.now())).toBe(
      signWebhook(SECRET, body, clock.now()),
    );
  });

  it('refuses an empty secret', () => {
    expect(() => signWebhook('', BODY, clock.now())).toThrow(/WEBHOOK_SECRET/);
  });
});

describe('verifyWebhookSignature accepts', () => {
  it('a call signed with the secret, returning its timestamp', () => {
    expect(verify(signWebhook(SECRET, BODY, clock.now()))).toEqual({ timestamp: T });
  });

  it('a raw body given as bytes', () => {
    expect(verify(signWebhook(SECRET, BODY, clock.now()), Buffer.from(BODY))).toEqual({ timestamp: T });
  });

  it('a signature exactly 300 s old or 300 s ahead', () => {
    expect(verify(`t=${T - 300},v1=${hex(SECRET, T - 300, BODY)}`)).toEqual({ timestamp: T - 300 });
    expect(verify(`t=${T + 300},v1=${hex(SECRET, T + 300, BODY)}`)).toEqual({ timestamp: T + 300 });
  });

  it('two v1 entries where only the second matches (a sender rotating its secret)', () => {
    const header = `t=${T},v1=${hex('old-secret-xxxxxxxx', T, BODY)},v1=${hex(SECRET, T, BODY)}`;
    expect(verify(header)).toEqual({ timestamp: T });
  });

  it('any of several configured secrets (the broker rotating WEBHOOK_SECRET)', () => {
    const header = signWebhook('next-secret-0123456789', BODY, clock.now());
    expect(
      verifyWebhookSignature({
        secret: [SECRET, 'next-secret-0123456789'],
        header,
        rawBody: BODY,
        now: clock.now(),
      }),
    ).toEqual({ timestamp: T });
  });

  it('upper-case hex, spaces after commas and unknown schemes next to v1', () => {
    const header = `t=${T}, v1=${hex(SECRET, T, BODY).toUpperCase()}, v2=whatever`;
    expect(verify(header)).toEqual({ timestamp: T });
  });
});

describe('verifyWebhookSignature refuses with 401', () => {
  it('a signature made with another secret', () => {
    const header = signWebhook('not-the-secret-000000', BODY, clock.now());
    expect(refusal(() => verify(header)).detail).toMatch(/does not match/);
  });

  it('a body altered by one byte', () => {
    const header = signWebhook(SECRET, BODY, clock.now());
    const altered = Buffer.from(BODY);
    altered[altered.length - 3] = altered[altered.length - 3]! ^ 0x01;
    expect(refusal(() => verify(header, altered)).detail).toMatch(/does not match/);
    expect(refusal(() => verify(header, `${BODY} `)).detail).toMatch(/does not match/);
  });

  it('a timestamp 301 s old', () => {
    const header = signWebhook(SECRET, BODY, clock.now());
    const later = new ManualClock(clock.now());
    later.advance(301);
    expect(refusal(() => verify(header, BODY, later.now())).detail).toBe(
      'signature timestamp is 301 s old (tolerance 300 s)',
    );
  });

  it('a timestamp 301 s in the future', () => {
    const ahead = new ManualClock(clock.now());
    ahead.advance(301);
    const header = signWebhook(SECRET, BODY, ahead.now());
    expect(refusal(() => verify(header)).detail).toBe(
      'signature timestamp is 301 s in the future (tolerance 300 s)',
    );
  });

  it('a correctly signed timestamp that was moved into the window', () => {
    const stale = `t=${T - 1000},v1=${hex(SECRET, T - 1000, BODY)}`;
    const moved = stale.replace(`t=${T - 1000}`, `t=${T}`);
    expect(refusal(() => verify(moved)).detail).toMatch(/does not match/);
  });

  it('a missing or empty header', () => {
    expect(refusal(() => verify(undefined)).detail).toBe('missing X-Broker-Signature header');
    expect(refusal(() => verify('')).detail).toBe('missing X-Broker-Signature header');
    expect(refusal(() => verify('   ')).detail).toBe('missing X-Broker-Signature header');
  });

  it('a header without v1', () => {
    expect(refusal(() => verify(`t=${T}`)).detail).toBe('X-Broker-Signature header has no v1 signature');
    expect(refusal(() => verify(`t=${T},v0=${hex(SECRET, T, BODY)}`)).detail).toMatch(/no v1/);
  });

  it.each([
    ['no t', () => `v1=${hex(SECRET, T, BODY)}`, /no t/],
    ['two t', () => `t=${T},t=${T},v1=${hex(SECRET, T, BODY)}`, /more than one t/],
    ['t not a number', () => `t=now,v1=${hex(SECRET, T, BODY)}`, /unix time/],
    ['a negative t', () => `t=-${T},v1=${hex(SECRET, T, BODY)}`, /unix time/],
    ['non-hex v1', () => `t=${T},v1=${'z'.repeat(64)}`, /64 hex digits/],
    ['short v1', () => `t=${T},v1=${hex(SECRET, T, BODY).slice(0, 62)}`, /64 hex digits/],
    ['empty v1', () => `t=${T},v1=`, /64 hex digits/],
    ['a part without =', () => `t=${T},${hex(SECRET, T, BODY)}`, /not key=value/],
    ['trailing comma', () => `t=${T},v1=${hex(SECRET, T, BODY)},`, /not key=value/],
    ['a huge header', () => `t=${T},${'x=y,'.repeat(1000)}v1=${hex(SECRET, T, BODY)}`, /longer than/],
    [
      'too many v1',
      () => `t=${T},${`v1=${'0'.repeat(64)},`.repeat(9)}v1=${hex(SECRET, T, BODY)}`,
      /more than 8/,
    ],
  ])('a malformed header: %s', (_name, header, detail) => {
    const problem = refusal(() => verify(header()));
    expect(problem.detail).toMatch(/^malformed X-Broker-Signature header/);
    expect(problem.detail).toMatch(detail);
  });

  it('never reveals the expected signature in the problem', () => {
    const problem = refusal(() => verify(`t=${T},v1=${'0'.repeat(64)}`));
    expect(JSON.stringify(problem)).not.toContain(hex(SECRET, T, BODY));
    expect(problem.detail).not.toContain(SECRET);
  });
});

describe('verifyWebhookSignature misconfigured', () => {
  it('throws a configuration error, not a 401, without a secret', () => {
    const header = signWebhook(SECRET, BODY, clock.now());
    expect(() => verifyWebhookSignature({ secret: '', header, rawBody: BODY, now: clock.now() })).toThrow(
      TypeError,
    );
    expect(() => verifyWebhookSignature({ secret: [], header, rawBody: BODY, now: clock.now() })).toThrow(
      TypeError,
    );
  });
});
