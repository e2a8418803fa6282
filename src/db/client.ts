// The database handle every service receives: postgres.js for hand-written SQL on hot paths,
// drizzle over the same pool for everything else.
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { createDatabaseHealth, type DatabaseHealth } from './health.js';
import { guardPool } from './pool-guard.js';
import * as schema from './schema/index.js';

export type Db = PostgresJsDatabase<typeof schema>;
/** A drizzle transaction or the database itself: what every write helper accepts. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  sql: postgres.Sql;
  db: Db;
  /** Whether the database answered its last probe; the app reports connection failures to it. */
  health: DatabaseHealth;
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
  /** Longest wait for a new connection (default 1 s, DATABASE_CONNECT_TIMEOUT_MS): an outage is a prompt 503. */
  connectTimeoutMs?: number;
  /** Told when the database goes down and comes back. */
  onHealthChange?: (up: boolean) => void;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000;

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
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const pool = postgres(url, {
    max: options.max ?? 10,
    idle_timeout: 30,
    // Seconds, fractions allowed: a request waits at most this long for a connection to open.
    connect_timeout: connectTimeoutMs / 1000,
    backoff: reconnectBackoff,
    onnotice: () => {},
    // Server-side bounds: with connect_timeout they keep every request's wait on the database finite.
    connection: {
      application_name: options.applicationName ?? 'jit-broker',
      lock_timeout: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    },
  });
  // The probe has a connection of its own: a saturated pool must not look like an outage.
  const probePool = postgres(url, {
    max: 1,
    idle_timeout: 60,
    fetch_types: false,
    connect_timeout: connectTimeoutMs / 2000,
    onnotice: () => {},
    connection: { application_name: `${options.applicationName ?? 'jit-broker'} (probe)` },
  });
  const health = createDatabaseHealth(probePool, {
    probeTimeoutMs: connectTimeoutMs / 2,
    onChange: options.onHealthChange,
  });
  const sql = guardPool(pool, health, connectTimeoutMs);
  const db = drizzle(sql, { schema });
  return {
    sql,
    db,
    health,
    // Never idle-closed, never recycled: a session lock lives exactly as long as this connection.
    openSession: () =>
      postgres(url, {
        max: 1,
        idle_timeout: 0,
        max_lifetime: null,
        connect_timeout: 5,
        backoff: reconnectBackoff,
        onnotice: () => {},
        connection: { application_name: `${options.applicationName ?? 'jit-broker'} (instance)` },
      }),
    close: async () => {
      await health.close();
      await pool.end({ timeout: 5 });
    },
  };
}
