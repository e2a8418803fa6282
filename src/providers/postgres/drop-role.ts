// Takes a lease's role off a target for good: no new logins, no open sessions, no privileges, no
// role. Each step is safe to repeat, so a revocation interrupted anywhere is finished by a retry.
import { setTimeout as sleep } from 'node:timers/promises';
import type postgres from 'postgres';
import { type QualifiedName, quoteIdentifier } from './identifiers.js';
import {
  type StartingLogin,
  startingLoginsQuery,
  stillStarting,
  type TerminatedSession,
  terminateSessionsQuery,
} from './role-sessions.js';
import { revokeSequenceSql } from './role-sql.js';
import { sqlState } from './target-connections.js';

/** A transaction: sql.begin()'s, or a reserved connection inside an explicit BEGIN. */
type Tx = postgres.TransactionSql | postgres.ReservedSql;

export interface DropOutcome {
  /** False when the role was already gone (a repeated revoke, or an issue that never got that far). */
  existed: boolean;
  sessionsTerminated: number;
}

const UNDEFINED_OBJECT = '42704';
/** Looks that find a session which did not exit in time, before giving up. */
const TERMINATE_PASSES = 3;
/** How long to wait for logins that were starting up when NOLOGIN was committed. */
const STARTUP_WAIT_MS = 10_000;
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 200;

export async function roleExists(sql: postgres.Sql, role: string): Promise<boolean> {
  const rows = await sql`select 1 from pg_roles where rolname = ${role}`;
  return rows.length > 0;
}

/**
 * Serialises catalog changes to one role across replicas (concurrent ALTER/DROP of the same role
 * fail with "tuple concurrently updated"). issue() takes the same lock.
 */
export async function takeRoleLock(tx: Tx, role: string): Promise<void> {
  await roleLockQuery(tx, role);
}

/** The query behind takeRoleLock, not yet started (for a caller that pipelines it). */
function roleLockQuery(tx: Tx, role: string) {
  return tx`select pg_advisory_xact_lock(hashtextextended(${role}, 0))`;
}

// Fixed 64-bit advisory lock key ("jitacl"); advisory locks are per database, so per target.
const ACL_LOCK_KEY = 0x6a697461636cn;

/**
 * Serialises privilege changes on a target database. GRANT, REVOKE and DROP OWNED rewrite the
 * ACL in the catalog row of the table or schema itself (pg_class.relacl, pg_namespace.nspacl), so
 * two GRANTs on the same table at the same time fail with "tuple concurrently updated" (grants.ts
 * takes it to create or repair a privilege group; revocation, for a role with direct privileges).
 * Held until commit; always taken after the role lock, so the two locks cannot deadlock.
 */
export async function lockPrivileges(tx: Tx): Promise<void> {
  await tx`select pg_advisory_xact_lock(${ACL_LOCK_KEY.toString()}::bigint)`;
}

/**
 * Revokes `role` on the target. The first round trip carries, pipelined on one connection:
 *
 * 1. a transaction that takes the role lock, sets NOLOGIN and grants the role to the admin (its
 *    privileges are needed to end its sessions and to REASSIGN/DROP OWNED), and commits: from
 *    that commit on no login of the role can start;
 * 2. a look at the logins still in start-up on the cluster (role-sessions.ts);
 * 3. a second transaction: the role lock, the role's sessions terminated, the role's state.
 *
 * The role is dropped in that second transaction (the second round trip: DROP ROLE and COMMIT)
 * once the looks prove no session can outlive it: no login that was in start-up at step 2 still
 * is, and every session seen at step 3 has exited. Then every session the role could ever have
 * was in step 3's look (role-sessions.ts has the argument), and none can start before the DROP
 * commits. Anything else (a login in start-up, a session that did not exit) is looked at again,
 * after a short wait, until it is proven: steps 2 and 3 again, a round trip (and a ROLLBACK when
 * it does not prove it either).
 *
 * Why not drop in the transaction that sets NOLOGIN: until it commits, a login reads the role as
 * LOGIN, and DROP ROLE does not refuse a role with sessions. A login made between the look and
 * the commit would outlive the role, and a non-superuser admin could not even terminate it then.
 */
