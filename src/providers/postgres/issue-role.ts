// Issuing a lease role on a target, and the checks every issued role passes. The common case (a
// new role joining a privilege group that exists) takes two round trips: BEGIN and every
// statement pipelined on one reserved connection, then COMMIT once the checks passed. Anything
// else (the group is new, the role exists already) is left to the careful path in
// postgres-provider.ts, under the role lock.
import type postgres from 'postgres';
import { problems } from '../../problem.js';
import {
  assertGranted,
  issueStateQuery,
  membershipSql,
  missingPrivilegesQuery,
  toIssueState,
} from './grants.js';
import { quoteIdentifier } from './identifiers.js';
import { createRoleSql, type LoginSpec } from './role-sql.js';
import type { PgGrant } from './scope.js';
import { sqlState } from './target-connections.js';

type Tx = postgres.TransactionSql | postgres.ReservedSql;

/** CREATE ROLE of a role that exists; GRANT of a group that does not. */
const DUPLICATE_OBJECT = '42710';
/** The same CREATE ROLE committed by another transaction while this one waited on it. */
const UNIQUE_VIOLATION = '23505';
const UNDEFINED_OBJECT = '42704';

export interface PipelinedIssue {
  target: string;
  prefix: string;
  role: string;
  group: string;
  grant: PgGrant;
  spec: LoginSpec;
  /** server_version_num of the target (membershipSql's options depend on it). */
  serverVersion: number;
}

/**
 * Creates the lease role as a member of its existing privilege group, in one transaction.
 * Returns the target's database, or undefined when this case does not apply (the transaction was
 * rolled back, nothing was created): the caller takes the careful path.
 *
 * No role lock: the role is new, so a concurrent CREATE of it fails on the catalog's unique index,
 * and a revocation that runs before this commits finds no role and ends the lease, which the
 * issuance path sees when it finalises and revokes again (issue-lease.ts).
 */
export async function issueRolePipelined(pool: postgres.Sql, p: PipelinedIssue): Promise<string | undefined> {
  const conn = await pool.reserve();
  let open = true;
  try {
    // Started in this order (postgres.js starts a query when it is first awaited): one round trip.
    const settled = await Promise.allSettled([
      conn`begin`,
      issueStateQuery(conn, p.role, p.group, p.grant),
      conn.unsafe(createRoleSql(p.spec)),
      conn.unsafe(membershipSql(p.group, p.role, p.serverVersion)),
      missingPrivilegesQuery(conn, p.role, p.grant),
      plainnessQuery(conn, p.role),
    ] as const);
    // The first statement that failed (the ones after it only report the aborted transaction).
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      const code = sqlState(failed.reason);
      if (code === DUPLICATE_OBJECT || code === UNIQUE_VIOLATION || code === UNDEFINED_OBJECT)
        return undefined;
      throw failed.reason;
    }
    const [, [state], , , missing, [plain]] = settled.map(
      (r) => (r as PromiseFulfilledResult<unknown>).value,
    ) as [unknown, Parameters<typeof toIssueState>[0][], unknown, unknown, { what: string }[], Plainness[]];
    const issueState = toIssueState(state!);
    if (issueState.missingTables.length > 0) {
      throw problems.badGateway(
        `table ${issueState.missingTables.join(', ')} does not exist on target database "${p.target}"`,
        { extensions: { target: p.target } },
      );
    }
    assertRoleIsPlain(p.target, p.prefix, p.role, p.group, plain);
    await assertGranted(
      conn,
      p.target,
      p.group,
      p.role,
      p.grant,
      missing.map((m) => m.what),
    );
    await conn`commit`;
    open = false;
    return issueState.database;
  } finally {
    // Nothing of a refused or failed attempt stays: the role and its membership roll back.
    if (open) await conn`rollback`.catch(() => {});
    conn.release();
  }
}

export interface Plainness {
  widened: boolean;
  groups: string[];
  widenedGroup: boolean;
}

/** Not started until awaited (see login()). */
export function plainnessQuery(tx: Tx, role: string) {
  return tx<Plainness[]>`
    select (r.rolsuper or r.rolcreatedb or r.rolcreaterole or r.rolreplication or r.rolbypassrls) as widened,
      array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
        where m.member = r.oid order by 1)::text[] as groups,
      coalesce((select bool_or(g.rolcanlogin or g.rolsuper or g.rolcreatedb or g.rolcreaterole
          or g.rolreplication or g.rolbypassrls
          or exists (select 1 from pg_auth_members gm where gm.member = g.oid))
        from pg_auth_members m join pg_roles g on g.oid = m.roleid where m.member = r.oid), false) as "widenedGroup"
    from pg_roles r where r.rolname = ${role}`;
}

/**
 * The role was created with none of these attributes, and with one membership: its privilege
 * group (`expectedGroup` on issue; on renewal, whichever broker group it has, or none for a role
 * from before privilege groups). The group must be a plain NOLOGIN role that is a member of
 * nothing. A role or group that has more is not handed out.
 */
export function assertRoleIsPlain(
  target: string,
  prefix: string,
  role: string,
  expectedGroup: string | undefined,
  row: Plainness | undefined,
): void {
  const groups = row?.groups ?? [];
  const groupOk =
    expectedGroup === undefined
      ? groups.length === 0 || (groups.length === 1 && isGroupName(prefix, groups[0]!))
      : groups.length === 1 && groups[0] === expectedGroup;
  if (row === undefined || row.widened || row.widenedGroup || !groupOk) {
    throw problems.badGateway(
      `role ${quoteIdentifier(role)} on target database "${target}" has attributes or memberships the broker never grants`,
      { extensions: { target } },
    );
  }
}

function isGroupName(prefix: string, name: string): boolean {
  return name.startsWith(prefix) && /^g_[0-9a-f]{24}$/.test(name.slice(prefix.length));
}
