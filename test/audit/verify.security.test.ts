// What someone with write access to the audit table might try, and what verifyAuditLog reports.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  auditRowHash,
  listAudit,
  recordAudit,
  sealAuditLog,
  verifyAuditLog,
} from '../../src/audit/audit-log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { decisionEntry, LEASE_B, resetAuditLog } from './audit-fixtures.js';

let database: TestDatabase;
let anchored: { seq: number; hash: string };

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(async () => {
  await resetAuditLog(database);
  await recordAudit(
    database.db,
    Array.from({ length: 10 }, (_, i) =>
      decisionEntry({ decision: i % 3 === 0 ? 'deny' : 'allow', policies: [`policy-${i}`] }),
    ),
  );
  await sealAuditLog(database.sql);
  const clean = await verifyAuditLog(database.sql);
  expect(clean).toMatchObject({ ok: true, checked: 10 });
  anchored = clean.head!;
});

async function idAt(seq: number): Promise<number> {
  const [row] = await database.sql<
    { id: number }[]
  >`select id::int as id from audit_events where seq = ${seq}`;
  return row!.id;
}

describe('verifyAuditLog detects tampering', () => {
  it('an edited decision, at the edited row', async () => {
    await database.sql`update audit_events set decision = 'allow' where seq = 4`;
    expect(await verifyAuditLog(database.sql)).toMatchObject({
      ok: false,
      checked: 3,
      head: { seq: 3 },
      firstBad: { seq: 4, id: await idAt(4), problem: "MAC does not match the row's content" },
    });
  });

  it('edited policies (a jsonb column), at the edited row', async () => {
    await database.sql`update audit_events set policies = '["policy-5","permit-everything"]'::jsonb where seq = 6`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({ seq: 6, problem: /content/ });
  });

  it('an edited time, even by one second', async () => {
    await database.sql`update audit_events set at = at + interval '1 second' where seq = 2`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({ seq: 2, problem: /content/ });
  });

  it('an edited time below the millisecond the hash covers', async () => {
    await database.sql`update audit_events set at = at + interval '1 microsecond' where seq = 2`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({
      seq: 2,
      problem: /sub-millisecond/,
    });
  });

  it('a deleted row, as a gap at the next seq', async () => {
    await database.sql`delete from audit_events where seq = 5`;
    expect(await verifyAuditLog(database.sql)).toMatchObject({
      ok: false,
      checked: 4,
      firstBad: { seq: 6, id: await idAt(6), problem: 'seq 5 missing: rows deleted or renumbered' },
    });
  });

  it('several deleted rows, naming the whole gap', async () => {
    await database.sql`delete from audit_events where seq between 3 and 5`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({
      seq: 6,
      problem: /^seq 3\.\.5 missing/,
    });
  });

  it('an edited hash, at the edited row', async () => {
    await database.sql`update audit_events set hash = ${'a'.repeat(64)} where seq = 7`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({ seq: 7, problem: /content/ });
  });

  it('a row rewritten with a recomputed (keyless) hash, at the rewritten row', async () => {
    const [row] = await database.sql<{ id: number; prev_hash: string }[]>`
      update audit_events set lease_id = ${LEASE_B} where seq = 5 returning id::int as id, prev_hash`;
    const { items } = await listAudit(database.db, { leaseId: LEASE_B });
    const forged = items.find((r) => r.id === row!.id)!;
    await database.sql`update audit_events set hash = ${auditRowHash(row!.prev_hash, forged)} where seq = 5`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({
      seq: 5,
      problem: "MAC does not match the row's content",
    });
  });

  it('a first row that no longer starts at the genesis hash', async () => {
    await database.sql`update audit_events set prev_hash = ${'1'.repeat(64)} where seq = 1`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({ seq: 1, problem: /genesis/ });
  });

  it('a row taken out of the chain by clearing its seq', async () => {
    await database.sql`update audit_events set seq = null where seq = 3`;
    expect(await verifyAuditLog(database.sql)).toMatchObject({
      ok: false,
      unsealed: 1,
      firstBad: { seq: 4, problem: /^seq 3 missing/ },
    });
  });

  it('a renumbered row', async () => {
    await database.sql`update audit_events set seq = 0 where seq = 1`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({ seq: 0, problem: /renumbered/ });
  });

  it('a sealed row whose hash was cleared', async () => {
    await database.sql`update audit_events set hash = null where seq = 8`;
    expect((await verifyAuditLog(database.sql)).firstBad).toMatchObject({
      seq: 8,
      problem: /no prev_hash or hash/,
    });
  });

  it('a deleted head only against a head hash anchored outside the database', async () => {
    await database.sql`delete from audit_events where seq = 10`;
    const result = await verifyAuditLog(database.sql);
    // The remaining chain is internally consistent: this is why the head must be anchored.
    expect(result.ok).toBe(true);
    const [atAnchor] = await database.sql`select hash from audit_events where seq = ${anchored.seq}`;
    expect(atAnchor).toBeUndefined();
    expect(result.head!.seq).toBeLessThan(anchored.seq);
  });

  it('finds the first bad row across pages', async () => {
    await database.sql`update audit_events set reasons = '["edited"]'::jsonb where seq = 9`;
    expect(await verifyAuditLog(database.sql, { pageSize: 2 })).toMatchObject({
      checked: 8,
      firstBad: { seq: 9 },
    });
  });
});
