// The one check every inbound webhook route runs before acting: signature, then delivery id,
// then replay. The signature covers only "<t>.<body>", not X-Broker-Delivery, so a captured call
// could be resent inside the window under a fresh delivery id; the signed message itself is
// therefore claimed too, under a key no delivery id can spell ('/' is not allowed in one).
import { createHash } from 'node:crypto';
import type { DbOrTx } from '../db/client.js';
import { problems } from '../problem.js';
import { claimReplayKeys, parseDeliveryId } from './delivery-store.js';
import { verifyWebhookSignature, type WebhookBody } from './signature.js';

export interface WebhookCall {
  /** X-Broker-Signature, as received (undefined when absent). */
  signature: string | null | undefined;
  /** X-Broker-Delivery, as received (undefined when absent). */
  deliveryId: string | null | undefined;
  /** The raw body bytes, before JSON parsing. */
  rawBody: WebhookBody;
}

export interface WebhookAuthOptions {
  secret: string | readonly string[];
  now: Date;
  toleranceSeconds?: number;
}

function messageKey(timestamp: number, rawBody: WebhookBody): string {
  return `msg/${createHash('sha256').update(`${timestamp}.`, 'utf8').update(rawBody).digest('hex')}`;
}

/**
 * Throws 401 (bad signature, stale, replayed) or 400 (missing/malformed delivery id). Run it in
 * the transaction that acts on the call: a rollback releases the claim for the sender's retry.
 */
export async function authenticateWebhook(
  db: DbOrTx,
  call: WebhookCall,
  opts: WebhookAuthOptions,
): Promise<{ deliveryId: string; timestamp: number }> {
  // Signature first: an unauthenticated caller must not be able to burn delivery ids.
  const { timestamp } = verifyWebhookSignature({
    secret: opts.secret,
    header: call.signature,
    rawBody: call.rawBody,
    now: opts.now,
    toleranceSeconds: opts.toleranceSeconds,
  });
  const deliveryId = parseDeliveryId(call.deliveryId);
  const fresh = await claimReplayKeys(db, [deliveryId, messageKey(timestamp, call.rawBody)], opts.now);
  if (!fresh)
    throw problems.replayedDelivery(`delivery ${deliveryId} or this signed message was already accepted`);
  return { deliveryId, timestamp };
}
