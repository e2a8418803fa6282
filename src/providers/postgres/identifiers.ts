// SQL identifiers and literals for the DDL the postgres provider sends: table names parsed the way
// PostgreSQL resolves them, and quoting that no name from a policy file or an intent can escape.

/** A relation as PostgreSQL resolves it: schema and name, unquoted and case-folded. */
export interface QualifiedName {
  schema: string;
  name: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** NAMEDATALEN - 1: PostgreSQL silently truncates longer identifiers, so they are refused here. */
export const MAX_IDENTIFIER_BYTES = 63;

const UNQUOTED_PART = /^[A-Za-z_][A-Za-z0-9_$]*/;
const BARE_SAFE = /^[a-z_][a-z0-9_$]*$/;
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `name` cannot be an identifier, or undefined when it can. */
export function identifierProblem(name: string): string | undefined {
  if (name.length === 0) return 'an identifier cannot be empty';
  // NUL ends a string in the server; the protocol cannot carry it.
  if (name.includes('\0')) return 'an identifier cannot contain NUL';
  if (LONE_SURROGATE.test(name)) return 'an identifier must be well-formed Unicode';
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    return `an identifier is at most ${MAX_IDENTIFIER_BYTES} bytes (PostgreSQL would truncate it)`;
  }
  return undefined;
}

/**
 * Quotes an identifier exactly as the server's quote_ident() does when quoting is needed: inside
 * double quotes the only special character is the double quote itself, written twice; there are
 * no backslash escapes. (postgres.js's `sql(name)` helper also splits on dots, which would turn
 * a table named `a.b` into `"a"."b"`, so it is not used for relation names.) The connection's
 * client_encoding is UTF8, which has no multi-byte sequence that could hide a quote byte.
 */
export function quoteIdentifier(name: string): string {
  const problem = identifierProblem(name);
  if (problem !== undefined) throw new TypeError(`refusing to quote identifier: ${problem}`);
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteQualifiedName(q: QualifiedName): string {
  return `${quoteIdentifier(q.schema)}.${quoteIdentifier(q.name)}`;
}

/**
 * A string literal for the few DDL positions that take no bind parameters (PASSWORD, VALID UNTIL).
 * Only values matching `allowed` are accepted, and `allowed` must exclude quotes and backslashes:
 * the value is then the literal whatever standard_conforming_strings says.
 */
export function quoteSafeLiteral(value: string, allowed: RegExp): string {
  if (!allowed.test(value) || /['\\\0]/.test(value))
    throw new TypeError('refusing to quote an unexpected literal');
  return `'${value}'`;
}

/**
 * Parses `schema.table`, each part either bare (folded to lower case, as PostgreSQL does) or in
 * double quotes (`""` for a quote, kept as written). Exactly two parts: an unqualified name would
 * resolve through the search_path of whoever connects, which is not a ceiling.
 */
export function parseQualifiedName(input: string): Parsed<QualifiedName> {
  const parts: string[] = [];
  let rest = input;
  for (;;) {
    const part = readPart(rest);
    if (!part.ok) return part;
    parts.push(part.value.name);
    rest = rest.slice(part.value.length);
    if (rest === '') break;
    if (!rest.startsWith('.'))
      return {
        ok: false,
        error: `unexpected "${rest[0]}" after ${parts.length === 1 ? 'schema' : 'table'} name`,
      };
    rest = rest.slice(1);
  }
  if (parts.length !== 2) {
    return {
      ok: false,
      error: parts.length === 1 ? 'must be schema-qualified (schema.table)' : 'must be exactly schema.table',
    };
  }
  for (const part of parts) {
    const problem = identifierProblem(part);
    if (problem !== undefined) return { ok: false, error: problem };
  }
  return { ok: true, value: { schema: parts[0]!, name: parts[1]! } };
}

function readPart(text: string): Parsed<{ name: string; length: number }> {
  if (text.startsWith('"')) {
    let name = '';
    for (let i = 1; i < text.length; i++) {
      if (text[i] !== '"') {
        name += text[i];
      } else if (text[i + 1] === '"') {
        name += '"';
        i++;
      } else {
        if (name === '') return { ok: false, error: 'a quoted identifier cannot be empty' };
        return { ok: true, value: { name, length: i + 1 } };
      }
    }
    return { ok: false, error: 'unterminated quoted identifier' };
  }
  const bare = UNQUOTED_PART.exec(text);
  if (bare === null)
    return { ok: false, error: 'expected a name (letters, digits, _ and $, or a "quoted" name)' };
  return { ok: true, value: { name: bare[0].toLowerCase(), length: bare[0].length } };
}

/** The canonical spelling: bare where PostgreSQL would read it back unchanged, quoted otherwise. */
export function formatQualifiedName(q: QualifiedName): string {
  const part = (p: string) => (BARE_SAFE.test(p) ? p : `"${p.replaceAll('"', '""')}"`);
  return `${part(q.schema)}.${part(q.name)}`;
}
