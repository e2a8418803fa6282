// Agents on the staff's lease API: a valid workload token is refused 403 and changes nothing, no
// token or an untrusted one 401.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBroker } from '../../helpers/broker.js';
import { runCommonAuthTests } from '../../helpers/common-auth.js';
import { staffCalls, startStaffApiBroker } from '../../helpers/staff-api.js';

let t: TestBroker;
let staff: string;
beforeAll(async () => {
  ({ t, staff } = await startStaffApiBroker());
});
afterAll(async () => t?.close());

const { mint, introspect } = staffCalls(() => ({ t, staff }));

describe('agents on the staff API', () => {
  // Needs staffAuth in src/http/middleware/auth.ts to answer a valid workload token with 403, as
  // the approval routes do (app.ts attaches it to these paths before the routes run).
  it('are refused 403 on the bulk revoke route with a valid workload token, and change nothing', async () => {
    const lease = await mint('agent-overreach', 't-overreach');
    const token = await t.agentToken('agent-overreach');
    for (const [method, path, body] of [
      ['POST', '/v1/leases/revoke', { agent: 'agent-bystander', reason: 'I can' }],
    ] as const) {
      const res = await t.request(method, path, { token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.type, `${method} ${path}`).toBe('urn:jit-broker:problem:forbidden');
    }
    expect((await introspect(lease.credential.token)).active).toBe(true);
  });

  it('are refused 401 with no token or a token from no trusted issuer', async () => {
    const forged = await t.issuer.sign({ sub: 'x', aud: 'somewhere-else' });
    expect((await t.request('GET', '/v1/leases')).status, '/v1/leases').toBe(401);
    expect((await t.request('GET', '/v1/leases', { token: forged })).status, '/v1/leases').toBe(401);
  });
});

runCommonAuthTests({
  method: 'GET',
  path: '/v1/leases',
  kind: 'staff',
  agentsAllowed: true,
  broker: () => t,
});
runCommonAuthTests({
  method: 'POST',
  path: '/v1/leases/revoke',
  kind: 'staff',
  body: { agent: 'agent-bystander', reason: 'drill' },
  broker: () => t,
});
