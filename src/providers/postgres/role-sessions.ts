// What revocation must see before it may drop a role: the role's sessions, and the logins still
// starting up anywhere on the cluster, which pg_stat_activity does not show yet.
//
// Why logins in start-up matter: a backend checks LOGIN (rolcanlogin) during its start-up, then
// initialises for a while, and only at the end appears in pg_stat_activity with its user. A login
// that passed the check just before NOLOGIN was committed is invisible to a look taken in that
// gap, and it does not notice a DROP ROLE either: it ends up as a session of a role that no longer
// exists (usename NULL, PUBLIC's privileges, and a non-superuser admin can no longer terminate it).
// The gap is not only the few milliseconds of initialisation: any user may ask for
// `post_auth_delay` (up to 35 minutes, slept after the check) in its startup packet.
//
// A backend holds a lock on its own virtual transaction id for the whole start-up transaction,
// which begins before authentication and commits after it is reported in pg_stat_activity. So
// after NOLOGIN is committed:
// - a login that can still succeed began its start-up before that commit (one beginning later
//   reads NOLOGIN and is refused);
// - at any later moment it is either still in start-up (a virtualxid lock in pg_locks, not shown
//   with a user in pg_stat_activity), or shown in pg_stat_activity with its user, or gone.
// Hence dropRole reads the logins in start-up first, then the sessions (in a later transaction,
// so pg_stat_activity, read once per transaction, is read after pg_locks): once none of the
// logins in start-up at the first look after NOLOGIN is still in start-up, the sessions read
// after that are all the role will ever have.
import type postgres from 'postgres';

type Tx = postgres.TransactionSql | postgres.ReservedSql;

/** How long pg_terminate_backend waits for each backend to exit (PostgreSQL 14+). */
const TERMINATE_WAIT_MS = 5_000;

/** A backend in its start-up transaction, as pid and that transaction's virtual id. */
export interface StartingLogin {
  pid: number;
  vxid: string;
}

export interface TerminatedSession {
  pid: number;
  /** False when the backend had not exited after TERMINATE_WAIT_MS (or had already gone). */
  ended: boolean;
}

/**
 * Backends of any role, in any database of the cluster, that are inside their start-up
 * transaction: which role a login is for is not visible until it is reported. Up to PostgreSQL 17
 * such a backend is not in pg_stat_activity; 18 shows it earlier, without a user. Backends shown
 * with another type (an autovacuum worker, which runs transactions for minutes and has no user)
 * are never logins and would hold every revocation back for as long. (Where a non-superuser viewer
 * cannot see backend_type, such a backend still counts: the caller only looks again.)
 * Not started until awaited.
 */
export function startingLoginsQuery(tx: Tx) {
  return tx<StartingLogin[]>`
    select l.pid, l.virtualtransaction as vxid
    from pg_locks l
    where l.locktype = 'virtualxid' and l.granted and l.pid <> pg_backend_pid()
      and not exists (
        select 1 from pg_stat_activity a
        where a.pid = l.pid and (a.usesysid is not null or a.backend_type <> 'client backend'))`;
}

/**
 * Ends every session of `role` in the cluster, waiting for each backend to exit. Needs the role's
 * privileges for a non-superuser admin. Not started until awaited.
 */
export function terminateSessionsQuery(tx: Tx, role: string) {
  return tx<TerminatedSession[]>`
    select pid, pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}::bigint) as ended
    from pg_stat_activity
    where usename = ${role} and pid <> pg_backend_pid()`;
}

/**
 * The logins that were in start-up at the first look after NOLOGIN (`pending` undefined: this is
 * that look) and still are. One that appears only in a later look began after that first look,
 * hence after NOLOGIN, and will be refused: it is not waited for, so a busy cluster cannot keep a
 * revocation waiting. A start-up transaction is identified by its virtual transaction id too, so a
 * reused pid is not mistaken for the same login.
 */
export function stillStarting(pending: ReadonlySet<string> | undefined, now: StartingLogin[]): Set<string> {
  const keys = now.map((s) => `${s.pid} ${s.vxid}`);
  return new Set(pending === undefined ? keys : keys.filter((key) => pending.has(key)));
}
