import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type AuditRecord,
  auditInsert,
  encodeAuditCursor,
  listAudit,
  recordAudit,
  sealAuditLog,
} from '../../src/audit/audit-log.js';
import { Problem } from '../../src/problem.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { decisionEntry, LEASE_A, LEASE_B, resetAuditLog } from './audit-fixtures.js';

let database: TestDatabase;

const t = (minute: number) => new Date(Date.UTC(2025, 2, 1, 10, minute, 0, 250));

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(async () => {
  await resetAuditLog(database);
  await recordAudit(database.db, [
    decisionEntry({ at: t(0), agent: 'agent-1', leaseId: LEASE_A }),
    decisionEntry({ at: t(1), agent: 'agent-2', leaseId: LEASE_B }),
    decisionEntry({ at: t(2), agent: 'agent-1', leaseId: LEASE_A, event: 'lease.issued' }),
    decisionEntry({ at: t(3), agent: 'agent-1', agentIssuer: 'github-actions', leaseId: null }),
    decisionEntry({ at: t(4), agent: 'agent-2', leaseId: LEASE_B, event: 'lease.revoked' }),
  ]);
});

async function refused(promise: Promise<unknown>): Promise<Problem> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Problem);
  return error as Problem;
}

describe('listAudit', () => {
  it('returns records newest first in the API shape, with seq and hash once sealed', async () => {
    const before = await listAudit(database.db);
    expect(before.items.map((r) => r.id)).toEqual([5, 4, 3, 2, 1]);
    expect(before.nextCursor).toBeNull();
    expect(before.items[0]).toMatchObject({ seq: null, hash: null });

    await sealAuditLog(database.sql);
    const [newest] = (await listAudit(database.db)).items;
    const expected: AuditRecord = {
      id: 5,
      at: '2025-03-01T10:04:00.250Z',
      event: 'lease.revoked',
      request_id: expect.any(String) as unknown as string,
      agent: 'agent-2',
      agent_issuer: 'k8s-prod',
      on_behalf_of: { sub: 'alice', issuer: 'https://sso.example.com' },
      actor: 'agent:system:serviceaccount:reports:agent',
      lease_id: LEASE_B,
      template: 'reports-api',
      intent: expect.objectContaining({ purpose: 'monthly report' }) as unknown as Record<string, unknown>,
      decision: 'allow',
      policies: ['permit-reports-read'],
      reasons: [],
      policy_version: 'sha256:0f1e2d',
      detail: { action: 'mint', nested: { z: 1, a: [true, null, 'x'] } },
      seq: 5,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown as string,
    };
    expect(newest).toEqual(expected);
  });

  it('filters by lease, by agent (and issuer) and by time', async () => {
    expect((await listAudit(database.db, { leaseId: LEASE_A })).items.map((r) => r.id)).toEqual([3, 1]);
    expect((await listAudit(database.db, { leaseId: LEASE_A.toUpperCase() })).items.map((r) => r.id)).toEqual(
      [3, 1],
    );
    expect((await listAudit(database.db, { agent: 'agent-1' })).items.map((r) => r.id)).toEqual([4, 3, 1]);
    expect(
      (await listAudit(database.db, { agent: 'agent-1', agentIssuer: 'k8s-prod' })).items.map((r) => r.id),
    ).toEqual([3, 1]);
    expect((await listAudit(database.db, { since: t(2) })).items.map((r) => r.id)).toEqual([5, 4, 3]);
    expect((await listAudit(database.db, { agent: 'agent-2', since: t(2) })).items.map((r) => r.id)).toEqual([
      5,
    ]);
    expect((await listAudit(database.db, { agent: 'nobody' })).items).toEqual([]);
  });

  it('pages through every record exactly once with the cursor', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listAudit(database.db, { limit: 2, cursor });
      seen.push(...page.items.map((r) => r.id));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);
  });

  it('keeps filters across pages and ends with a null cursor', async () => {
    const first = await listAudit(database.db, { agent: 'agent-1', limit: 2 });
    expect(first.items.map((r) => r.id)).toEqual([4, 3]);
    const second = await listAudit(database.db, { agent: 'agent-1', limit: 2, cursor: first.nextCursor! });
    expect(second).toMatchObject({ items: [{ id: 1 }], nextCursor: null });
  });

  it('does not skip rows written while a client is paging', async () => {
    const first = await listAudit(database.db, { limit: 3 });
    await recordAudit(database.db, decisionEntry({ at: t(9) }));
    const second = await listAudit(database.db, { limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((r) => r.id)).toEqual([2, 1]);
    expect((await listAudit(database.db, { limit: 1 })).items[0]!.id).toBe(6);
  });

  it('refuses a cursor it did not issue', async () => {
    for (const cursor of [
      'not a cursor',
      '',
      encodeAuditCursor(0),
      Buffer.from('-1').toString('base64url'),
      'MQ==',
    ]) {
      const problem = await refused(listAudit(database.db, { cursor }));
      expect(problem).toMatchObject({ status: 400, errors: [{ field: 'cursor' }] });
    }
  });

  it('refuses a page size over 500 or below 1, a malformed lease id and an invalid date', async () => {
    expect(await refused(listAudit(database.db, { limit: 501 }))).toMatchObject({
      status: 400,
      errors: [{ field: 'limit' }],
    });
    expect(await refused(listAudit(database.db, { limit: 0 }))).toMatchObject({ status: 400 });
    expect(await refused(listAudit(database.db, { leaseId: "x' or 1=1 --" }))).toMatchObject({
      status: 400,
      errors: [{ field: 'lease_id' }],
    });
    expect(await refused(listAudit(database.db, { since: new Date('nope') }))).toMatchObject({
      status: 400,
      errors: [{ field: 'since' }],
    });
    expect((await listAudit(database.db, { limit: 500 })).items).toHaveLength(5);
  });
});

