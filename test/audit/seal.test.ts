import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AUDIT_SEAL_LOCK_KEY,
  auditRowHash,
  GENESIS_HASH,
  keyedChainHash,
  recordAudit,
  sealAuditLog,
  verifyAuditLog,
} from '../../src/audit/audit-log.js';
import { auditColumns, parseAuditRows } from '../../src/audit/audit-rows.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { decisionEntry, deferred, resetAuditLog, TEST_AUDIT_KEYS } from './audit-fixtures.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(async () => {
  await resetAuditLog(database);
});

async function chain(): Promise<
  { id: number; seq: number | null; prev_hash: string | null; hash: string | null }[]
> {
  return database.sql`select id::int as id, seq::int as seq, prev_hash, hash from audit_events order by seq nulls last, id`;
}

describe('sealAuditLog', () => {
  it('links unsealed rows into a chain that starts at the genesis hash and verifies', async () => {
    await recordAudit(database.db, [
      decisionEntry(),
      decisionEntry({ event: 'lease.issued' }),
      decisionEntry(),
    ]);
    expect(await sealAuditLog(database.sql)).toBe(3);

    const rows = await chain();
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(rows[1]!.prev_hash).toBe(rows[0]!.hash);
    expect(rows[2]!.prev_hash).toBe(rows[1]!.hash);
    expect(await verifyAuditLog(database.sql)).toEqual({
      ok: true,
      checked: 3,
      unsealed: 0,
      refused: 0,
      head: { seq: 3, hash: rows[2]!.hash },
    });
  });

  it('produces keyed hashes that whoever holds the chain key can recompute from the stored rows', async () => {
    await recordAudit(database.db, [
      decisionEntry(),
      decisionEntry({ intent: { z: [1, { b: 2, a: 1 }], a: 'x' } }),
    ]);
    await sealAuditLog(database.sql);
    const [first, second] = parseAuditRows(
      await database.sql`select ${auditColumns(database.sql)} from audit_events a order by a.seq`,
    );
    const { chainKey } = TEST_AUDIT_KEYS;
    expect(first!.hash).toBe(keyedChainHash(chainKey, GENESIS_HASH, first!, first!.mac!));
    expect(second!.hash).toBe(keyedChainHash(chainKey, first!.hash!, second!, second!.mac!));
    // The keyless hash of the same rows is not what the chain holds.
    expect(first!.hash).not.toBe(auditRowHash(GENESIS_HASH, first!));
  });

  it('returns 0 when there is nothing to seal', async () => {
    expect(await sealAuditLog(database.sql)).toBe(0);
    expect(await verifyAuditLog(database.sql)).toEqual({
      ok: true,
      checked: 0,
      unsealed: 0,
      refused: 0,
      head: null,
    });
  });

  it('seals at most batchSize rows per call and continues the chain on the next call', async () => {
    await recordAudit(
      database.db,
      Array.from({ length: 7 }, () => decisionEntry()),
    );
    expect(await sealAuditLog(database.sql, { batchSize: 3 })).toBe(3);
    expect(await verifyAuditLog(database.sql)).toMatchObject({ ok: true, checked: 3, unsealed: 4 });
    expect(await sealAuditLog(database.sql, { batchSize: 3 })).toBe(3);
    expect(await sealAuditLog(database.sql, { batchSize: 3 })).toBe(1);
    expect(await verifyAuditLog(database.sql, { pageSize: 2 })).toMatchObject({
      ok: true,
      checked: 7,
      unsealed: 0,
    });
  });

  it('seals 500 rows inserted by concurrent transactions into one gap-free chain', async () => {
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        database.db.transaction(async (tx) => {
          await recordAudit(tx, decisionEntry({ requestId: `concurrent-${i}` }));
        }),
      ),
    );
    expect(await sealAuditLog(database.sql)).toBe(500);
    const result = await verifyAuditLog(database.sql, { pageSize: 64 });
    expect(result).toMatchObject({ ok: true, checked: 500, unsealed: 0, head: { seq: 500 } });
    const rows = await chain();
    expect(new Set(rows.map((r) => r.seq)).size).toBe(500);
  });

  it('gives a lower id that commits late the next seq, and the chain still verifies', async () => {
    const inserted = deferred();
    const release = deferred();
    const slow = database.db.transaction(async (tx) => {
      await recordAudit(tx, decisionEntry({ event: 'slow' }));
      inserted.resolve();
      await release.promise;
    });
    await inserted.promise;
    await recordAudit(database.db, [decisionEntry(), decisionEntry()]);

    expect(await sealAuditLog(database.sql)).toBe(2);
    release.resolve();
    await slow;
    expect(await sealAuditLog(database.sql)).toBe(1);

    const rows = await chain();
    expect(rows.map((r) => [r.id, r.seq])).toEqual([
      [2, 1],
      [3, 2],
      [1, 3],
    ]);
    expect(await verifyAuditLog(database.sql)).toMatchObject({ ok: true, checked: 3, unsealed: 0 });
  });

  it('returns 0 at once while another replica holds the sealing lock', async () => {
    await recordAudit(database.db, [decisionEntry(), decisionEntry()]);
    const whileLocked = await database.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${AUDIT_SEAL_LOCK_KEY.toString()}::bigint)`;
      return sealAuditLog(database.sql);
    });
    expect(whileLocked).toBe(0);
    expect(await sealAuditLog(database.sql)).toBe(2);
  });

  it('never assigns a seq twice when sealers race each other and concurrent inserts', async () => {
    let inserting = true;
    let sealed = 0;
    const sealer = async () => {
      while (inserting) sealed += await sealAuditLog(database.sql, { batchSize: 7 });
    };
    const inserts = Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        database.db.transaction(async (tx) => {
          await recordAudit(tx, [
            decisionEntry({ requestId: `race-${i}` }),
            decisionEntry({ event: 'lease.issued' }),
          ]);
        }),
      ),
    ).finally(() => {
      inserting = false;
    });
    const concurrent = await Promise.all([
      sealAuditLog(database.sql),
      sealAuditLog(database.sql),
      sealAuditLog(database.sql),
    ]);
    await Promise.all([inserts, sealer(), sealer(), sealer()]);
    sealed += concurrent.reduce((a, b) => a + b, 0);
    for (;;) {
      const more = await sealAuditLog(database.sql);
      if (more === 0) break;
      sealed += more;
    }

    expect(sealed).toBe(600);
    const rows = await chain();
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    expect(await verifyAuditLog(database.sql)).toMatchObject({ ok: true, checked: 600, unsealed: 0 });
  });

  it('refuses to extend a chain whose head has lost its hash', async () => {
    await recordAudit(database.db, decisionEntry());
    await sealAuditLog(database.sql);
    await database.sql`update audit_events set hash = null where seq = 1`;
    await recordAudit(database.db, decisionEntry());
    await expect(sealAuditLog(database.sql)).rejects.toThrow(/head \(seq 1\) has no hash/);
  });

  it('rejects a batch size outside 1..10000', async () => {
    await expect(sealAuditLog(database.sql, { batchSize: 0 })).rejects.toThrow(RangeError);
  });
});
