// Walks the sealed audit chain in seq order and recomputes every link. Detects edited content,
// edited hashes, deleted or renumbered rows inside the chain; a truncated head is only visible
// against a head hash anchored outside the database (see docs/audit.md).
import type postgres from 'postgres';
import { auditRowHash, GENESIS_HASH } from './audit-hash.js';
import { auditColumns, parseAuditRows, type StoredAuditRow } from './audit-rows.js';

export interface AuditVerification {
  ok: boolean;
  /** Sealed rows that verified, in seq order (up to the first bad one). */
  checked: number;
  /** Rows not yet sealed (the sweeper seals them on its next tick). */
  unsealed: number;
  /** The last row that verified: anchor this {seq, hash} outside the database. */
  head: { seq: number; hash: string } | null;
  /** The first row where the walk failed. */
  firstBad?: { seq: number; id: number; problem: string };
}

export interface VerifyOptions {
  /** Rows read per query (default 1000). */
  pageSize?: number;
}

/** Returns why `row` does not continue a chain whose last verified row has `expectedSeq - 1` and `prev`. */
function checkRow(
  row: StoredAuditRow & { seq: number },
  expectedSeq: number,
  prev: string,
): string | undefined {
  if (row.seq !== expectedSeq) {
    return row.seq > expectedSeq
      ? `seq ${expectedSeq}${row.seq - 1 > expectedSeq ? `..${row.seq - 1}` : ''} missing: rows deleted or renumbered`
      : `seq ${row.seq} where ${expectedSeq} was expected: chain renumbered`;
  }
  if (row.prev_hash === null || row.hash === null) return 'sealed row has no prev_hash or hash';
  if (row.prev_hash !== prev) {
    return expectedSeq === 1
      ? 'prev_hash of the first row is not the genesis hash'
      : `prev_hash does not match the hash of seq ${expectedSeq - 1}`;
  }
  if (auditRowHash(row.prev_hash, row) !== row.hash) return "hash does not match the row's content";
  if (row.sub_ms) return 'at has sub-millisecond precision that the hash does not cover';
  return undefined;
}

export async function verifyAuditLog(
  sql: postgres.Sql,
  opts: VerifyOptions = {},
): Promise<AuditVerification> {
  const pageSize = opts.pageSize ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new RangeError(`verifyAuditLog: pageSize must be a positive integer, got ${pageSize}`);
  }
  // One snapshot for the whole walk: rows sealed meanwhile are neither half-seen nor counted twice.
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const [count] = await tx<{ unsealed: number }[]>`
      select count(*)::int as unsealed from audit_events where seq is null`;
    const unsealed = count?.unsealed ?? 0;

    let head: AuditVerification['head'] = null;
    let prev = GENESIS_HASH;
    let checked = 0;
    // Keyset pagination on the unique seq index; the first page has no lower bound so a row
    // renumbered to zero or below is still seen.
    let after: number | null = null;
    for (;;) {
      const cursor = after === null ? tx`` : tx`and a.seq > ${String(after)}::bigint`;
      const page = parseAuditRows(
        await tx`select ${auditColumns(tx)} from audit_events a
                 where a.seq is not null ${cursor} order by a.seq limit ${pageSize}`,
      ) as (StoredAuditRow & { seq: number })[];
      for (const row of page) {
        const problem = checkRow(row, checked + 1, prev);
        if (problem) {
          return { ok: false, checked, unsealed, head, firstBad: { seq: row.seq, id: row.id, problem } };
        }
        checked += 1;
        prev = row.hash!;
        head = { seq: row.seq, hash: row.hash! };
      }
      if (page.length < pageSize) return { ok: true, checked, unsealed, head };
      after = page[page.length - 1]!.seq;
    }
  });
}
