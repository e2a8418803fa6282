// The database handle every service receives: postgres.js for hand-written SQL on hot paths,
// drizzle over the same pool for everything else.
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema/index.js';

export type Db = PostgresJsDatabase<typeof schema>;
/** A drizzle transaction or the database itself: what every write helper accepts. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  sql: postgres.Sql;
  db: Db;
  /** One connection of its own, outside the pool, for session state (the broker instance lock). */
  openSession(): postgres.Sql;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  /** Longest wait for a lock (default 5 s): a request queued behind a held lock fails (503) instead of hanging. */
  lockTimeoutMs?: number;
  /** Longest statement (default 30 s): a query the server cannot finish fails (503) instead of hanging. */
  statementTimeoutMs?: number;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * Seconds before a pool tries to connect again after `retries` failed attempts in a row: 50 ms
 * doubling up to 1 s, with jitter. postgres.js's default grows to 10-20 s after eight failures and
 * is waited out even when the server is already back: a target pool that had seen a few seconds of
 * outage took 11-17 s to revoke again (test/leases/sweeper.test.ts). A refused attempt costs the
 * server nothing, and every caller has its own retry policy on top.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 1);
}

export function createDatabase(url: string, options: DatabaseOptions = {}): Database {
  const settings = {
    connect_timeout: 5,
    backoff: reconnectBackoff,
    onnotice: () => {},
    // Server-side bounds: with connect_timeout they keep every request's wait on the database finite.
    connection: {
      application_name: options.applicationName ?? 'jit-broker',
      lock_timeout: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    },
  };
  const sql = postgres(url, { ...settings, max: options.max ?? 10, idle_timeout: 30 });
  const db = drizzle(sql, { schema });
  return {
    sql,
    db,
    // Never idle-closed, never recycled: a session lock lives exactly as long as this connection.
    openSession: () => postgres(url, { ...settings, max: 1, idle_timeout: 0, max_lifetime: null }),
    close: () => sql.end({ timeout: 5 }),
  };
}