export async function dropRole(sql: postgres.Sql, role: string): Promise<DropOutcome> {
  try {
    let pending: Set<string> | undefined;
    let sessionsTerminated = 0;
    let passesWithSessionsLeft = 0;
    const deadline = Date.now() + STARTUP_WAIT_MS;
    for (let look = 0, pollMs = FIRST_POLL_MS; ; look++, pollMs = Math.min(2 * pollMs, MAX_POLL_MS)) {
      const pass = await lookAndDrop(sql, role, look === 0, pending);
      if (pass.result === 'absent') return { existed: false, sessionsTerminated: 0 };
      sessionsTerminated += pass.sessions.length;
      if (pass.result === 'dropped' || pass.result === 'gone') return { existed: true, sessionsTerminated };
      pending = pass.pending;
      const left = pass.sessions.filter((s) => !s.ended).length;
      if (left > 0) {
        // pg_terminate_backend has waited already: look again at once.
        if (++passesWithSessionsLeft >= TERMINATE_PASSES)
          throw new Error(`${left} session(s) of role ${role} did not end`);
        continue;
      }
      if (Date.now() >= deadline) {
        // The lease stays `revoking` and is retried; NOLOGIN stays, and the sessions are ended again.
        throw new Error(
          `${pending.size} login(s) started before role ${role} was set NOLOGIN are still starting up`,
        );
      }
      await sleep(pollMs);
    }
  } catch (error) {
    // Dropped out-of-band between two steps: gone is what revocation wants.
    if (sqlState(error) === UNDEFINED_OBJECT && !(await roleExists(sql, role))) {
      return { existed: true, sessionsTerminated: 0 };
    }
    throw error;
  }
}

type Pass =
  /** NOLOGIN found no role: nothing was done. */
  | { result: 'absent' }
  /** The role disappeared after NOLOGIN (another replica dropped it). */
  | { result: 'gone'; sessions: TerminatedSession[] }
  | { result: 'dropped'; sessions: TerminatedSession[] }
  /** Not proven yet: `pending` logins still in start-up, or a session that did not exit. */
  | { result: 'unproven'; sessions: TerminatedSession[]; pending: Set<string> };

interface DropState {
  canLogin: boolean;
  /** Objects of this database, or shared ones, that the role owns or holds a privilege on. */
  dependents: boolean;
}

