// What an attacker tries against the webhook endpoints, driven through the check every route runs.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { webhookDeliveries } from '../../src/db/schema/webhook-deliveries.js';
import { Problem } from '../../src/problem.js';
import { authenticateWebhook, type WebhookCall } from '../../src/webhooks/authenticate.js';
import { DELIVERY_RETENTION_SECONDS, pruneDeliveries } from '../../src/webhooks/delivery-store.js';
import { signWebhook } from '../../src/webhooks/signature.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const SECRET = 'whsec-test-0123456789abcdef';
const BODY = '{"task_id":"t-42","agent":"system:serviceaccount:reports:agent"}';

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

function call(overrides: Partial<WebhookCall> = {}): WebhookCall {
  return {
    signature: signWebhook(SECRET, BODY, clock.now()),
    deliveryId: 'evt-1',
    rawBody: BODY,
    ...overrides,
  };
}

const authenticate = (c: WebhookCall) =>
  authenticateWebhook(database.db, c, { secret: SECRET, now: clock.now() });

async function refused(c: WebhookCall): Promise<Problem> {
  const error = await authenticate(c).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(Problem);
  return error as Problem;
}

async function storedIds(): Promise<string[]> {
  return (await database.db.select().from(webhookDeliveries)).map((r) => r.deliveryId);
}

describe('authenticateWebhook', () => {
  it('accepts a signed call with a fresh delivery id', async () => {
    const t = Math.floor(clock.now().getTime() / 1000);
    expect(await authenticate(call())).toEqual({ deliveryId: 'evt-1', timestamp: t });
  });

  it('refuses the same call replayed with the same delivery id', async () => {
    const first = call();
    await authenticate(first);
    clock.advance(10);
    expect(await refused(first)).toMatchObject({ status: 401, type: 'replayed-delivery' });
  });

  it('refuses a captured call replayed under a new delivery id (the id is not signed)', async () => {
    const captured = call();
    await authenticate(captured);
    clock.advance(10);
    expect(await refused({ ...captured, deliveryId: 'evt-attacker' })).toMatchObject({
      status: 401,
      type: 'replayed-delivery',
    });
  });

  it('refuses a captured call replayed after its window, when its ids may be pruned', async () => {
    const captured = call();
    await authenticate(captured);
    clock.advance(DELIVERY_RETENTION_SECONDS + 1);
    await pruneDeliveries(database.db, new Date(clock.now().getTime() - DELIVERY_RETENTION_SECONDS * 1000));
    expect(await storedIds()).toEqual([]);
    expect(await refused(captured)).toMatchObject({ status: 401, type: 'invalid-signature' });
  });

  it('accepts a new signed call reusing the body under a new timestamp and delivery id (a retry)', async () => {
    await authenticate(call());
    clock.advance(1);
    expect(await authenticate(call({ deliveryId: 'evt-2' }))).toMatchObject({ deliveryId: 'evt-2' });
  });

  it('does not let an unsigned caller burn delivery ids', async () => {
    const forged = await refused(call({ signature: signWebhook('guessed-secret-00000', BODY, clock.now()) }));
    expect(forged).toMatchObject({ status: 401, type: 'invalid-signature' });
    expect(await storedIds()).toEqual([]);
    expect(await authenticate(call())).toMatchObject({ deliveryId: 'evt-1' });
  });

  it('does not record the delivery id of a refused replay', async () => {
    await authenticate(call());
    await refused(call({ deliveryId: 'evt-attacker' }));
    expect((await storedIds()).filter((id) => id.startsWith('evt'))).toEqual(['evt-1']);
  });

  it('refuses a signed call without a delivery id with 400, after checking the signature', async () => {
    expect(await refused(call({ deliveryId: undefined }))).toMatchObject({ status: 400 });
    expect(await refused(call({ deliveryId: undefined, signature: undefined }))).toMatchObject({
      status: 401,
    });
  });

  it('refuses a stale call with 401 even when its delivery id is new', async () => {
    const old = call();
    clock.advance(301);
    expect(await refused({ ...old, deliveryId: 'evt-new' })).toMatchObject({
      status: 401,
      detail: 'signature timestamp is 301 s old (tolerance 300 s)',
    });
  });
});
