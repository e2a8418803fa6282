// The sealer: links unsealed audit rows into the keyed hash chain. Run by the sweeper on every
// replica; a transaction-scoped advisory lock lets one replica at a time extend the chain, and the
// others return at once instead of queueing behind it. A row whose MAC does not verify (written
// by anything but the broker, or edited since) is refused: marked, reported, never sealed.
import type postgres from 'postgres';
import { GENESIS_HASH, keyedChainHash, verifyAuditRowMac } from './audit-hash.js';
import { type AuditKeys, auditKeys } from './audit-keys.js';
import { auditColumns, parseAuditRows } from './audit-rows.js';

// Arbitrary but fixed: "jitaudit" as a 64-bit advisory lock key (distinct from the migrator's).
export const AUDIT_SEAL_LOCK_KEY = 0x6a69746175646974n;

export interface RefusedAuditRow {
  id: number;
  event: string;
  reason: string;
}

export interface SealOptions {
  /** Rows sealed per call (default 1000); the sweeper's next tick takes the rest. */
  batchSize?: number;
  /** Defaults to the keys the broker installed (src/audit/audit-keys.ts). */
  keys?: AuditKeys;
  /** Told about every row refused for a missing or invalid MAC: log it as an error, count it. */
  onRefused?: (rows: RefusedAuditRow[]) => void;
}

/** Seals up to `batchSize` unsealed rows in id order; returns how many (0 when another replica holds the lock). */
export async function sealAuditLog(sql: postgres.Sql, opts: SealOptions = {}): Promise<number> {
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new RangeError(`sealAuditLog: batchSize must be an integer from 1 to 10000, got ${batchSize}`);
  }
  const keys = opts.keys ?? auditKeys();
  const refused: RefusedAuditRow[] = [];
  const sealed = await sql.begin(async (tx) => {
    const [lock] = await tx<{ locked: boolean }[]>`
      select pg_try_advisory_xact_lock(${AUDIT_SEAL_LOCK_KEY.toString()}::bigint) as locked`;
    if (!lock?.locked) return 0;

    // Read after taking the lock: under READ COMMITTED this statement sees the previous
    // sealer's commit, which became visible before its lock was released.
    const [head] = await tx<{ seq: string; hash: string | null }[]>`
      select a.seq::text as seq, a.hash from audit_events a where a.seq is not null order by a.seq desc limit 1`;
    if (head && head.hash === null) {
      throw new Error(
        `audit chain head (seq ${head.seq}) has no hash; run verifyAuditLog before sealing more`,
      );
    }
    // A row with a lower id that commits after higher ids were sealed is simply picked up by a
    // later call and gets the next seq: the chain's order is seq, not id.
    const read = parseAuditRows(
      await tx`select ${auditColumns(tx)} from audit_events a
               where a.seq is null and a.refused_at is null order by a.id limit ${batchSize}`,
    );
    const rows = read.filter((row) => {
      const reason =
        row.mac === null
          ? 'no MAC: not written by the broker'
          : !verifyAuditRowMac(keys.rowKey, row, row.mac)
            ? 'MAC does not verify: written without the key, or edited since'
            : row.sub_ms
              ? 'at has sub-millisecond precision that the MAC does not cover'
              : undefined;
      if (reason !== undefined) refused.push({ id: row.id, event: row.event, reason });
      return reason === undefined;
    });
    if (refused.length > 0) {
      await tx`update audit_events set refused_at = now()
               where id = any(${refused.map((r) => String(r.id))}::bigint[]) and seq is null`;
    }
    if (rows.length === 0) return 0;

    let seq = head ? Number(head.seq) : 0;
    let prev = head?.hash ?? GENESIS_HASH;
    const ids: string[] = [];
    const seqs: string[] = [];
    const prevs: string[] = [];
    const hashes: string[] = [];
    for (const row of rows) {
      seq += 1;
      const hash = keyedChainHash(keys.chainKey, prev, row, row.mac!);
      ids.push(String(row.id));
      seqs.push(String(seq));
      prevs.push(prev);
      hashes.push(hash);
      prev = hash;
    }
    const updated = await tx`
      update audit_events as a set seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
      from unnest(${ids}::bigint[], ${seqs}::bigint[], ${prevs}::text[], ${hashes}::text[]) as v(id, seq, prev_hash, hash)
      where a.id = v.id and a.seq is null`;
    // Cannot happen while the lock is honoured; if it does, roll back rather than fork the chain.
    if (updated.count !== rows.length) {
      throw new Error(`audit sealer updated ${updated.count} of ${rows.length} rows; rolled back`);
    }
    return rows.length;
  });
  if (refused.length > 0) opts.onRefused?.(refused);
  return sealed;
}
