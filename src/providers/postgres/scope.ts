// Narrows a task intent to a postgres template's ceiling: which privileges on which tables the
// minted role receives. Pure, so a request that asks for more is denied before anything is created.

import type { Intent } from '../../core/intent.js';
import type { PostgresTemplate } from '../templates.js';
import type { Scoped } from '../types.js';
import { formatQualifiedName, parseQualifiedName, type QualifiedName } from './identifiers.js';
import { PG_PRIVILEGES, type PgPrivilege } from './template.js';

/** What a lease's role is granted: every privilege on every table (plain data: stored on the lease). */
export type PgGrant = {
  privileges: PgPrivilege[];
  tables: QualifiedName[];
};

/** A template's `privileges`, parsed once: canonical table name → privileges allowed on it. */
export interface Ceiling {
  /** Every table of the ceiling, keyed by canonical name, in the order the template lists them. */
  tables: Map<string, QualifiedName>;
  allowed: Map<PgPrivilege, Set<string>>;
  /** Entries that are not schema-qualified table names (reported at policy load). */
  problems: string[];
}

const ceilings = new WeakMap<PostgresTemplate, Ceiling>();

export function readCeiling(template: PostgresTemplate): Ceiling {
  const cached = ceilings.get(template);
  if (cached !== undefined) return cached;
  const ceiling: Ceiling = { tables: new Map(), allowed: new Map(), problems: [] };
  for (const privilege of PG_PRIVILEGES) {
    const tables = template.privileges[privilege];
    if (tables === undefined) continue;
    const keys = new Set<string>();
    tables.forEach((table, index) => {
      const parsed = parseQualifiedName(table);
      if (!parsed.ok) {
        ceiling.problems.push(`privileges.${privilege}[${index}] "${table}": ${parsed.error}`);
        return;
      }
      const key = formatQualifiedName(parsed.value);
      keys.add(key);
      if (!ceiling.tables.has(key)) ceiling.tables.set(key, parsed.value);
    });
    ceiling.allowed.set(privilege, keys);
  }
  ceilings.set(template, ceiling);
  return ceiling;
}

function isPgPrivilege(value: string): value is PgPrivilege {
  return (PG_PRIVILEGES as readonly string[]).includes(value);
}

function deny(reason: string): Scoped<PgGrant> {
  return { ok: false, reason };
}

/**
 * What the intent means for postgres: actions are privileges, resources schema-qualified tables; every
 * requested privilege is granted on every requested table and each pair must be in the ceiling.
 * No resources = every ceiling table that allows all the requested privileges.
 */
export function scopePostgresIntent(template: PostgresTemplate, intent: Intent): Scoped<PgGrant> {
  const ceiling = readCeiling(template);
  const where = `template "${template.name}"`;
  if (intent.actions.length === 0) return deny('the intent must name at least one privilege');

  const requested = new Set<PgPrivilege>();
  for (const action of intent.actions) {
    const privilege = action.toUpperCase();
    if (!isPgPrivilege(privilege)) {
      return deny(`action "${action}" is not a privilege the broker grants (${PG_PRIVILEGES.join(', ')})`);
    }
    if (!ceiling.allowed.has(privilege)) return deny(`privilege ${privilege} is not allowed by ${where}`);
    requested.add(privilege);
  }
  const privileges = PG_PRIVILEGES.filter((p) => requested.has(p));

  const tables = new Map<string, QualifiedName>();
  for (const resource of intent.resources) {
    const parsed = parseQualifiedName(resource);
    if (!parsed.ok) return deny(`resource "${resource}" is not a table name: ${parsed.error}`);
    const key = formatQualifiedName(parsed.value);
    for (const privilege of privileges) {
      if (!ceiling.allowed.get(privilege)?.has(key)) {
        return deny(`${privilege} on resource "${resource}" is not allowed by ${where}`);
      }
    }
    tables.set(key, parsed.value);
  }
  if (intent.resources.length === 0) {
    for (const [key, table] of ceiling.tables) {
      if (privileges.every((p) => ceiling.allowed.get(p)?.has(key))) tables.set(key, table);
    }
    if (tables.size === 0) return deny(`no table of ${where} allows all of ${privileges.join(', ')}`);
  }
  return { ok: true, grant: { privileges, tables: [...tables.values()] } };
}
