// Takes a lease's role off a target for good: no new logins, no open sessions, no privileges, no
// role. Each step is safe to repeat, so a revocation interrupted anywhere is finished by a retry.
import type postgres from 'postgres';
import { type QualifiedName, quoteIdentifier } from './identifiers.js';
import { revokeSequenceSql } from './role-sql.js';
import { sqlState } from './target-connections.js';

export interface DropOutcome {
  /** False when the role was already gone (a repeated revoke, or an issue that never got that far). */
  existed: boolean;
  sessionsTerminated: number;
}

const UNDEFINED_OBJECT = '42704';
/** How long pg_terminate_backend waits for each backend to exit (PostgreSQL 14+). */
const TERMINATE_WAIT_MS = 5_000;
const TERMINATE_PASSES = 3;

export async function roleExists(sql: postgres.Sql, role: string): Promise<boolean> {
  const rows = await sql`select 1 from pg_roles where rolname = ${role}`;
  return rows.length > 0;
}

/**
 * Serialises catalog changes to one role across replicas (concurrent ALTER/DROP of the same role
 * fail with "tuple concurrently updated"). issue() takes the same lock.
 */
export async function lockRole(tx: postgres.TransactionSql, role: string): Promise<boolean> {
  await takeRoleLock(tx, role);
  const rows = await tx`select 1 from pg_roles where rolname = ${role}`;
  return rows.length > 0;
}

/** lockRole without the existence check, for a caller that reads the role's state itself next. */
export async function takeRoleLock(tx: postgres.TransactionSql, role: string): Promise<void> {
  await tx`select pg_advisory_xact_lock(hashtextextended(${role}, 0))`;
}

// Fixed 64-bit advisory lock key ("jitacl"); advisory locks are per database, so per target.
const ACL_LOCK_KEY = 0x6a697461636cn;

/**
 * Serialises privilege changes on a target database. GRANT, REVOKE and DROP OWNED rewrite the
 * ACL in the catalog row of the table or schema itself (pg_class.relacl, pg_namespace.nspacl), so
 * two GRANTs on the same table at the same time fail with "tuple concurrently updated" (grants.ts
 * takes it to create or repair a privilege group; revocation, for a role with direct privileges).
 * Held until commit; always taken after lockRole, so the two locks cannot deadlock.
 */
export async function lockPrivileges(tx: postgres.TransactionSql | postgres.ReservedSql): Promise<void> {
  await tx`select pg_advisory_xact_lock(${ACL_LOCK_KEY.toString()}::bigint)`;
}

export async function dropRole(sql: postgres.Sql, role: string): Promise<DropOutcome> {
  const quoted = quoteIdentifier(role);
  try {
    // Committed on its own, first: from here on the role cannot open a new session.
    const existed = await sql.begin(async (tx) => {
      if (!(await lockRole(tx, role))) return false;
      await tx.unsafe(`ALTER ROLE ${quoted} NOLOGIN`);
      // A non-superuser admin needs the role's privileges to end its sessions and to REASSIGN/DROP
      // OWNED (PostgreSQL 16+ gives the creator only ADMIN OPTION). Harmless for a superuser; the
      // membership goes away with the role.
      await tx.unsafe(`GRANT ${quoted} TO CURRENT_USER`);
      return true;
    });
    if (!existed) return { existed: false, sessionsTerminated: 0 };
    // Open sessions survive DROP ROLE and keep the privileges they had: end them first.
    const sessionsTerminated = await terminateSessions(sql, role);
    await sql.begin(async (tx) => {
      if (!(await lockRole(tx, role))) return;
      // A lease role holds its privileges through its group, so usually nothing in this database
      // depends on it and DROP ROLE alone (which also ends the membership) is enough, without the
      // privilege lock. Objects it owns or privileges granted to it directly (a role from before
      // privilege groups, or made by hand) are cleared first.
      if (await hasDependents(tx, role)) {
        await lockPrivileges(tx);
        // DROP OWNED run by a non-superuser fails on sequence privileges ("permission denied for
        // column tableoid"); revoking exactly the privileges held first avoids that path.
        for (const grant of await sequenceGrants(tx, role)) {
          await tx.unsafe(revokeSequenceSql(role, grant.privilege, grant));
        }
        await tx.unsafe(`REASSIGN OWNED BY ${quoted} TO CURRENT_USER`);
        await tx.unsafe(`DROP OWNED BY ${quoted}`);
      }
      await tx.unsafe(`DROP ROLE ${quoted}`);
    });
    return { existed: true, sessionsTerminated };
  } catch (error) {
    // Dropped out-of-band between two steps: gone is what revocation wants.
    if (sqlState(error) === UNDEFINED_OBJECT && !(await roleExists(sql, role))) {
      return { existed: true, sessionsTerminated: 0 };
    }
    throw error;
  }
}

/** Objects of this database, or shared ones, that the role owns or holds a privilege on. */
async function hasDependents(tx: postgres.TransactionSql, role: string): Promise<boolean> {
  const rows = await tx`
    select 1 from pg_shdepend d
    where d.refclassid = 'pg_authid'::regclass
      and d.refobjid = (select oid from pg_roles where rolname = ${role})
      and d.dbid in (0, (select oid from pg_database where datname = current_database()))
    limit 1`;
  return rows.length > 0;
}

async function terminateSessions(sql: postgres.Sql, role: string): Promise<number> {
  let terminated = 0;
  // NOLOGIN is committed, but a backend that passed authentication just before can still appear:
  // look again until none is left.
  for (let pass = 0; pass < TERMINATE_PASSES; pass++) {
    const rows = await sql<{ pid: number }[]>`
      select pid, pg_terminate_backend(pid, ${TERMINATE_WAIT_MS}::bigint) as ended
      from pg_stat_activity
      where usename = ${role} and pid <> pg_backend_pid()`;
    if (rows.length === 0) return terminated;
    terminated += rows.length;
  }
  const left = await sql`select 1 from pg_stat_activity where usename = ${role}`;
  if (left.length > 0) throw new Error(`${left.length} session(s) of role ${role} did not end`);
  return terminated;
}

async function sequenceGrants(
  tx: postgres.TransactionSql,
  role: string,
): Promise<(QualifiedName & { privilege: string })[]> {
  return tx<(QualifiedName & { privilege: string })[]>`
    select n.nspname as schema, s.relname as name, a.privilege_type as privilege
    from pg_class s
    join pg_namespace n on n.oid = s.relnamespace
    cross join lateral aclexplode(s.relacl) as a
    where s.relkind = 'S' and a.grantee = (select oid from pg_roles where rolname = ${role})`;
}
