// Group commit for the issuance path's writes (src/db/group-commit.ts). New leases: the requests in
// flight are written in one statement and one commit, leases, audit rows and their limits: places.
// Finishing an issue (what the provider created, issuing → active, the lease.issued row): the
// same. A caller goes on only once its row committed; a batch that fails on one row (a duplicate
// Idempotency-Key, an agent over its limit) is retried row by row, so only that request fails.
import type postgres from 'postgres';
import { GroupCommit, type GroupCommitStats } from '../db/group-commit.js';
import type { Lease } from '../db/schema/index.js';
import {
  type FinishIssue,
  finishedLease,
  finishIssueStatement,
  insertLeaseWithAudit,
  type NewLeaseWrite,
  newLeasesStatement,
} from './lease-writes.js';
import { LIMIT_REACHED } from './limits.js';

export interface LeaseWriterOptions {
  /** Most rows in one statement (default 64). */
  maxBatch?: number;
  /** Batches on the wire at once, per kind of write (default 4). */
  maxInFlight?: number;
}

export class LeaseWriter {
  private readonly inserts: GroupCommit<NewLeaseWrite, void>;
  private readonly finishes: GroupCommit<FinishIssue, Lease | undefined>;

  constructor(
    private readonly sql: postgres.Sql,
    options: LeaseWriterOptions = {},
  ) {
    this.inserts = new GroupCommit({
      ...options,
      writeBatch: async (writes) => {
        await newLeasesStatement(sql, writes).execute();
        return writes.map(() => undefined);
      },
      writeOne: (write) => insertLeaseWithAudit(sql, write),
      isItemError,
    });
    this.finishes = new GroupCommit({
      ...options,
      writeBatch: (items) => this.finishBatch(items),
      writeOne: async (item) => (await this.finishBatch([item]))[0],
      isItemError,
    });
  }

  /** Batches and leases of new-lease writes so far. */
  get stats(): GroupCommitStats {
    return this.inserts.stats;
  }

  /** Writes a new lease with its audit rows; settles when they committed (or failed: a 429, 23505…). */
  write(write: NewLeaseWrite): Promise<void> {
    // The per-minute rate needs a count under a lock: that lease goes alone (limits.ts).
    if (write.limits.issuancesPerMinutePerAgent > 0) return insertLeaseWithAudit(this.sql, write);
    return this.inserts.write(write);
  }

  /**
   * Records what the provider created and, when the lease is still `issuing`, makes it `active`
   * with its audit row. Resolves with the lease as it now is (undefined when the row is gone).
   */
  finishIssue(item: FinishIssue): Promise<Lease | undefined> {
    return this.finishes.write(item);
  }

  private async finishBatch(items: readonly FinishIssue[]): Promise<(Lease | undefined)[]> {
    const rows = await finishIssueStatement(this.sql, items);
    const states = new Map(rows.map((r) => [r.id, r.state]));
    return items.map((item) => {
      const state = states.get(item.lease.id);
      return state === undefined ? undefined : finishedLease(item, state);
    });
  }
}

/**
 * Errors worth trying again row by row: one row's own (a refused slot, a constraint, bad data),
 * or the batch's transaction lost to another (a deadlock). The database being unwell would fail
 * every row again, so those fail the batch.
 */
function isItemError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // Class 23: integrity constraint violations; 22: data exceptions; 40: transaction rollback.
  return (
    typeof code === 'string' &&
    (code === LIMIT_REACHED || code.startsWith('23') || code.startsWith('22') || code.startsWith('40'))
  );
}
