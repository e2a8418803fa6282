// A lease's privileges come from a privilege group: one NOLOGIN role per distinct grant in a
// database (same privileges on the same tables), created on first use and shared by every lease
// with that grant.
// The lease's login role is made a member and inherits them.
//
// Why not GRANT to each lease role: every GRANT writes an entry into the ACL array stored in the
// table's own catalog row (pg_class.relacl), which cannot be TOASTed. Around 500 live leases on
// one table the row passes 8 kB and every further GRANT fails ("row is too big"); and two GRANTs
// on one table at once fail with "tuple concurrently updated", so they had to be serialised. A
// table's ACL now holds one entry per privilege group, and issuing a lease only adds a membership.
//
// After the membership the catalog is read back through the lease role: GRANT only warns when the
// admin lacks a grant option, and a silently smaller grant is a bug.
import { createHash } from 'node:crypto';
import type postgres from 'postgres';
import { problems } from '../../problem.js';
import { lockPrivileges } from './drop-role.js';
import { identifierProblem, type QualifiedName, quoteIdentifier, quoteQualifiedName } from './identifiers.js';
import { createGroupSql, grantSchemaUsageSql, grantSequenceUsageSql, grantTablesSql } from './role-sql.js';
import type { PgGrant } from './scope.js';
import { PG_PRIVILEGES } from './template.js';

/** A transaction: sql.begin()'s, or a reserved connection inside an explicit BEGIN (issue-role.ts). */
type Tx = postgres.TransactionSql | postgres.ReservedSql;

/** Tables, views, materialized views, foreign and partitioned tables: what GRANT … ON TABLE takes. */
const GRANTABLE_RELKINDS = new Set(['r', 'v', 'm', 'f', 'p']);

/** A grant read back from a lease row is data, not trusted code: check its shape again. */
export function assertGrantShape(grant: PgGrant): void {
  if (!Array.isArray(grant.privileges) || grant.privileges.length === 0)
    throw new TypeError('grant has no privileges');
  for (const p of grant.privileges) if (!PG_PRIVILEGES.includes(p)) throw new TypeError(`grant names "${p}"`);
  if (!Array.isArray(grant.tables) || grant.tables.length === 0) throw new TypeError('grant has no tables');
  for (const t of grant.tables) {
    if (identifierProblem(t.schema) !== undefined || identifierProblem(t.name) !== undefined) {
      throw new TypeError('grant names an invalid table');
    }
  }
}

/**
 * The privilege group of a grant in one database: `<prefix>g_<24 hex digits of sha256>` over the
 * database, the privileges and the tables, so every replica derives the same name. Roles are
 * cluster-wide: without the database, a group for `SELECT public.orders` would be shared by two
 * targets on one cluster and hold the privilege in both databases. Never a lease role's name
 * (those end in 32 hex digits), so the orphan sweep leaves groups alone.
 */
export function groupRoleFor(prefix: string, database: string, grant: PgGrant): string {
  const canonical = JSON.stringify({
    database,
    privileges: PG_PRIVILEGES.filter((p) => grant.privileges.includes(p)),
    tables: [...new Set(grant.tables.map(quoteQualifiedName))].sort(),
  });
  return `${prefix}g_${createHash('sha256').update(canonical).digest('hex').slice(0, 24)}`;
}

/** What the issuing transaction reads in one round trip, after the role lock. */
export interface IssueState {
  /** The lease role's LOGIN attribute; undefined when the role does not exist. */
  canLogin: boolean | undefined;
  groupExists: boolean;
  /** server_version_num */
  version: number;
  database: string;
  /** Granted tables that do not exist (or are not tables), as schema.name. */
  missingTables: string[];
}

interface IssueStateRow {
  canLogin: boolean | null;
  groupExists: boolean;
  version: number;
  database: string;
  missingTables: string[];
}

/**
 * Reads the state of the lease role, its privilege group and the granted tables. Run as its own
 * statement after the role lock, so it sees whatever the previous holder committed.
 */
export async function readIssueState(
  tx: Tx,
  role: string,
  group: string,
  grant: PgGrant,
): Promise<IssueState> {
  const [row] = await issueStateQuery(tx, role, group, grant);
  return toIssueState(row!);
}

/** The query behind readIssueState, not yet started (for a caller that pipelines it). */
export function issueStateQuery(tx: Tx, role: string, group: string, grant: PgGrant) {
  const schemas = grant.tables.map((t) => t.schema);
  const names = grant.tables.map((t) => t.name);
  return tx<IssueStateRow[]>`
    select (select rolcanlogin from pg_roles where rolname = ${role}) as "canLogin",
      exists (select 1 from pg_roles where rolname = ${group}) as "groupExists",
      current_setting('server_version_num')::int as version,
      current_database() as database,
      array(
        select format('%I.%I', r.schema, r.name)
        from unnest(${tx.array(schemas)}::text[], ${tx.array(names)}::text[]) as r(schema, name)
        left join pg_namespace n on n.nspname = r.schema
        left join pg_class c on c.relnamespace = n.oid and c.relname = r.name
        where c.relkind is null or c.relkind <> all (${tx.array([...GRANTABLE_RELKINDS])}::"char"[])
      )::text[] as "missingTables"`;
}

export function toIssueState(row: IssueStateRow): IssueState {
  return {
    canLogin: row.canLogin ?? undefined,
    groupExists: row.groupExists,
    version: row.version,
    database: row.database,
    missingTables: row.missingTables,
  };
}

