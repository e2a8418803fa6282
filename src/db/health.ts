// Whether the broker's database is reachable, as a probe on a connection of its own finds it (a
// busy pool is not an unreachable database). A connection failure anywhere starts probing; while
// the database is down a query runs only once a probe has reached it again (src/db/pool-guard.ts),
// so requests fail after one short probe instead of queueing for connections, and the first
// request after the outage succeeds: recovery needs no restart.
import type postgres from 'postgres';
import { isDatabaseUnavailable } from './db-errors.js';

/** Between probes while the database is down. */
export const PROBE_INTERVAL_MS = 250;

/** Thrown instead of running a query while the database is known to be down. */
export class DatabaseUnreachable extends Error {
  readonly code = 'DATABASE_UNREACHABLE';
  constructor() {
    super('the database is unreachable (a probe could not connect); not trying the query');
    this.name = 'DatabaseUnreachable';
  }
}

export interface DatabaseHealth {
  /** False from a failed probe until a probe succeeds. */
  readonly up: boolean;
  /**
   * Resolves true at once while the database is up; while it is down, after a probe (the one under
   * way, or a new one): true if that probe reached the database.
   */
  admit(): Promise<boolean> | true;
  /** Reports an error a query failed with: a connection failure starts probing. */
  observe(error: unknown): void;
  /** Probes now (or joins the probe under way); true when the database answered. */
  probe(): Promise<boolean>;
  /** Resolves once no probe is running. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface HealthOptions {
  /** A probe that has not answered within this long has failed (it also bounds its connect). */
  probeTimeoutMs: number;
  /** Told when the database goes down and comes back (logging). */
  onChange?: (up: boolean) => void;
}

/** `probeSql` is a pool of its own (one connection), so that probing never queues behind requests. */
export function createDatabaseHealth(probeSql: postgres.Sql, opts: HealthOptions): DatabaseHealth {
  let up = true;
  let closed = false;
  let probing: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const set = (next: boolean) => {
    if (next === up) return;
    up = next;
    opts.onChange?.(next);
  };

  async function probeOnce(): Promise<boolean> {
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      deadline = setTimeout(() => resolve(false), opts.probeTimeoutMs);
      deadline.unref();
    });
    const answered = probeSql`select 1`.then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(deadline);
    }
  }

  function probe(): Promise<boolean> {
    probing ??= probeOnce().then((ok) => {
      probing = undefined;
      set(ok);
      if (!ok && !closed) {
        clearTimeout(timer);
        timer = setTimeout(() => void probe(), PROBE_INTERVAL_MS);
        timer.unref();
      }
      return ok;
    });
    return probing;
  }

  return {
    get up() {
      return up;
    },
    admit() {
      return up ? true : probe();
    },
    observe(error) {
      if (closed || error instanceof DatabaseUnreachable || !isDatabaseUnavailable(error)) return;
      void probe();
    },
    probe,
    settled: async () => {
      while (probing) await probing;
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await probeSql.end({ timeout: 1 });
    },
  };
}
