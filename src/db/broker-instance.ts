// This broker process's proof of life: a session-level advisory lock held on a connection of its
// own. Work a process claims (an `issuing` lease it is creating, a `revoking` lease it is
// confirming) carries its lock key in `leases.claimed_by`; when the process dies, PostgreSQL ends
// its session and the lock with it at once, so any live replica can take the work over on its
// next sweep instead of waiting for a claim to time out.
import { randomInt } from 'node:crypto';
import { type SQL, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { Logger } from '../logger.js';
import type { Database } from './client.js';

/** First key of the two-key advisory lock form ("jiti"); the second is the instance key. */
export const INSTANCE_LOCK_CLASS = 0x6a697469;
/** The session is also checked this often, so a lost lock is noticed between sweeps too. */
const KEEPALIVE_MS = 10_000;

export class BrokerInstance {
  readonly #session: postgres.Sql;
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    database: Database,
    private readonly logger: Logger,
    /** This process's key: what `claimed_by` holds for work it has claimed. */
    readonly key: number,
  ) {
    // A connection of its own (not one reserved from the pool): when it breaks, postgres.js
    // reconnects it and heartbeat() takes the lock again on the new session.
    this.#session = database.openSession();
  }

  /** Takes a fresh instance key (a lock nobody holds) on a connection of its own. */
  static async register(database: Database, logger: Logger): Promise<BrokerInstance> {
    for (;;) {
      const instance = new BrokerInstance(database, logger, randomInt(1, 2 ** 31 - 1));
      if (await instance.#lock()) {
        instance.#timer = setInterval(() => void instance.heartbeat(), KEEPALIVE_MS);
        instance.#timer.unref();
        return instance;
      }
      await instance.#session.end({ timeout: 1 });
    }
  }

  /** True when this session holds the lock (taking it if it is free). */
  async #lock(): Promise<boolean> {
    const [row] = await this.#session<{ locked: boolean }[]>`
      select exists (
        select 1 from pg_locks
        where locktype = 'advisory' and pid = pg_backend_pid() and granted and objsubid = 2
          and classid = ${INSTANCE_LOCK_CLASS}::oid and objid = ${this.key}::oid
      ) or pg_try_advisory_lock(${INSTANCE_LOCK_CLASS}::int, ${this.key}::int) as locked`;
    return row?.locked === true;
  }

  /**
   * Proves the lock is still held (the sweeper calls it every tick), taking it again after a lost
   * connection. While it was lost, replicas may have taken this process's claims over: harmless,
   * since every step of issue and revocation tolerates another one having run.
   */
  async heartbeat(): Promise<void> {
    try {
      if (!(await this.#lock()))
        this.logger.error({ instance: this.key }, 'instance lock is held by another session');
    } catch (error) {
      this.logger.warn({ err: error, instance: this.key }, 'could not check the instance lock; will retry');
    }
  }

  /** Ends the session, and the lock with it. */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#session.end({ timeout: 1 });
  }
}

/**
 * True when `claimedBy` names an instance whose lock no session holds: the process that claimed
 * the work is gone. (Two-key advisory locks appear in pg_locks with objsubid 2.)
 */
export function claimedByDeadInstance(claimedBy: SQL): SQL {
  return sql`(${claimedBy} is not null and not exists (
    select 1 from pg_locks k
    where k.locktype = 'advisory' and k.granted and k.objsubid = 2
      and k.database = (select oid from pg_database where datname = current_database())
      and k.classid = ${INSTANCE_LOCK_CLASS}::oid and k.objid = ${claimedBy}::oid))`;
}
