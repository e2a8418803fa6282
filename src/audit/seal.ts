// The sealer: links unsealed audit rows into the hash chain. Run by the sweeper on every replica;
// a transaction-scoped advisory lock lets one replica at a time extend the chain, and the others
// return at once instead of queueing behind it.
import type postgres from 'postgres';
import { auditRowHash, GENESIS_HASH } from './audit-hash.js';
import { auditColumns, parseAuditRows } from './audit-rows.js';

// Arbitrary but fixed: "jitaudit" as a 64-bit advisory lock key (distinct from the migrator's).
export const AUDIT_SEAL_LOCK_KEY = 0x6a69746175646974n;

export interface SealOptions {
  /** Rows sealed per call (default 1000); the sweeper's next tick takes the rest. */
  batchSize?: number;
}

/** Seals up to `batchSize` unsealed rows in id order; returns how many (0 when another replica holds the lock). */
export async function sealAuditLog(sql: postgres.Sql, opts: SealOptions = {}): Promise<number> {
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new RangeError(`sealAuditLog: batchSize must be an integer from 1 to 10000, got ${batchSize}`);
  }
  return sql.begin(async (tx) => {
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
    const rows = parseAuditRows(
      await tx`select ${auditColumns(tx)} from audit_events a where a.seq is null order by a.id limit ${batchSize}`,
    );
    if (rows.length === 0) return 0;

    let seq = head ? Number(head.seq) : 0;
    let prev = head?.hash ?? GENESIS_HASH;
    const ids: string[] = [];
    const seqs: string[] = [];
    const prevs: string[] = [];
    const hashes: string[] = [];
    for (const row of rows) {
      seq += 1;
      const hash = auditRowHash(prev, row);
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
}
