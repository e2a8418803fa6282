// The names and DDL of a lease's login role. CREATE/ALTER ROLE and GRANT take no bind parameters,
// so statements are built here from quoted identifiers and pattern-checked literals only.

import { isUuid } from '../../core/ids.js';
import { type QualifiedName, quoteIdentifier, quoteQualifiedName, quoteSafeLiteral } from './identifiers.js';
import { SCRAM_VERIFIER } from './password.js';
import { PG_PRIVILEGES, type PgPrivilege } from './template.js';

export const DEFAULT_ROLE_PREFIX = 'jit_';
/** Leaves room for the 32 hex digits of a lease id within PostgreSQL's 63-byte names. */
export const ROLE_PREFIX = /^[a-z_][a-z0-9_]{0,30}$/;

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `<prefix><lease uuid without dashes>`: lower-case letters, digits and _, at most 63 bytes. */
export function roleNameFor(prefix: string, leaseId: string): string {
  if (!isUuid(leaseId)) throw new TypeError(`lease id "${leaseId}" is not a UUID`);
  return `${prefix}${leaseId.replaceAll('-', '').toLowerCase()}`;
}

/** The lease id a broker role was made for, or undefined for any other role. */
export function leaseIdOfRole(prefix: string, role: string): string | undefined {
  if (!role.startsWith(prefix)) return undefined;
  const hex = role.slice(prefix.length);
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface LoginSpec {
  role: string;
  /** SCRAM-SHA-256 verifier, never the cleartext password. */
  verifier: string;
  validUntil: Date;
  connectionLimit: number;
}

function loginClauses(spec: LoginSpec): string {
  if (!Number.isInteger(spec.connectionLimit) || spec.connectionLimit < 1) {
    throw new TypeError('connection limit must be a positive integer');
  }
  return [
    `CONNECTION LIMIT ${spec.connectionLimit}`,
    `PASSWORD ${quoteSafeLiteral(spec.verifier, SCRAM_VERIFIER)}`,
    // VALID UNTIL is a timestamptz literal; an ISO instant in UTC reads the same in every TimeZone.
    `VALID UNTIL ${quoteSafeLiteral(spec.validUntil.toISOString(), ISO_INSTANT)}`,
  ].join(' ');
}

/**
 * Every attribute spelled out, so a server default or a changed template can never widen it.
 * INHERIT: the role's privileges come from its one membership, its privilege group (grants.ts).
 */
export function createRoleSql(spec: LoginSpec): string {
  return `CREATE ROLE ${quoteIdentifier(spec.role)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS ${loginClauses(spec)}`;
}

/** A privilege group: holds a grant's privileges, cannot log in, is nothing else. */
export function createGroupSql(group: string): string {
  return `CREATE ROLE ${quoteIdentifier(group)} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS`;
}

/**
 * Re-keys an existing role (replay, renewal). SUPERUSER/CREATEDB/REPLICATION/BYPASSRLS are not
 * repeated: a non-superuser admin may not even name them in ALTER ROLE. The caller checks them.
 */
export function alterLoginSql(spec: LoginSpec): string {
  return `ALTER ROLE ${quoteIdentifier(spec.role)} WITH ${loginClauses(spec)}`;
}

export function grantSchemaUsageSql(role: string, schemas: string[]): string {
  return `GRANT USAGE ON SCHEMA ${schemas.map(quoteIdentifier).join(', ')} TO ${quoteIdentifier(role)}`;
}

export function grantTablesSql(role: string, privileges: PgPrivilege[], tables: QualifiedName[]): string {
  for (const p of privileges)
    if (!PG_PRIVILEGES.includes(p)) throw new TypeError(`"${p}" is not a table privilege`);
  return `GRANT ${privileges.join(', ')} ON TABLE ${tables.map(quoteQualifiedName).join(', ')} TO ${quoteIdentifier(role)}`;
}

export function grantSequenceUsageSql(role: string, sequences: QualifiedName[]): string {
  return `GRANT USAGE ON SEQUENCE ${sequences.map(quoteQualifiedName).join(', ')} TO ${quoteIdentifier(role)}`;
}

export const SEQUENCE_PRIVILEGES = ['USAGE', 'SELECT', 'UPDATE'] as const;

export function revokeSequenceSql(role: string, privilege: string, sequence: QualifiedName): string {
  if (!(SEQUENCE_PRIVILEGES as readonly string[]).includes(privilege))
    throw new TypeError(`"${privilege}" is not a sequence privilege`);
  return `REVOKE ${privilege} ON SEQUENCE ${quoteQualifiedName(sequence)} FROM ${quoteIdentifier(role)}`;
}
