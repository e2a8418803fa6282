// The staff's audit trail refuses a forged cursor and a bad lease id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../../helpers/broker.js';
import { startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

describe('GET /v1/audit', () => {
  it('refuses a forged cursor and a bad lease id', async () => {
    expect((await t.request('GET', '/v1/audit?cursor=zzzz', { token: staff })).status).toBe(400);
    expect((await t.request('GET', '/v1/audit?lease_id=1%20or%201=1', { token: staff })).status).toBe(400);
  });
});
