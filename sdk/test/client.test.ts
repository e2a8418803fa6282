// The SDK against a real broker process: typed results, problems as typed errors, the step-up
// wait, renew/revoke/complete, introspection, and withTask()'s renew-then-complete contract.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type CliBroker, introspect, leaseRow, startCliBroker } from '../../test/helpers/cli-broker.js';
import {
  ApprovalDeniedError,
  ApprovalRequiredError,
  DeniedError,
  fileToken,
  InvalidRequestError,
  JitBroker,
  JitBrokerStaff,
  NotFoundError,
  NoWorkloadTokenError,
  type TaskSpec,
  UnauthorizedError,
  withTask,
  workloadToken,
} from '../src/index.js';

let t: CliBroker;
let broker: JitBroker;
let staff: JitBrokerStaff;
beforeAll(async () => {
  t = await startCliBroker();
  // A function source: a fresh token for every request, as a file source would give.
  broker = new JitBroker({ url: t.url, token: () => t.agentToken() });
  staff = new JitBrokerStaff({ url: t.url, staffToken: () => t.staffToken() });
});
afterAll(async () => {
  await t?.close();
});

let n = 0;
const spec = (overrides: Partial<TaskSpec> = {}): TaskSpec => ({
  template: 'reports-api',
  taskId: `sdk-${Date.now()}-${n++}`,
  purpose: 'sdk test',
  actions: ['reports:read'],
  ...overrides,
});