/** One look (with NOLOGIN first when `disableLogin`), and the drop when it proves it safe. */
async function lookAndDrop(
  sql: postgres.Sql,
  role: string,
  disableLogin: boolean,
  pending: ReadonlySet<string> | undefined,
): Promise<Pass> {
  const quoted = quoteIdentifier(role);
  const conn = await sql.reserve();
  let open = false;
  try {
    // postgres.js starts a query when it is first awaited and sends what was started in one tick
    // together: both allSettled calls await theirs, in this order, before anything is sent, so
    // everything from the first BEGIN to the role's state goes out in one write.
    const disabling = Promise.allSettled(
      disableLogin
        ? ([
            conn`begin`,
            // Durable once the transaction that drops the role commits, since WAL is flushed in
            // order; a crash before that only means the revocation is retried. It is visible to
            // logins at commit either way. One flush per revocation instead of two.
            conn`set local synchronous_commit = off`,
            roleLockQuery(conn, role),
            conn.unsafe(`ALTER ROLE ${quoted} NOLOGIN`),
            conn.unsafe(`GRANT ${quoted} TO CURRENT_USER`),
            conn`commit`,
          ] as const)
        : [],
    );
    const looking = Promise.allSettled([
      // Its own transaction, so the sessions below come from a later read of pg_stat_activity.
      startingLoginsQuery(conn),
      conn`begin`,
      roleLockQuery(conn, role),
      terminateSessionsQuery(conn, role),
      dropStateQuery(conn, role),
    ] as const);
    const disabled: PromiseSettledResult<unknown>[] = await disabling;
    const looked = await looking;
    open = looked[1].status === 'fulfilled';

    const failedToDisable = disabled.find(isRejected);
    if (failedToDisable) {
      // What follows it ran without NOLOGIN (and rolls back): only the first failure counts.
      const alter = disabled[3];
      if (alter !== undefined && isRejected(alter) && sqlState(alter.reason) === UNDEFINED_OBJECT)
        return { result: 'absent' };
      throw failedToDisable.reason;
    }
    const failed = looked.find(isRejected);
    if (failed) throw failed.reason;
    const [starting, , , sessions, [state]] = looked.map(
      (r) => (r as PromiseFulfilledResult<unknown>).value,
    ) as [StartingLogin[], unknown, unknown, TerminatedSession[], DropState[]];

    if (state === undefined) return { result: 'gone', sessions };
    // Only revocation sets NOLOGIN, and issue() never undoes it: this was done by hand.
    if (state.canLogin) throw new Error(`role ${role} can log in again after it was set NOLOGIN`);
    const starts = stillStarting(pending, starting);
    if (starts.size > 0 || sessions.some((s) => !s.ended))
      return { result: 'unproven', sessions, pending: starts };

    // A lease role holds its privileges through its group, so usually nothing in this database
    // depends on it and DROP ROLE alone (which also ends the membership) is enough, without the
    // privilege lock. Objects it owns or privileges granted to it directly (a role from before
    // privilege groups, or made by hand) are cleared first.
    if (state.dependents) await clearDependents(conn, role);
    const [dropped, committed] = await Promise.allSettled([
      conn.unsafe(`DROP ROLE ${quoted}`),
      conn`commit`,
    ] as const);
    open = false;
    if (dropped.status === 'rejected') throw dropped.reason;
    if (committed.status === 'rejected') throw committed.reason;
    return { result: 'dropped', sessions };
  } finally {
    if (open) await conn`rollback`.catch(() => {});
    conn.release();
  }
}

function isRejected(r: PromiseSettledResult<unknown>): r is PromiseRejectedResult {
  return r.status === 'rejected';
}

/** Not started until awaited. */
function dropStateQuery(tx: Tx, role: string) {
  return tx<DropState[]>`
    select r.rolcanlogin as "canLogin", exists (
      select 1 from pg_shdepend d
      where d.refclassid = 'pg_authid'::regclass and d.refobjid = r.oid
        and d.dbid in (0, (select oid from pg_database where datname = current_database()))
    ) as dependents
    from pg_roles r where r.rolname = ${role}`;
}

/** Under the privilege lock: what the role owns goes to the admin, its own privileges go. */
async function clearDependents(tx: Tx, role: string): Promise<void> {
  const quoted = quoteIdentifier(role);
  await lockPrivileges(tx);
  // DROP OWNED run by a non-superuser fails on sequence privileges ("permission denied for
  // column tableoid"); revoking exactly the privileges held first avoids that path.
  for (const grant of await sequenceGrants(tx, role)) {
    await tx.unsafe(revokeSequenceSql(role, grant.privilege, grant));
  }
  await tx.unsafe(`REASSIGN OWNED BY ${quoted} TO CURRENT_USER`);
  await tx.unsafe(`DROP OWNED BY ${quoted}`);
}

async function sequenceGrants(tx: Tx, role: string): Promise<(QualifiedName & { privilege: string })[]> {
  return tx<(QualifiedName & { privilege: string })[]>`
    select n.nspname as schema, s.relname as name, a.privilege_type as privilege
    from pg_class s
    join pg_namespace n on n.oid = s.relnamespace
    cross join lateral aclexplode(s.relacl) as a
    where s.relkind = 'S' and a.grantee = (select oid from pg_roles where rolname = ${role})`;
}
