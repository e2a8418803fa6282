// Group commit for new leases. Concurrent issuances queue here and go to PostgreSQL together: one
// statement and one commit writes a whole batch of leases, their audit rows and their slots, where
// each used to pay a commit of its own. A caller's promise settles only after its row committed.
// A batch that fails is retried one lease at a time, so one bad row (a duplicate Idempotency-Key,
// an agent over its limit) fails only its own request.
import type postgres from 'postgres';
import { insertLeaseWithAudit, type NewLeaseWrite, newLeasesStatement } from './lease-writes.js';
import { LIMIT_REACHED } from './limits.js';

export interface LeaseWriterOptions {
  /** Most leases in one statement. */
  maxBatch?: number;
  /** Batches on the wire at once; the next batch forms while they commit. */
  maxInFlight?: number;
}

export interface LeaseWriterStats {
  batches: number;
  leases: number;
  /** Batches that failed and were retried lease by lease. */
  retried: number;
}

interface Queued {
  write: NewLeaseWrite;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class LeaseWriter {
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;
  readonly stats: LeaseWriterStats = { batches: 0, leases: 0, retried: 0 };

  constructor(
    private readonly sql: postgres.Sql,
    options: LeaseWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 4;
    if (this.maxBatch < 1 || this.maxInFlight < 1)
      throw new Error('LeaseWriter: maxBatch and maxInFlight must be ≥ 1');
  }

  /** Writes a new lease with its audit rows; settles when they committed (or failed: a 429, 23505…). */
  write(write: NewLeaseWrite): Promise<void> {
    // The per-minute rate needs a count under a lock: that lease goes alone (limits.ts).
    if (write.limits.issuancesPerMinutePerAgent > 0) return insertLeaseWithAudit(this.sql, write);
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  // A batch leaves on the next turn of the event loop (so the requests of this turn join it) when
  // a slot is free, else when a batch in flight commits: no timer, no wait when the broker is idle.
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.queue.splice(0, this.maxBatch);
      if (batch.length === 0) return;
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.schedule();
      });
      this.schedule();
    });
  }

  private async send(batch: Queued[]): Promise<void> {
    this.stats.batches++;
    this.stats.leases += batch.length;
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      await insertLeaseWithAudit(this.sql, only.write).then(only.resolve, only.reject);
      return;
    }
    try {
      await newLeasesStatement(
        this.sql,
        batch.map((q) => q.write),
      ).execute();
    } catch (error) {
      // The statement rolled back as a whole: nothing of the batch was written. A refused slot
      // names only the first agent it met, and a 23505 only the first duplicate, so each lease
      // is tried again alone to learn its own answer.
      this.stats.retried++;
      if (!isRowError(error)) {
        for (const q of batch) q.reject(error);
        return;
      }
      await Promise.all(batch.map((q) => insertLeaseWithAudit(this.sql, q.write).then(q.resolve, q.reject)));
      return;
    }
    for (const q of batch) q.resolve();
  }
}

/**
 * Errors one row can cause (a refused slot, a constraint, bad data), as opposed to the database
 * being unwell, which would fail every lease of the batch again.
 */
function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // Class 23: integrity constraint violations; class 22: data exceptions.
  return (
    typeof code === 'string' && (code === LIMIT_REACHED || code.startsWith('23') || code.startsWith('22'))
  );
}
