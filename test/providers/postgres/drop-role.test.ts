// dropRole's paths against the machine's PostgreSQL: the pipelined common case, a role with a
// session, a role that owns a table, a repeated revoke, and a login still starting up at NOLOGIN.
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { dropRole } from '../../../src/providers/postgres/drop-role.js';
import type { PostgresCredential } from '../../../src/providers/types.js';
import {
  grantFor,
  issueInput,
  pgTemplate,
  roleExists,
  usePostgresProviderHarness,
} from '../../helpers/postgres-provider.js';

const pg = usePostgresProviderHarness();
const template = pgTemplate();

async function issue(): Promise<PostgresCredential> {
  const { provider } = pg.captured;
  const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']));
  return (await provider.issue(input)).credential;
}

/** An admin pool like the provider's, recording the statements it sends in order. */
function tracedPool(url: string, statements: string[]): postgres.Sql {
  return postgres(url, {
    max: 2,
    prepare: true,
    onnotice: () => {},
    debug: (_connection, query) => void statements.push(query.replace(/\s+/g, ' ').trim()),
  });
}

async function roleOid(role: string): Promise<number> {
  const [row] = await pg.target.sql<{ oid: number }[]>`select oid::int from pg_roles where rolname = ${role}`;
  return row!.oid;
}

/** Backends of a role, found by its oid: after DROP ROLE pg_stat_activity no longer names them. */
async function backendsOf(oid: number): Promise<number> {
  const rows = await pg.target.sql`select 1 from pg_stat_activity where usesysid = ${oid}`;
  return rows.length;
}

describe('dropRole', () => {
  it('drops a role without sessions in two round trips: NOLOGIN committed, then the look and DROP ROLE in one transaction', async () => {
    let pipelined = 0;
    // A login starting up anywhere on the server (other test files) sends a revocation to look
    // again, which is correct but not the path under test: of a few, one is enough.
    for (let i = 0; i < 5 && pipelined === 0; i++) {
      const { username: role } = await issue();
      const statements: string[] = [];
      const sql = tracedPool(pg.target.url, statements);
      try {
        expect(await dropRole(sql, role)).toEqual({ existed: true, sessionsTerminated: 0 });
      } finally {
        await sql.end();
      }
      expect(await roleExists(pg.target.sql, role)).toBe(false);
      expect(statements.filter((s) => s.startsWith('ALTER ROLE'))).toHaveLength(1);
      expect(statements.filter((s) => s.startsWith('DROP ROLE'))).toHaveLength(1);
      expect(statements.some((s) => /OWNED BY/.test(s))).toBe(false);
      // From BEGIN on: before it, postgres.js looks up array types when it connects.
      const kinds = statements.slice(statements.indexOf('begin')).map((s) => s.split(' ')[0]!.toLowerCase());
      if (
        kinds.join(' ') ===
        'begin set select alter grant commit select begin select select select drop commit'
      )
        pipelined++;
    }
    expect(pipelined).toBe(1);
  });

  it('terminates a session logged in with the password, and drops the role', async () => {
    const credential = await issue();
    const session = pg.client(credential);
    await session`select count(*) from public.orders`;
    const oid = await roleOid(credential.username);
    expect(await dropRole(pg.target.sql, credential.username)).toEqual({
      existed: true,
      sessionsTerminated: 1,
    });
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    expect(await backendsOf(oid)).toBe(0);
    await expect(session`select 1`).rejects.toThrow();
  });

  it('hands what the role owns to the admin and drops its own privileges, then the role', async () => {
    const credential = await issue();
    const role = credential.username;
    const oid = await roleOid(role);
    await pg.target.sql.unsafe(`grant create on schema public to "${role}"`);
    const session = pg.client(credential);
    await session.unsafe(`create table public."owned_${role}" (id int)`);

    expect(await dropRole(pg.target.sql, role)).toEqual({ existed: true, sessionsTerminated: 1 });

    expect(await roleExists(pg.target.sql, role)).toBe(false);
    const [table] = await pg.target.sql`
      select tableowner = current_user as "toAdmin" from pg_tables
      where schemaname = 'public' and tablename = ${`owned_${role}`}`;
    expect(table?.toAdmin).toBe(true);
    const left = await pg.target.sql`
      select 1 from pg_namespace n, aclexplode(n.nspacl) a where n.nspname = 'public' and a.grantee = ${oid}
      union all select 1 from pg_shdepend where refobjid = ${oid}`;
    expect(left).toHaveLength(0);
  });

  it('is a no-op the second time, with existed false', async () => {
    const { username: role } = await issue();
    expect(await dropRole(pg.target.sql, role)).toEqual({ existed: true, sessionsTerminated: 0 });
    expect(await dropRole(pg.target.sql, role)).toEqual({ existed: false, sessionsTerminated: 0 });
    expect(await roleExists(pg.target.sql, role)).toBe(false);
  });

  it('waits for a login that passed its LOGIN check before NOLOGIN and is still starting up, then ends it', async () => {
    const credential = await issue();
    const oid = await roleOid(credential.username);
    // Any user may ask for a pause after the LOGIN check in its startup packet: the backend is in
    // no pg_stat_activity until it wakes. A revocation that only looked there would drop the role
    // under it, and the session would go on with PUBLIC's privileges.
    const slow = postgres(credential.url, {
      max: 1,
      onnotice: () => {},
      connection: { post_auth_delay: 3 },
    });
    try {
      const first = slow`select 1`.catch(() => 'failed');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const admin = postgres(pg.target.restrictedAdminUrl, { max: 2, onnotice: () => {} });
      try {
        expect(await dropRole(admin, credential.username)).toEqual({ existed: true, sessionsTerminated: 1 });
      } finally {
        await admin.end();
      }
      expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
      expect(await backendsOf(oid)).toBe(0);
      await first;
      await expect(slow`select 1`).rejects.toThrow();
    } finally {
      await slow.end({ timeout: 1 });
    }
  });
});

describe('revoke', () => {
  it('logs the terminated sessions, and a repeated revoke as already gone', async () => {
    const { provider, logs } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']));
    const { credential, revocation } = await provider.issue(input);
    await pg.client(credential)`select 1`;
    await provider.revoke({ leaseId: input.leaseId, revocation, template });
    await provider.revoke({ leaseId: input.leaseId, revocation, template });
    const events = logs
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((e) => e.leaseId === input.leaseId && e.role === credential.username);
    expect(events.map((e) => [e.msg, e.sessionsTerminated])).toEqual([
      ['postgres role issued', undefined],
      ['postgres role dropped', 1],
      ['postgres role already gone', undefined],
    ]);
  });
});