describe('JitBroker', () => {
  test('mint → lease → renew → revoke, with the API shapes', async () => {
    const issued = await broker.mint(spec({ ttlSeconds: 60 }));
    expect(issued.credential.type).toBe('jwt');
    if (issued.credential.type !== 'jwt') throw new Error('unreachable');
    expect((await introspect(t, issued.credential.token)).active).toBe(true);
    expect(await broker.lease(issued.lease_id)).toMatchObject({ state: 'active', template: 'reports-api' });
    const renewed = await broker.renew(issued.lease_id, { ttlSeconds: 120 });
    expect(new Date(renewed.expires_at).getTime()).toBeGreaterThan(new Date(issued.expires_at).getTime());
    expect((await broker.revoke(issued.lease_id)).state).toBe('revoked');
    expect(await broker.introspect(issued.credential.token)).toEqual({ active: false });
  });

  test('completeTask revokes every lease of the task', async () => {
    const s = spec();
    const a = await broker.mint(s);
    const b = await broker.mint(s);
    const done = await broker.completeTask(s.taskId);
    expect(done.revoked.sort()).toEqual([a.lease_id, b.lease_id].sort());
  });

  test('a policy denial is a DeniedError carrying the deciding policies and reasons', async () => {
    const error = await broker.mint(spec({ actions: ['reports:export'] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeniedError);
    expect(error).toMatchObject({ status: 403, policies: ['forbid-unattended-export'] });
    expect((error as DeniedError).reasons.length).toBeGreaterThan(0);
  });

  test('a bad token is an UnauthorizedError, a foreign lease a NotFoundError, bad input an InvalidRequestError', async () => {
    const forged = new JitBroker({ url: t.url, token: 'not-a-jwt' });
    await expect(forged.mint(spec())).rejects.toBeInstanceOf(UnauthorizedError);
    const mine = await broker.mint(spec());
    const other = new JitBroker({ url: t.url, token: await t.agentToken('agent-someone-else') });
    await expect(other.lease(mine.lease_id)).rejects.toBeInstanceOf(NotFoundError);
    const invalid = await broker.mint(spec({ taskId: 'has spaces' })).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect((invalid as InvalidRequestError).errors.length).toBeGreaterThan(0);
  });

  test('a step-up: ApprovalRequiredError without wait; with wait, the credential once staff approves', async () => {
    const first = await broker
      .mint(spec({ template: 'reports-admin', actions: ['reports:admin'] }))
      .catch((e: unknown) => e);
    expect(first).toBeInstanceOf(ApprovalRequiredError);
    const { approvalId } = first as ApprovalRequiredError;
    expect((await staff.listApprovals({ status: 'pending' })).items.map((a) => a.approval_id)).toContain(
      approvalId,
    );

    const pending: string[] = [];
    const waiting = broker.waitForApproval(approvalId, { onPending: (p) => pending.push(p.approval_id) });
    await staff.approve(approvalId, 'ticket 9');
    const issued = await waiting;
    expect(issued.credential.type).toBe('jwt');
    expect(pending[0]).toBe(approvalId);
  });

  test("a denied step-up is an ApprovalDeniedError with the reviewer's reason", async () => {
    const s = spec({ template: 'reports-admin', actions: ['reports:admin'] });
    let told!: (id: string) => void;
    const pending = new Promise<string>((resolve) => {
      told = resolve;
    });
    const waiting = broker
      .mint(s, { wait: true, onPending: (p) => told(p.approval_id) })
      .catch((e: unknown) => e);
    const approvalId = await pending;
    await staff.deny(approvalId, 'not during the freeze');
    const error = await waiting;
    expect(error).toBeInstanceOf(ApprovalDeniedError);
    expect((error as ApprovalDeniedError).reasons).toEqual(['not during the freeze']);
  });

  test('exchange: RFC 8693 at POST /v1/token, a resource-bound token on a lease', async () => {
    const s = spec();
    const token = await broker.exchange({
      resource: 'https://reports.internal',
      intent: { taskId: s.taskId, purpose: 'sdk exchange', actions: ['reports:read'] },
      clientId: 'sdk-test',
    });
    expect(token).toMatchObject({ token_type: 'Bearer', task_id: s.taskId, scope: 'reports:read' });
    expect(await introspect(t, token.access_token)).toMatchObject({
      active: true,
      aud: 'https://reports.internal',
      task_id: s.taskId,
    });
    expect((await leaseRow(t, token.lease_id))?.state).toBe('active');
  });
});

describe('withTask', () => {
  test('renews while the callback runs and completes the task afterwards', async () => {
    const s = spec({ template: 'short-api', actions: ['short:read'] });
    const tokens = new Set<string>();
    let leaseId = '';
    let renewedThrice!: () => void;
    const thrice = new Promise<void>((resolve) => {
      renewedThrice = resolve;
    });
    let renewals = 0;
    const onRenewed = () => {
      if (++renewals === 3) renewedThrice();
    };
    const result = await withTask(
      broker,
      s,
      async (cred) => {
        leaseId = cred.leaseId;
        if (cred.credential.type === 'jwt') tokens.add(cred.credential.token);
        // Three renewals, each a fresh token: well past the first 3 s lease.
        await thrice;
        if (cred.credential.type !== 'jwt') throw new Error('unreachable');
        tokens.add(cred.credential.token);
        expect(Date.now()).toBeGreaterThan(new Date(cred.issued.expires_at).getTime());
        expect((await introspect(t, cred.credential.token)).active).toBe(true);
        return 'done';
      },
      { onRenewed },
    );
    expect(result).toBe('done');
    expect(tokens.size).toBe(2);
    expect((await leaseRow(t, leaseId))?.state).toBe('revoked');
  });

  test('completes the task when the callback throws, and rethrows', async () => {
    const s = spec();
    let token = '';
    const error = await withTask(broker, s, async (cred) => {
      if (cred.credential.type === 'jwt') token = cred.credential.token;
      throw new Error('the job failed');
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('the job failed');
    expect(await introspect(t, token)).toEqual({ active: false });
  });
});

describe('workload token sources', () => {
  test('a file source is read again on every call', async () => {
    const file = path.join(t.dir, 'rotating-token');
    await writeFile(file, 'first\n');
    const source = fileToken(file);
    expect(await source()).toBe('first');
    await writeFile(file, 'second');
    expect(await source()).toBe('second');
  });

  test('no source: NoWorkloadTokenError naming the file, the variable and GitHub Actions', () => {
    expect(() => workloadToken({})).toThrow(NoWorkloadTokenError);
    expect(() => workloadToken({})).toThrow(
      /JIT_TOKEN_FILE.*JIT_WORKLOAD_TOKEN.*ACTIONS_ID_TOKEN_REQUEST_URL/,
    );
  });
});
