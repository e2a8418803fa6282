// Group commit: concurrent callers queue an item each, and the items go to PostgreSQL together, one
// statement and one commit for a whole batch, where each would have paid a commit of its own. A
// caller's promise settles only once its batch committed. A batch that fails on one item's content
// is retried item by item, so that item fails alone; one that fails because the database is unwell
// fails every caller of the batch, as each would have failed alone.

export interface GroupCommitOptions<T, R> {
  /** Writes a batch (one or more items) in one statement; resolves with one result per item. */
  writeBatch: (items: readonly T[]) => Promise<R[]>;
  /** Writes one item on its own: how a failed batch learns which item failed. */
  writeOne: (item: T) => Promise<R>;
  /** Whether an error of writeBatch may come from one item's content. */
  isItemError: (error: unknown) => boolean;
  /** Most items in one statement (default 64). */
  maxBatch?: number;
  /** Batches on the wire at once; the next batch forms while they commit (default 4). */
  maxInFlight?: number;
}

export interface GroupCommitStats {
  batches: number;
  items: number;
  /** Batches that failed on an item and were retried one by one. */
  retried: number;
}

interface Queued<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<T, R> {
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private queue: Queued<T, R>[] = [];
  private inFlight = 0;
  private scheduled = false;
  readonly stats: GroupCommitStats = { batches: 0, items: 0, retried: 0 };

  constructor(private readonly options: GroupCommitOptions<T, R>) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 4;
    if (this.maxBatch < 1 || this.maxInFlight < 1)
      throw new Error('GroupCommit: maxBatch and maxInFlight must be at least 1');
  }

  write(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
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

  private async send(batch: Queued<T, R>[]): Promise<void> {
    this.stats.batches++;
    this.stats.items += batch.length;
    if (batch.length === 1) {
      const [only] = batch as [Queued<T, R>];
      await this.options.writeOne(only.item).then(only.resolve, only.reject);
      return;
    }
    let results: R[];
    try {
      results = await this.options.writeBatch(batch.map((q) => q.item));
    } catch (error) {
      // The statement rolled back as a whole: nothing of the batch was written.
      if (!this.options.isItemError(error)) {
        for (const q of batch) q.reject(error);
        return;
      }
      this.stats.retried++;
      await Promise.all(batch.map((q) => this.options.writeOne(q.item).then(q.resolve, q.reject)));
      return;
    }
    for (const [i, q] of batch.entries()) q.resolve(results[i]!);
  }
}