/** Creates the privilege group with its grants unless another transaction already has. */
export async function createGroup(tx: Tx, group: string, grant: PgGrant): Promise<void> {
  // Two replicas creating the same group: the second waits here, then sees the first's commit.
  await lockPrivileges(tx);
  const [again] = await tx`select 1 from pg_roles where rolname = ${group}`;
  if (again !== undefined) return;
  await tx.unsafe(createGroupSql(group));
  await grantToGroup(tx, group, grant);
}

/**
 * GRANT … TO role of the group. PostgreSQL 16+ can also take away SET ROLE to the group; before
 * that, membership allows it (harmless: the group holds no more than the lease, and only table
 * privileges).
 */
export function membershipSql(group: string, role: string, serverVersion: number): string {
  const options = serverVersion >= 160000 ? ' WITH INHERIT TRUE, SET FALSE' : '';
  return `GRANT ${quoteIdentifier(group)} TO ${quoteIdentifier(role)}${options}`;
}

/**
 * After the membership: what `role` should hold and does not. When something is missing the group
 * lost it since it was made (a table dropped and created again, a manual REVOKE), so it is granted
 * again and checked once more; what is still missing is the admin's lack of a grant option.
 */
export async function assertGranted(
  tx: Tx,
  target: string,
  group: string,
  role: string,
  grant: PgGrant,
  missing: string[],
): Promise<void> {
  if (missing.length === 0) return;
  await lockPrivileges(tx);
  await grantToGroup(tx, group, grant);
  const still = await missingPrivileges(tx, role, grant);
  if (still.length > 0) {
    throw problems.badGateway(
      `the admin role of target database "${target}" could not grant ${still.join(', ')} (it needs each privilege WITH GRANT OPTION)`,
      { extensions: { target } },
    );
  }
}

/** GRANTs are idempotent; the caller holds the privilege lock (they rewrite the tables' ACLs). */
async function grantToGroup(tx: Tx, group: string, grant: PgGrant): Promise<void> {
  const schemas = grant.tables.map((t) => t.schema);
  await tx.unsafe(grantSchemaUsageSql(group, [...new Set(schemas)]));
  await tx.unsafe(grantTablesSql(group, grant.privileges, grant.tables));
  // A serial column's default calls nextval(): INSERT alone would fail on it. (Identity columns
  // need nothing.) Only sequences owned by a granted table's columns are covered.
  if (!grant.privileges.includes('INSERT')) return;
  const sequences = await ownedSequences(
    tx,
    schemas,
    grant.tables.map((t) => t.name),
  );
  if (sequences.length > 0) await tx.unsafe(grantSequenceUsageSql(group, sequences));
}

/** What `role` should hold through its group and does not, as readable phrases. */
export async function missingPrivileges(tx: Tx, role: string, grant: PgGrant): Promise<string[]> {
  return (await missingPrivilegesQuery(tx, role, grant)).map((r) => r.what);
}

/**
 * The query behind missingPrivileges, not yet started: postgres.js starts a query when it is
 * awaited, so a caller pipelining several keeps them in order by awaiting them together.
 */
export function missingPrivilegesQuery(tx: Tx, role: string, grant: PgGrant) {
  const schemas = grant.tables.map((t) => t.schema);
  const names = grant.tables.map((t) => t.name);
  const insert = grant.privileges.includes('INSERT');
  return tx<{ what: string }[]>`
    select format('USAGE on schema %I', r.schema) as what
    from unnest(${tx.array([...new Set(schemas)])}::text[]) as r(schema)
    join pg_namespace n on n.nspname = r.schema
    where not has_schema_privilege(${role}::name, n.oid, 'USAGE')
    union all
    select format('%s on table %I.%I', p.privilege, r.schema, r.name)
    from unnest(${tx.array(schemas)}::text[], ${tx.array(names)}::text[]) as r(schema, name)
    join pg_namespace n on n.nspname = r.schema
    join pg_class c on c.relnamespace = n.oid and c.relname = r.name
    cross join unnest(${tx.array(grant.privileges)}::text[]) as p(privilege)
    where not has_table_privilege(${role}::name, c.oid, p.privilege)
    union all
    select format('USAGE on sequence %I.%I', sn.nspname, s.relname)
    from ${ownedSequencesOf(tx, schemas, names)}
    -- CASE: the planner may call the function before the join has kept only sequences.
    where ${insert} and case when s.relkind = 'S' then not has_sequence_privilege(${role}::name, s.oid, 'USAGE') end`;
}

/**
 * FROM-clause fragment: the sequences owned by columns of the given tables (a serial column's),
 * as `s` (pg_class) in schema `sn` (pg_namespace).
 */
function ownedSequencesOf(tx: Tx, schemas: string[], names: string[]) {
  return tx`unnest(${tx.array(schemas)}::text[], ${tx.array(names)}::text[]) as r(schema, name)
    join pg_namespace n on n.nspname = r.schema
    join pg_class t on t.relnamespace = n.oid and t.relname = r.name
    join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = t.oid
      and d.classid = 'pg_class'::regclass and d.deptype = 'a'
    join pg_class s on s.oid = d.objid and s.relkind = 'S'
    join pg_namespace sn on sn.oid = s.relnamespace`;
}

async function ownedSequences(tx: Tx, schemas: string[], names: string[]): Promise<QualifiedName[]> {
  const rows = await tx<QualifiedName[]>`
    select distinct sn.nspname as schema, s.relname as name
    from ${ownedSequencesOf(tx, schemas, names)}
    order by 1, 2`;
  return rows.map((r) => ({ schema: r.schema, name: r.name }));
}