describe('listAudit with after_seq (export order)', () => {
  it('returns only sealed rows, oldest first, and pages on with next_after_seq', async () => {
    expect(await listAudit(database.db, { afterSeq: 0 })).toEqual({
      items: [],
      nextCursor: null,
      nextAfterSeq: 0,
    });
    await sealAuditLog(database.sql);
    const first = await listAudit(database.db, { afterSeq: 0, limit: 2 });
    expect(first.items.map((r) => r.seq)).toEqual([1, 2]);
    expect(first.nextAfterSeq).toBe(2);
    const rest = await listAudit(database.db, { afterSeq: 2, limit: 10 });
    expect(rest.items.map((r) => r.seq)).toEqual([3, 4, 5]);
    expect((await listAudit(database.db, { afterSeq: 5 })).nextAfterSeq).toBe(5);
    // Filters still apply.
    const agent1 = await listAudit(database.db, { afterSeq: 0, agent: 'agent-1' });
    expect(agent1.items.every((r) => r.agent === 'agent-1')).toBe(true);
    expect(agent1.items.map((r) => r.seq)).toEqual(
      [...agent1.items.map((r) => r.seq)].sort((a, b) => a! - b!),
    );
  });

  it('misses no row that commits late: a reader that continues from its last seq sees it', async () => {
    await sealAuditLog(database.sql);
    let afterSeq = (await listAudit(database.db, { afterSeq: 0, limit: 500 })).nextAfterSeq!;

    // A transaction takes an id, then commits after a later row has been sealed.
    const conn = await database.sql.reserve();
    try {
      await conn`begin`;
      // Written as the broker writes rows (with a MAC), on a connection that commits later.
      await conn`${auditInsert(conn, [decisionEntry({ at: t(1), agent: 'agent-late' })])}`;
      await recordAudit(database.db, decisionEntry({ at: t(10), agent: 'agent-after' }));
      await sealAuditLog(database.sql);

      // The reader gets agent-after; the late row is not visible yet.
      const seen = await listAudit(database.db, { afterSeq, limit: 500 });
      expect(seen.items.map((r) => r.agent)).toEqual(['agent-after']);
      afterSeq = seen.nextAfterSeq!;
      await conn`commit`;
    } finally {
      conn.release();
    }
    await sealAuditLog(database.sql);
    const next = await listAudit(database.db, { afterSeq, limit: 500 });
    expect(next.items.map((r) => r.agent)).toEqual(['agent-late']);
    // Its id is lower than agent-after's: a newest-first reader that had paged past agent-after
    // by id would not have come back for it.
    const ids = Object.fromEntries(
      (await listAudit(database.db, { limit: 500 })).items.map((r) => [r.agent, r.id] as const),
    );
    expect(ids['agent-late']!).toBeLessThan(ids['agent-after']!);
  });

  it('refuses a negative after_seq, and after_seq with a cursor', async () => {
    expect(await refused(listAudit(database.db, { afterSeq: -1 }))).toMatchObject({
      status: 400,
      errors: [{ field: 'after_seq' }],
    });
    expect(
      await refused(listAudit(database.db, { afterSeq: 0, cursor: encodeAuditCursor(3) })),
    ).toMatchObject({
      status: 400,
      errors: [{ field: 'cursor' }],
    });
  });
});
