// HMAC-SHA256 signatures of webhook calls, both directions: the broker verifies inbound calls
// (anomaly, task-completed) and signs its own approval notifications with the same scheme.
//   X-Broker-Signature: t=<unix seconds>,v1=<hex hmac-sha256(secret, "<t>.<raw body>")>
import { createHmac, timingSafeEqual } from 'node:crypto';
import { problems } from '../problem.js';

export const SIGNATURE_HEADER = 'X-Broker-Signature';
export const DELIVERY_HEADER = 'X-Broker-Delivery';
export const DEFAULT_TOLERANCE_SECONDS = 300;

// Bounds on hostile input: a header is a few hundred bytes, a sender rotating secrets sends two
// or three v1 entries.
const MAX_HEADER_LENGTH = 2048;
const MAX_V1_ENTRIES = 8;
const TIMESTAMP = /^[0-9]{1,12}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export type WebhookBody = Uint8Array | string;

export interface VerifyWebhookSignatureInput {
  /** WEBHOOK_SECRET; a list accepts any of them (the receiving side of a secret rotation). */
  secret: string | readonly string[];
  /** The X-Broker-Signature header value, as received. */
  header: string | null | undefined;
  /** The body bytes exactly as received, before any JSON parsing. */
  rawBody: WebhookBody;
  now: Date;
  toleranceSeconds?: number;
}

function hmac(secret: string, timestamp: string, rawBody: WebhookBody): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(rawBody).digest();
}

function assertSecret(secret: string, fn: string): void {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new TypeError(`${fn}: secret (WEBHOOK_SECRET) must be a non-empty string`);
  }
}

/** The X-Broker-Signature value for `rawBody` sent at `now`. */
export function signWebhook(secret: string, rawBody: WebhookBody, now: Date): string {
  assertSecret(secret, 'signWebhook');
  const t = String(Math.floor(now.getTime() / 1000));
  return `t=${t},v1=${hmac(secret, t, rawBody).toString('hex')}`;
}

interface ParsedHeader {
  t: string;
  v1: Buffer[];
}

function parseHeader(header: string | null | undefined): ParsedHeader {
  if (header === undefined || header === null || header.trim() === '') {
    throw problems.invalidSignature(`missing ${SIGNATURE_HEADER} header`);
  }
  const malformed = (why: string) =>
    problems.invalidSignature(
      `malformed ${SIGNATURE_HEADER} header (${why}); expected t=<unix seconds>,v1=<hex>`,
    );
  if (header.length > MAX_HEADER_LENGTH) throw malformed(`longer than ${MAX_HEADER_LENGTH} characters`);
  let t: string | undefined;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw malformed(`"${part.trim().slice(0, 20)}" is not key=value`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (t !== undefined) throw malformed('more than one t');
      if (!TIMESTAMP.test(value)) throw malformed('t must be a unix time in seconds');
      t = value;
    } else if (key === 'v1') {
      if (!HEX_SHA256.test(value)) throw malformed('v1 must be 64 hex digits');
      if (v1.length === MAX_V1_ENTRIES) throw malformed(`more than ${MAX_V1_ENTRIES} v1 entries`);
      v1.push(Buffer.from(value, 'hex'));
    }
    // Other keys (a future v2 scheme) are ignored, so senders can add one before we verify it.
  }
  if (t === undefined) throw malformed('no t');
  if (v1.length === 0) throw problems.invalidSignature(`${SIGNATURE_HEADER} header has no v1 signature`);
  return { t, v1 };
}

/**
 * Checks, in order: header present, well-formed, has v1, timestamp inside the window, and a v1
 * entry equal to the HMAC under (one of) the secret(s). Throws a 401 Problem naming the failed
 * check. Replay of a valid call inside the window is refused by the delivery store, not here.
 */
export function verifyWebhookSignature(input: VerifyWebhookSignatureInput): { timestamp: number } {
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  if (secrets.length === 0) {
    throw new TypeError('verifyWebhookSignature: no secret configured (WEBHOOK_SECRET)');
  }
  for (const secret of secrets) assertSecret(secret, 'verifyWebhookSignature');
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`verifyWebhookSignature: toleranceSeconds must be >= 0, got ${tolerance}`);
  }

  const { t, v1 } = parseHeader(input.header);
  const timestamp = Number(t);
  const age = Math.floor(input.now.getTime() / 1000) - timestamp;
  if (age > tolerance) {
    throw problems.invalidSignature(`signature timestamp is ${age} s old (tolerance ${tolerance} s)`);
  }
  if (-age > tolerance) {
    throw problems.invalidSignature(
      `signature timestamp is ${-age} s in the future (tolerance ${tolerance} s)`,
    );
  }

  // Every candidate is compared (no early exit), each in constant time over 32-byte buffers.
  let match = false;
  for (const secret of secrets) {
    const expected = hmac(secret, t, input.rawBody);
    for (const candidate of v1) match = timingSafeEqual(candidate, expected) || match;
  }
  if (!match)
    throw problems.invalidSignature('signature does not match the body (wrong secret or altered body)');
  return { timestamp };
}
