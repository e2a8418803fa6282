// The pool as the services see it: while the database is down a query or transaction runs only
// after a probe has reached it (no queueing behind connection attempts), and none waits longer
// than the connect timeout for a connection to an unreachable database.
import type postgres from 'postgres';
import { type DatabaseHealth, DatabaseUnreachable } from './health.js';

/** A query waited too long for a connection to a database the probe could not reach. */
export class DatabaseWaitTimeout extends Error {
  readonly code = 'DATABASE_WAIT_TIMEOUT';
  constructor(waitMs: number) {
    super(`no database connection within ${waitMs} ms`);
    this.name = 'DatabaseWaitTimeout';
  }
}

/** The parts of a postgres.js Query this module relies on (a lazy Promise subclass). */
interface PendingQuery extends Promise<unknown> {
  executed: boolean;
  /** Set when the query is sent on a connection. */
  state: unknown;
  tagged: boolean;
  strings: readonly string[];
  args: unknown[];
  parameters: unknown[] | undefined;
  handle(): Promise<void>;
  reject(error: unknown): void;
}

/** What a given-up query runs instead, should the pool still send it: nothing at all. */
const NOTHING = ['select 1 where false'];

/**
 * Rejects a query still waiting for a connection and turns what it would run into a statement
 * that does nothing. postgres.js's cancel() would strand the connection when it is that
 * connection's first query; this way the connection, once open, runs the no-op and returns to the
 * pool, and no write the caller was told had failed happens later.
 */
function giveUp(q: PendingQuery, error: Error): void {
  q.reject(error);
  q.tagged = false;
  q.strings = NOTHING;
  q.args = [];
  q.parameters = [];
}

/**
 * Half the bound passes waiting; then, if the query is still not sent, the probe (its own
 * connection, bounded by the other half) tells a busy pool (keep waiting: statement and lock
 * timeouts bound the work ahead) from an unreachable database (give up).
 */
function whenStillWaiting(
  health: DatabaseHealth,
  waitMs: number,
  isWaiting: () => boolean,
  abandon: () => void,
) {
  setTimeout(() => {
    if (!isWaiting()) return;
    if (!health.up) return abandon();
    void health.probe().then((ok) => {
      if (!ok && isWaiting()) abandon();
    });
  }, waitMs / 2).unref();
}

function boundWait<T>(query: T, health: DatabaseHealth, waitMs: number): T {
  const q = query as unknown as PendingQuery;
  if (typeof q?.handle !== 'function') return query;
  const handle = q.handle;
  let admitted: Promise<void> | undefined;
  // Query#handle runs the query once, however often then/catch/finally call it.
  q.handle = function boundedHandle() {
    admitted ??= (async () => {
      if ((await health.admit()) === false) return giveUp(q, new DatabaseUnreachable());
      whenStillWaiting(
        health,
        waitMs,
        () => !q.state,
        () => giveUp(q, new DatabaseWaitTimeout(waitMs)),
      );
      // Every failure of an executed query is seen by the health check (without Query#then,
      // which would run the query again); it also keeps a given-up query from being "unhandled".
      Promise.prototype.then.call(q, undefined, (error: unknown) => health.observe(error));
      await handle.call(q);
    })();
    return admitted;
  };
  return query;
}

/**
 * A transaction still without a connection is given up on the same way; should the pool hand it
 * one later, its callback refuses to start, so it rolls back having done nothing.
 */
async function boundBegin(
  begin: (...args: unknown[]) => Promise<unknown>,
  args: unknown[],
  health: DatabaseHealth,
  waitMs: number,
): Promise<unknown> {
  if ((await health.admit()) === false) throw new DatabaseUnreachable();
  const fn = args.at(-1) as (tx: unknown) => unknown;
  let started = false;
  let abandoned = false;
  const guardedFn = (tx: unknown) => {
    if (abandoned) throw new DatabaseWaitTimeout(waitMs);
    started = true;
    return fn(tx);
  };
  const running = begin(...args.slice(0, -1), guardedFn);
  return new Promise((resolve, reject) => {
    whenStillWaiting(
      health,
      waitMs,
      () => !started && !abandoned,
      () => {
        abandoned = true;
        reject(new DatabaseWaitTimeout(waitMs));
      },
    );
    running.then(resolve, (error: unknown) => {
      health.observe(error);
      if (!abandoned) reject(error);
    });
  });
}

export function guardPool(sql: postgres.Sql, health: DatabaseHealth, waitMs: number): postgres.Sql {
  return new Proxy(sql, {
    apply(target, thisArg, args) {
      // sql`...` (a template call) builds a query; sql(name) and sql(rows) only build helpers.
      if (!(Array.isArray(args[0]) && 'raw' in args[0])) return Reflect.apply(target, thisArg, args);
      return boundWait(Reflect.apply(target, thisArg, args), health, waitMs);
    },
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...a: unknown[]) => unknown;
      switch (property) {
        case 'unsafe':
        case 'file':
          return (...args: unknown[]) => boundWait(method.apply(target, args), health, waitMs);
        case 'begin':
          return (...args: unknown[]) =>
            boundBegin((...a) => method.apply(target, a) as Promise<unknown>, args, health, waitMs);
        case 'reserve':
          return async (...args: unknown[]) => {
            if ((await health.admit()) === false) throw new DatabaseUnreachable();
            return method.apply(target, args);
          };
        default:
          return value;
      }
    },
  });
}
