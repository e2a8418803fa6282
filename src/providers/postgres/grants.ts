// Applies a lease's grant on the target inside the issuing transaction, then reads the catalog back:
// GRANT only warns when the admin lacks a grant option, and a silently smaller grant is a bug.
import type postgres from 'postgres';
import { PG_PRIVILEGES } from '../../policy/broker-config.js';
import { problems } from '../../problem.js';
import { lockPrivileges } from './drop-role.js';
import { formatQualifiedName, identifierProblem, type QualifiedName } from './identifiers.js';
import { grantSchemaUsageSql, grantSequenceUsageSql, grantTablesSql } from './role-sql.js';
import type { PgGrant } from './scope.js';

type Tx = postgres.TransactionSql;

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

export async function applyGrant(tx: Tx, target: string, role: string, grant: PgGrant): Promise<void> {
  const schemas = grant.tables.map((t) => t.schema);
  const names = grant.tables.map((t) => t.name);
  const where = `target database "${target}"`;

  const found = await tx<{ schema: string; name: string; relkind: string | null }[]>`
    select r.schema, r.name, c.relkind
    from unnest(${tx.array(schemas)}::text[], ${tx.array(names)}::text[]) as r(schema, name)
    left join pg_namespace n on n.nspname = r.schema
    left join pg_class c on c.relnamespace = n.oid and c.relname = r.name`;
  for (const row of found) {
    if (row.relkind === null || !GRANTABLE_RELKINDS.has(row.relkind)) {
      throw problems.badGateway(`table ${formatQualifiedName(row)} does not exist on ${where}`, { target });
    }
  }

  await lockPrivileges(tx);
  await tx.unsafe(grantSchemaUsageSql(role, [...new Set(schemas)]));
  await tx.unsafe(grantTablesSql(role, grant.privileges, grant.tables));
  // A serial column's default calls nextval(): INSERT alone would fail on it. (Identity columns
  // need nothing.) Only sequences owned by a granted table's columns are covered.
  const sequences = grant.privileges.includes('INSERT') ? await ownedSequences(tx, schemas, names) : [];
  if (sequences.length > 0) await tx.unsafe(grantSequenceUsageSql(role, sequences));

  const missing = await tx<{ what: string }[]>`
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
    select format('USAGE on sequence %I.%I', s.schema, s.name)
    from unnest(${tx.array(sequences.map((s) => s.schema))}::text[], ${tx.array(sequences.map((s) => s.name))}::text[]) as s(schema, name)
    join pg_namespace n on n.nspname = s.schema
    join pg_class c on c.relnamespace = n.oid and c.relname = s.name
    where not has_sequence_privilege(${role}::name, c.oid, 'USAGE')`;
  if (missing.length > 0) {
    throw problems.badGateway(
      `the admin role of ${where} could not grant ${missing.map((m) => m.what).join(', ')} (it needs each privilege WITH GRANT OPTION)`,
      { target },
    );
  }
}

async function ownedSequences(tx: Tx, schemas: string[], names: string[]): Promise<QualifiedName[]> {
  const rows = await tx<QualifiedName[]>`
    select distinct sn.nspname as schema, s.relname as name
    from unnest(${tx.array(schemas)}::text[], ${tx.array(names)}::text[]) as r(schema, name)
    join pg_namespace n on n.nspname = r.schema
    join pg_class t on t.relnamespace = n.oid and t.relname = r.name
    join pg_depend d on d.refclassid = 'pg_class'::regclass and d.refobjid = t.oid
      and d.classid = 'pg_class'::regclass and d.deptype = 'a'
    join pg_class s on s.oid = d.objid and s.relkind = 'S'
    join pg_namespace sn on sn.oid = s.relnamespace
    order by 1, 2`;
  return rows.map((r) => ({ schema: r.schema, name: r.name }));
}
