import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  formatQualifiedName,
  parseQualifiedName,
  quoteIdentifier,
  quoteSafeLiteral,
} from '../../../src/providers/postgres/identifiers.js';
import {
  generatePassword,
  SCRAM_VERIFIER,
  scramSha256Verifier,
} from '../../../src/providers/postgres/password.js';
import { createRoleSql, leaseIdOfRole, roleNameFor } from '../../../src/providers/postgres/role-sql.js';

describe('table names', () => {
  it('reads bare names case-folded and quoted names as written, as PostgreSQL does', () => {
    expect(parseQualifiedName('public.orders')).toEqual({
      ok: true,
      value: { schema: 'public', name: 'orders' },
    });
    expect(parseQualifiedName('PUBLIC.Orders')).toEqual({
      ok: true,
      value: { schema: 'public', name: 'orders' },
    });
    expect(parseQualifiedName('"public"."Orders"')).toEqual({
      ok: true,
      value: { schema: 'public', name: 'Orders' },
    });
    expect(parseQualifiedName('public."x; DROP TABLE y"')).toEqual({
      ok: true,
      value: { schema: 'public', name: 'x; DROP TABLE y' },
    });
    expect(parseQualifiedName('public."odd"".name"')).toEqual({
      ok: true,
      value: { schema: 'public', name: 'odd".name' },
    });
  });

  it.each([
    ['orders', 'schema-qualified'],
    ['db.public.orders', 'exactly schema.table'],
    ['public.', 'expected a name'],
    ['public.""', 'cannot be empty'],
    ['public."orders', 'unterminated'],
    ['public.orders; DROP TABLE y', 'unexpected ";"'],
    ['public.orders" ; DROP TABLE y; --', 'unexpected """'],
    [' public.orders', 'expected a name'],
    ['public. orders', 'expected a name'],
    [`public.${'a'.repeat(64)}`, 'at most 63 bytes'],
    [`public."${'é'.repeat(32)}"`, 'at most 63 bytes'],
    ['public."a\0b"', 'NUL'],
  ])('refuses %j (%s)', (input, message) => {
    const parsed = parseQualifiedName(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(message);
  });

  it('has one canonical spelling per table, quoting only where needed', () => {
    const canonical = (s: string) => {
      const parsed = parseQualifiedName(s);
      if (!parsed.ok) throw new Error(parsed.error);
      return formatQualifiedName(parsed.value);
    };
    expect(canonical('"public"."orders"')).toBe('public.orders');
    expect(canonical('Public.ORDERS')).toBe('public.orders');
    expect(canonical('public."Orders"')).toBe('public."Orders"');
    expect(canonical('public."a.b"')).toBe('public."a.b"');
    expect(canonical('"a.b".c')).not.toBe(canonical('a."b.c"'));
  });
});

describe('quoting', () => {
  it('doubles embedded quotes and keeps dots inside the identifier', () => {
    expect(quoteIdentifier('orders')).toBe('"orders"');
    expect(quoteIdentifier('x"; DROP TABLE y; --')).toBe('"x""; DROP TABLE y; --"');
    expect(quoteIdentifier('a.b')).toBe('"a.b"');
  });

  it('refuses identifiers PostgreSQL would truncate or cannot carry', () => {
    expect(() => quoteIdentifier('a'.repeat(64))).toThrow(/63 bytes/);
    expect(() => quoteIdentifier('a\0b')).toThrow(/NUL/);
    expect(() => quoteIdentifier('')).toThrow(/empty/);
    expect(() => quoteIdentifier('a\uD800')).toThrow(/Unicode/);
  });

  it('refuses a literal with a quote or backslash whatever the pattern says', () => {
    expect(quoteSafeLiteral('2030-01-01', /^[\d-]+$/)).toBe("'2030-01-01'");
    expect(() => quoteSafeLiteral("x' OR '1", /.*/)).toThrow();
    expect(() => quoteSafeLiteral('x\\', /.*/)).toThrow();
    expect(() => quoteSafeLiteral('abc', /^\d+$/)).toThrow();
  });
});

describe('role names and passwords', () => {
  const leaseId = '3f2b8c1e-9a4d-4e6f-b7a8-0c1d2e3f4a5b';

  it('derives a safe role name of at most 63 bytes from the lease id, and back', () => {
    const role = roleNameFor('jit_', leaseId);
    expect(role).toBe('jit_3f2b8c1e9a4d4e6fb7a80c1d2e3f4a5b');
    expect(role).toMatch(/^[a-z0-9_]+$/);
    expect(Buffer.byteLength(roleNameFor(`${'p'.repeat(31)}`, leaseId))).toBeLessThanOrEqual(63);
    expect(leaseIdOfRole('jit_', role)).toBe(leaseId);
    expect(leaseIdOfRole('jit_', 'jit_admin')).toBeUndefined();
    expect(leaseIdOfRole('jit_', 'postgres')).toBeUndefined();
  });

  it('refuses a lease id that is not a UUID', () => {
    expect(() => roleNameFor('jit_', 'x"; DROP ROLE postgres; --')).toThrow(/not a UUID/);
  });

  it('generates 256-bit passwords that need no escaping', () => {
    const passwords = new Set(Array.from({ length: 50 }, generatePassword));
    expect(passwords.size).toBe(50);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('sends a SCRAM-SHA-256 verifier, never the password, in CREATE ROLE', async () => {
    const password = generatePassword();
    const verifier = await scramSha256Verifier(password);
    expect(verifier).toMatch(SCRAM_VERIFIER);
    const statement = createRoleSql({
      role: roleNameFor('jit_', leaseId),
      verifier,
      validUntil: new Date('2030-01-01T00:00:00Z'),
      connectionLimit: 3,
    });
    expect(statement).not.toContain(password);
    expect(statement).toBe(
      `CREATE ROLE "jit_3f2b8c1e9a4d4e6fb7a80c1d2e3f4a5b" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 3 PASSWORD '${verifier}' VALID UNTIL '2030-01-01T00:00:00.000Z'`,
    );
  });

  it('stores keys that answer the RFC 7677 example exchange', async () => {
    // RFC 7677 section 3: user "user", password "pencil". The server's keys must verify the
    // client's proof and reproduce the server signature of that exchange.
    const verifier = await scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    const [, keys] = /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$(.+)$/.exec(verifier) ?? [];
    const [storedKey, serverKey] = (keys ?? '').split(':').map((k) => Buffer.from(k, 'base64'));
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    const hmac = (key: Buffer, text: string) => createHmac('sha256', key).update(text).digest();
    expect(hmac(serverKey!, authMessage).toString('base64')).toBe(
      '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    );
    const proof = Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64');
    const signature = hmac(storedKey!, authMessage);
    const clientKey = Buffer.from(proof.map((byte, i) => byte ^ signature[i]!));
    expect(createHash('sha256').update(clientKey).digest().equals(storedKey!)).toBe(true);
  });
});
