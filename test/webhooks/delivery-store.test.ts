import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { webhookDeliveries } from '../../src/db/schema/webhook-deliveries.js';
import { Problem } from '../../src/problem.js';
import {
  claimDelivery,
  DELIVERY_RETENTION_SECONDS,
  parseDeliveryId,
  pruneDeliveries,
} from '../../src/webhooks/delivery-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let clock: ManualClock;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(async () => {
  await database.sql`truncate webhook_deliveries`;
  clock = new ManualClock(new Date('2025-06-01T12:00:00Z'));
});

describe('claimDelivery', () => {
  it('accepts a delivery id once and refuses it as a replay afterwards', async () => {
    expect(await claimDelivery(database.db, 'evt_01J9Z.anomaly:1-a', clock.now())).toBe(true);
    clock.advance(5);
    expect(await claimDelivery(database.db, 'evt_01J9Z.anomaly:1-a', clock.now())).toBe(false);
    expect(await claimDelivery(database.db, 'evt_01J9Z.anomaly:1-b', clock.now())).toBe(true);
  });

  it('lets exactly one of many concurrent claims of the same id win', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => claimDelivery(database.db, 'evt-race', clock.now())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('releases the claim when the transaction acting on the webhook rolls back', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        expect(await claimDelivery(tx, 'evt-rollback', clock.now())).toBe(true);
        throw new Error('revocation failed');
      }),
    ).rejects.toThrow('revocation failed');
    expect(await claimDelivery(database.db, 'evt-rollback', clock.now())).toBe(true);
  });

  it('reports a replay inside a transaction without aborting it', async () => {
    await claimDelivery(database.db, 'evt-seen', clock.now());
    await database.db.transaction(async (tx) => {
      expect(await claimDelivery(tx, 'evt-seen', clock.now())).toBe(false);
      expect(await claimDelivery(tx, 'evt-new', clock.now())).toBe(true);
    });
    const ids = (await database.db.select().from(webhookDeliveries)).map((r) => r.deliveryId).sort();
    expect(ids).toEqual(['evt-new', 'evt-seen']);
  });

  it.each([
    ['missing', undefined, /required/],
    ['empty', '', /required/],
    ['too long', 'a'.repeat(201), /1-200 characters/],
    ['with a space', 'evt 1', /1-200 characters/],
    ['with a slash', 'msg/abc', /1-200 characters/],
    ['with a quote', "evt'; drop table leases; --", /1-200 characters/],
    ['with non-ASCII', 'évt', /1-200 characters/],
  ])('refuses a %s delivery id with 400', async (_name, id, detail) => {
    const error = await claimDelivery(database.db, id, clock.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Problem);
    expect(error).toMatchObject({ status: 400, errors: [{ field: 'headers.x-broker-delivery' }] });
    expect((error as Problem).detail).toMatch(detail);
  });

  it('accepts an id of exactly 200 allowed characters', () => {
    expect(parseDeliveryId('A'.repeat(200))).toBe('A'.repeat(200));
  });
});

describe('pruneDeliveries', () => {
  it('deletes ids older than the cutoff and keeps the rest', async () => {
    await claimDelivery(database.db, 'old-1', clock.now());
    await claimDelivery(database.db, 'old-2', clock.now());
    clock.advance(DELIVERY_RETENTION_SECONDS);
    await claimDelivery(database.db, 'recent', clock.now());
    clock.advance(1);

    const cutoff = new Date(clock.now().getTime() - DELIVERY_RETENTION_SECONDS * 1000);
    expect(await pruneDeliveries(database.db, cutoff)).toBe(2);
    expect(await pruneDeliveries(database.db, cutoff)).toBe(0);
    expect(await claimDelivery(database.db, 'recent', clock.now())).toBe(false);
  });

  it('keeps ids for twice the 300 s signature window', () => {
    expect(DELIVERY_RETENTION_SECONDS).toBe(600);
  });
});
