// Walks the sealed audit chain in seq order and recomputes every link with the chain key, and
// every row's MAC with the row key. Detects edited content, edited or recomputed hashes, rows
// added, deleted or renumbered inside the chain; a truncated tail is detected against a signed
// checkpoint of an earlier head (src/audit/checkpoint.ts, docs/audit.md).
import type postgres from 'postgres';
import { auditRowHash, GENESIS_HASH, keyedChainHash, verifyAuditRowMac } from './audit-hash.js';
import { type AuditKeys, auditKeys } from './audit-keys.js';
import { auditColumns, parseAuditRows, type StoredAuditRow } from './audit-rows.js';

export interface AuditVerification {
  ok: boolean;
  /** Sealed rows that verified, in seq order (up to the first bad one). */
  checked: number;
  /** Rows not yet sealed (the sweeper seals them on its next tick). */
  unsealed: number;
  /** Rows the sealer refused (no valid MAC): someone wrote to the table behind the broker's back. */
  refused: number;
  /** The last row that verified: anchor this {seq, hash} outside the database. */
  head: { seq: number; hash: string } | null;
  /** The first row where the walk failed. */
  firstBad?: { seq: number; id: number; problem: string };
}

export interface VerifyOptions {
  /** Rows read per query (default 1000). */
  pageSize?: number;
  /** Defaults to the keys the broker installed. */
  keys?: AuditKeys;
  /** An earlier head (from a verified checkpoint): the chain must still hold it, unchanged. */
  checkpoint?: { seq: number; hash: string };
}

/** Returns why `row` does not continue a chain whose last verified row has `expectedSeq - 1` and `prev`. */
function checkRow(
  row: StoredAuditRow & { seq: number },
  expectedSeq: number,
  prev: string,
  keys: AuditKeys,
  keyed: boolean,
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
  if (row.mac === null) {
    // Rows sealed before the chain was keyed have no MAC; none may follow a keyed row.
    if (keyed) return 'row without a MAC inside the keyed chain';
    if (auditRowHash(row.prev_hash, row) !== row.hash) return "hash does not match the row's content";
  } else {
    if (!verifyAuditRowMac(keys.rowKey, row, row.mac)) return "MAC does not match the row's content";
    if (keyedChainHash(keys.chainKey, row.prev_hash, row, row.mac) !== row.hash) {
      return "hash does not match the row's content under the chain key";
    }
  }
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
  const keys = opts.keys ?? auditKeys();
  const checkpoint = opts.checkpoint;
  // One snapshot for the whole walk: rows sealed meanwhile are neither half-seen nor counted twice.
  return sql.begin('isolation level repeatable read read only', async (tx) => {
    const [count] = await tx<{ unsealed: number; refused: number }[]>`
      select count(*) filter (where seq is null and refused_at is null)::int as unsealed,
             count(*) filter (where refused_at is not null)::int as refused
      from audit_events where seq is null`;
    const unsealed = count?.unsealed ?? 0;
    const refused = count?.refused ?? 0;
    let keyed = false;
    let checkpointSeen = false;

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
        let problem = checkRow(row, checked + 1, prev, keys, keyed);
        if (!problem && checkpoint && row.seq === checkpoint.seq) {
          checkpointSeen = true;
          if (row.hash !== checkpoint.hash)
            problem = `hash differs from the checkpoint of seq ${checkpoint.seq}: chain rewritten`;
        }
        if (problem) {
          return {
            ok: false,
            checked,
            unsealed,
            refused,
            head,
            firstBad: { seq: row.seq, id: row.id, problem },
          };
        }
        keyed ||= row.mac !== null;
        checked += 1;
        prev = row.hash!;
        head = { seq: row.seq, hash: row.hash! };
      }
      if (page.length < pageSize) {
        if (checkpoint && !checkpointSeen) {
          const problem = `the chain ends at seq ${head?.seq ?? 0}, before the checkpoint's seq ${checkpoint.seq}: rows deleted from the tail`;
          return {
            ok: false,
            checked,
            unsealed,
            refused,
            head,
            firstBad: { seq: checkpoint.seq, id: 0, problem },
          };
        }
        return { ok: true, checked, unsealed, refused, head };
      }
      after = page[page.length - 1]!.seq;
    }
  });
}
