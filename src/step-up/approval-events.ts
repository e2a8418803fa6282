// Wake-ups for agents long-polling an approval. Every change commits with a pg_notify on one
// channel; each broker process LISTENs once and fans the approval id out to the requests waiting
// on it here, so a decision taken on any replica wakes the collector on any other.
import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { DbOrTx } from '../db/client.js';
import type { Logger } from '../logger.js';

export const APPROVAL_CHANNEL = 'jit_broker_approvals';
/** Emitted when the LISTEN connection is (re)established: notifications sent meanwhile are lost. */
const EVERYONE = Symbol('everyone');

/** Inside the deciding transaction: PostgreSQL delivers it when, and only if, that commits. */
export async function notifyApprovalChanged(tx: DbOrTx, approvalId: string): Promise<void> {
  await tx.execute(sql`select pg_notify(${APPROVAL_CHANNEL}, ${approvalId})`);
}

export type WaitOutcome = 'changed' | 'timeout' | 'aborted';

/**
 * One collector's interest in one approval. Call `arm()` before reading the approval's state and
 * `wait()` after: a change that lands between the read and the wait is not lost.
 */
export interface ApprovalSubscription {
  arm(): void;
  wait(ms: number, signal?: AbortSignal): Promise<WaitOutcome>;
  close(): void;
}

export class ApprovalEvents {
  readonly #emitter = new EventEmitter();
  readonly #parked = new Map<string, number>();
  #listening: Promise<void> | undefined;

  constructor(
    private readonly client: postgres.Sql,
    private readonly logger: Logger,
  ) {
    // One listener per waiting request: thousands of concurrent long-polls are expected.
    this.#emitter.setMaxListeners(0);
  }

  /** Starts LISTEN on first use (one dedicated connection per process, reconnected by postgres.js). */
  listen(): Promise<void> {
    this.#listening ??= this.client
      .listen(
        APPROVAL_CHANNEL,
        (approvalId) => this.#emitter.emit(approvalId),
        () => this.#emitter.emit(EVERYONE),
      )
      .then(
        () => undefined,
        (error: unknown) => {
          this.#listening = undefined;
          this.logger.warn({ err: error }, 'LISTEN for approval changes failed');
          throw error;
        },
      );
    return this.#listening;
  }

  /** How many requests of this process are parked waiting on the approval (tests, diagnostics). */
  parked(approvalId: string): number {
    return this.#parked.get(approvalId) ?? 0;
  }

  #park(approvalId: string, delta: number): void {
    const count = this.parked(approvalId) + delta;
    if (count > 0) this.#parked.set(approvalId, count);
    else this.#parked.delete(approvalId);
  }

  subscribe(approvalId: string): ApprovalSubscription {
    let changed = false;
    let wake: (() => void) | undefined;
    const onChange = () => {
      changed = true;
      wake?.();
    };
    this.#emitter.on(approvalId, onChange);
    this.#emitter.on(EVERYONE, onChange);
    return {
      arm: () => {
        changed = false;
      },
      wait: (ms, signal) => {
        if (changed) return Promise.resolve('changed');
        if (signal?.aborted) return Promise.resolve('aborted');
        return new Promise<WaitOutcome>((resolve) => {
          const finish = (outcome: WaitOutcome) => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            wake = undefined;
            this.#park(approvalId, -1);
            resolve(outcome);
          };
          const onAbort = () => finish('aborted');
          const timer = setTimeout(() => finish('timeout'), Math.max(0, ms));
          signal?.addEventListener('abort', onAbort, { once: true });
          wake = () => finish('changed');
          this.#park(approvalId, 1);
        });
      },
      close: () => {
        wake?.();
        this.#emitter.off(approvalId, onChange);
        this.#emitter.off(EVERYONE, onChange);
      },
    };
  }
}
