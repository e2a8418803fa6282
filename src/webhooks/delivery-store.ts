// Replay protection for inbound webhooks: every accepted delivery id is inserted into
// webhook_deliveries, whose primary key refuses the same id twice on any replica. Ids are kept
// at least twice the signature window, so a replay is always either stale or recognised.
import { sql, TransactionRollbackError } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { webhookDeliveries } from '../db/schema/webhook-deliveries.js';
import { DEFAULT_TOLERANCE_SECONDS } from './signature.js';
import { badDeliveryId } from './webhook-problems.js';

/** How long accepted delivery ids are kept: twice the default signature window. */
export const DELIVERY_RETENTION_SECONDS = 2 * DEFAULT_TOLERANCE_SECONDS;

const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/** Validates an X-Broker-Delivery header value; a missing or malformed id is a 400. */
export function parseDeliveryId(value: string | null | undefined): string {
  if (value === undefined || value === null || value === '') throw badDeliveryId('header is required');
  if (!DELIVERY_ID.test(value)) throw badDeliveryId('must be 1-200 characters of A-Z a-z 0-9 . _ : -');
  return value;
}

/**
 * Inserts every key or none (a savepoint when `db` is a transaction). Returns false when any key
 * was already present: a replay. Call it inside the transaction that acts on the webhook, so a
 * failed action releases the claim and the sender's retry is accepted.
 */
export async function claimReplayKeys(db: DbOrTx, keys: readonly string[], now: Date): Promise<boolean> {
  const rows = keys.map((deliveryId) => ({ deliveryId, receivedAt: now }));
  try {
    return await db.transaction(async (tx) => {
      const inserted = await tx
        .insert(webhookDeliveries)
        .values(rows)
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.deliveryId });
      if (inserted.length !== rows.length) tx.rollback();
      return true;
    });
  } catch (error) {
    if (error instanceof TransactionRollbackError) return false;
    throw error;
  }
}

/** Records a delivery id; false when it was seen before (a replay, to be refused with 401). */
export async function claimDelivery(
  db: DbOrTx,
  deliveryId: string | null | undefined,
  now: Date,
): Promise<boolean> {
  return claimReplayKeys(db, [parseDeliveryId(deliveryId)], now);
}

/**
 * Deletes at most `batch` ids received before `olderThan` (keep at least DELIVERY_RETENTION_SECONDS).
 * Returns rows deleted; the sweeper calls it again while a batch comes back full.
 */
export async function pruneDeliveries(db: DbOrTx, olderThan: Date, batch = 1000): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    with old as (
      select delivery_id from ${webhookDeliveries}
      where received_at < ${olderThan.toISOString()}::timestamptz
      limit ${batch} for update skip locked
    ), gone as (
      delete from ${webhookDeliveries} w using old where w.delivery_id = old.delivery_id returning 1
    )
    select count(*)::int as n from gone`);
  return rows[0]?.n ?? 0;
}
