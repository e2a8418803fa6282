// This broker process's proof of life: a session-level advisory lock held on one reserved
// connection. Work a process claims (an `issuing` lease it is creating, a `revoking` lease it is
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
/** The reserved connection is also pinged this often, so no idle timeout can close it. */
const KEEPALIVE_MS = 10_000;

export class BrokerInstance {
  #reserved: postgres.ReservedSql | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly database: Database,
    private readonly logger: Logger,
    /** This process's key: what `claimed_by` holds for work it has claimed. */
    readonly key: number,
  ) {}

  /** Takes a fresh instance key (a lock nobody holds) on a connection of its own. */
  static async register(database: Database, logger: Logger): Promise<BrokerInstance> {
    for (;;) {
      const instance = new BrokerInstance(database, logger, randomInt(1, 2 ** 31 - 1));
      if (await instance.#lock()) {
        instance.#timer = setInterval(() => void instance.heartbeat(), KEEPALIVE_MS);
        instance.#timer.unref();
        return instance;
      }
    }
  }

  async #lock(): Promise<boolean> {
    const reserved = await this.database.sql.reserve();
    const [row] = await reserved<{ locked: boolean }[]>`
      select pg_try_advisory_lock(${INSTANCE_LOCK_CLASS}::int, ${this.key}::int) as locked`;
    if (!row?.locked) {
      reserved.release();
      return false;
    }
    this.#reserved = reserved;
    return true;
  }

  /**
   * Proves the lock is still held (the sweeper calls it every tick); after a lost connection it
   * takes the lock again. While it was lost, replicas may have taken this process's claims over:
   * harmless, since every step of issue and revocation tolerates another one having run.
   */
  async heartbeat(): Promise<void> {
    try {
      if (this.#reserved) {
        await this.#reserved`select 1`;
        return;
      }
    } catch (error) {
      this.logger.warn(
        { err: error, instance: this.key },
        'lost the instance lock connection; taking it again',
      );
      this.#reserved = undefined;
    }
    try {
      if (!(await this.#lock()))
        this.logger.error({ instance: this.key }, 'instance lock is held by another session');
    } catch (error) {
      this.logger.warn({ err: error, instance: this.key }, 'could not take the instance lock; will retry');
    }
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    const reserved = this.#reserved;
    this.#reserved = undefined;
    if (!reserved) return;
    await reserved`select pg_advisory_unlock(${INSTANCE_LOCK_CLASS}::int, ${this.key}::int)`.catch(
      () => undefined,
    );
    reserved.release();
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
