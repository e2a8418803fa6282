// The staff's list of step-up requests refuses what it did not issue.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../../helpers/broker.js';
import { FORGED_CURSORS, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

describe('GET /v1/approvals', () => {
  it('refuses a cursor it did not issue, however it is forged', async () => {
    for (const cursor of FORGED_CURSORS) {
      const res = await t.request('GET', `/v1/approvals?cursor=${cursor}`, { token: staff });
      expect(res.status, `/v1/approvals ${Buffer.from(cursor, 'base64url').toString()}`).toBe(400);
      expect(res.body.errors).toEqual([{ field: 'cursor', message: 'not a cursor this API returned' }]);
    }
  });
});
