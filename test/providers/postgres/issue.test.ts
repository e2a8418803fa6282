import { describe, expect, it } from 'vitest';
import { groupRoleFor } from '../../../src/providers/postgres/grants.js';
import {
  grantFor,
  issueInput,
  pgTemplate,
  usePostgresProviderHarness,
} from '../../helpers/postgres-provider.js';

const pg = usePostgresProviderHarness();
const { client } = pg;
const template = pgTemplate();

describe('issue', () => {
  it('returns a credential for a new login role on the target', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']));
    const { credential, revocation } = await provider.issue(input);

    const role = `${pg.target.rolePrefix}${input.leaseId.replaceAll('-', '')}`;
    expect(credential).toEqual({
      type: 'postgres',
      username: role,
      password: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      host: '127.0.0.1',
      port: 5432,
      database: pg.target.name,
      url: expect.stringMatching(
        new RegExp(`^postgres://${role}:[A-Za-z0-9_-]{43}@127\\.0\\.0\\.1:5432/${pg.target.name}$`),
      ),
      expires_at: input.expiresAt.toISOString(),
    });
    expect(revocation).toEqual({ target: 'orders', role, database: pg.target.name });
    expect(JSON.stringify(revocation)).not.toContain(credential.password);
  });

  it('lets the credential run exactly the granted statements and refuses everything else', async () => {
    const { provider } = pg.captured;
    const { credential } = await provider.issue(
      issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders'])),
    );
    const sql = client(credential);

    const [before] = await pg.target.sql`select count(*)::int as n from public.orders`;
    const rows = await sql`select current_user as who, count(*)::int as n from public.orders`;
    expect(rows[0]).toEqual({ who: credential.username, n: before?.n });

    const denied = { code: '42501' }; // insufficient_privilege
    await expect(sql`select * from public.customers`).rejects.toMatchObject(denied);
    await expect(sql`select * from public.secrets`).rejects.toMatchObject(denied);
    await expect(sql`insert into public.orders (customer_id, total) values (1, 1)`).rejects.toMatchObject(
      denied,
    );
    await expect(sql`update public.orders set total = 0`).rejects.toMatchObject(denied);
    await expect(sql`delete from public.orders`).rejects.toMatchObject(denied);
    await expect(sql`create table public.mine (id int)`).rejects.toMatchObject(denied);
    await expect(sql`drop table public.orders`).rejects.toMatchObject(denied);
    await expect(sql`create role other`).rejects.toMatchObject(denied);
    await expect(sql`set role postgres`).rejects.toMatchObject(denied);
    const [after] = await pg.target.sql`select count(*)::int as n from public.orders`;
    expect(after).toEqual(before);
  });

  it('makes INSERT work on a table whose id comes from a serial sequence', async () => {
    const { provider } = pg.captured;
    const { credential } = await provider.issue(
      issueInput(template, grantFor(provider, template, ['INSERT', 'SELECT'], ['public.orders'])),
    );
    const sql = client(credential);
    const [inserted] = await sql`insert into public.orders (customer_id, total) values (2, 5) returning id`;
    expect(inserted?.id).toBeGreaterThan(2);
    await expect(sql`select setval('public.orders_id_seq', 1)`).rejects.toMatchObject({ code: '42501' });
  });

  it('creates the role with LOGIN, the lease expiry, the template connection limit and nothing more', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']));
    const { credential } = await provider.issue(input);
    const [role] = await pg.target.sql`
      select rolcanlogin, rolconnlimit, rolvaliduntil, rolsuper, rolcreatedb, rolcreaterole, rolinherit,
        rolreplication, rolbypassrls,
        array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
          where m.member = r.oid)::text[] as groups
      from pg_roles r where rolname = ${credential.username}`;
    expect(role).toEqual({
      rolcanlogin: true,
      rolconnlimit: template.connection_limit,
      rolvaliduntil: input.expiresAt,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      // Its privileges come from its one membership: the privilege group of its grant.
      rolinherit: true,
      rolreplication: false,
      rolbypassrls: false,
      groups: [groupRoleFor(pg.target.rolePrefix, pg.target.name, input.grant)],
    });
    const [group] = await pg.target.sql`
      select rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
        (select count(*)::int from pg_auth_members where member = r.oid) as memberships
      from pg_roles r where rolname = ${role!.groups[0]}`;
    expect(group).toEqual({
      rolcanlogin: false,
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolreplication: false,
      rolbypassrls: false,
      memberships: 0,
    });
    const grants = await pg.target.sql`
      select table_name, privilege_type from information_schema.role_table_grants
      where grantee = ${role!.groups[0]} order by 1, 2`;
    expect(grants.map((g) => `${g.privilege_type} ${g.table_name}`)).toEqual([
      'SELECT customers',
      'SELECT orders',
    ]);
    // Nothing is granted to the lease role itself.
    const direct = await pg.target.sql`
      select 1 from information_schema.role_table_grants where grantee = ${credential.username}`;
    expect(direct).toHaveLength(0);
  });

  it('shares one privilege group per grant: a table ACL does not grow with the number of leases', async () => {
    const { provider } = pg.captured;
    const prefix = pg.target.rolePrefix;
    const aclOfOrders = async () =>
      pg.target.sql<{ grantee: string }[]>`
        select coalesce(g.rolname, 'PUBLIC') as grantee
        from pg_class c cross join lateral aclexplode(c.relacl) a left join pg_roles g on g.oid = a.grantee
        where c.oid = 'public.orders'::regclass`;
    const write = grantFor(provider, template, ['SELECT', 'INSERT'], ['public.orders']);
    const read = grantFor(provider, template, ['SELECT'], ['public.orders']);
    const before = new Set((await aclOfOrders()).map((a) => a.grantee));
    // Concurrent issues with the same grants: each group is created once, no "tuple concurrently
    // updated", every role a member of its group.
    const issued = await Promise.all(
      Array.from({ length: 24 }, (_, i) => provider.issue(issueInput(template, i % 2 === 0 ? write : read))),
    );
    const after = new Set((await aclOfOrders()).map((a) => a.grantee));
    const added = [...after].filter((g) => !before.has(g));
    expect(
      added.every(
        (g) =>
          g === groupRoleFor(prefix, pg.target.name, write) ||
          g === groupRoleFor(prefix, pg.target.name, read),
      ),
    ).toBe(true);
    expect(
      after.has(groupRoleFor(prefix, pg.target.name, write)) &&
        after.has(groupRoleFor(prefix, pg.target.name, read)),
    ).toBe(true);
    for (const { credential } of issued) expect(after.has(credential.username)).toBe(false);
    const members = await pg.target.sql<{ rolname: string }[]>`
      select m.rolname from pg_auth_members a join pg_roles m on m.oid = a.member
      where a.roleid = (select oid from pg_roles where rolname = ${groupRoleFor(prefix, pg.target.name, write)})`;
    const writers = issued.filter((_, i) => i % 2 === 0).map((i) => i.credential.username);
    expect(members.map((m) => m.rolname)).toEqual(expect.arrayContaining(writers));
  });

  it('grants a privilege group its privileges again when it lost them', async () => {
    const { provider } = pg.captured;
    const grant = grantFor(provider, template, ['SELECT'], ['public.orders']);
    await provider.issue(issueInput(template, grant));
    await pg.target.sql.unsafe(
      `revoke select on public.orders from "${groupRoleFor(pg.target.rolePrefix, pg.target.name, grant)}"`,
    );
    const { credential } = await provider.issue(issueInput(template, grant));
    await expect(client(credential)`select count(*)::int as n from public.orders`).resolves.toHaveLength(1);
  });

  it('stores only a SCRAM verifier on the target and never logs the password', async () => {
    const { provider, logs } = pg.captured;
    const { credential } = await provider.issue(
      issueInput(template, grantFor(provider, template, ['SELECT'])),
    );
    const [stored] = await pg.target
      .sql`select rolpassword from pg_authid where rolname = ${credential.username}`;
    expect(stored?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored?.rolpassword).not.toContain(credential.password);
    expect(logs.some((line) => line.includes(credential.username))).toBe(true);
    expect(logs.join('\n')).not.toContain(credential.password);
    expect(logs.join('\n')).not.toContain(stored?.rolpassword);
  });

  it('is idempotent per lease: a replay sets a fresh password on the same role', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']));
    const first = await provider.issue(input);
    const firstSession = client(first.credential);
    await firstSession`select 1`;

    const second = await provider.issue(input);
    expect(second.credential.username).toBe(first.credential.username);
    expect(second.credential.password).not.toBe(first.credential.password);
    expect(second.revocation).toEqual(first.revocation);
    await expect(client(second.credential)`select id from public.orders`).resolves.not.toHaveLength(0);
    // The session opened with the first password is not disturbed by the replay.
    await expect(firstSession`select count(*) from public.orders`).resolves.toHaveLength(1);
  });

  it('issues concurrently for the same lease without a duplicate-role error', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']));
    const results = await Promise.all([provider.issue(input), provider.issue(input), provider.issue(input)]);
    expect(new Set(results.map((r) => r.credential.username)).size).toBe(1);
  });

  it('creates nothing when a ceiling table does not exist on the target', async () => {
    const { provider } = pg.captured;
    const ghost = pgTemplate({ privileges: { SELECT: ['public.orders', 'public.ghost'] } });
    const input = issueInput(ghost, grantFor(provider, ghost, ['SELECT']));
    await expect(provider.issue(input)).rejects.toMatchObject({
      status: 502,
      detail: 'table public.ghost does not exist on target database "orders"',
    });
    expect(await provider.listBrokerRoles('orders')).not.toContain(input.leaseId);
  });
});

describe('renew', () => {
  it('moves VALID UNTIL to the new expiry and hands out a fresh password for the same role', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']));
    const issued = await provider.issue(input);
    const session = client(issued.credential);
    await session`select 1`;

    const expiresAt = new Date(input.expiresAt.getTime() + 600_000);
    const renewed = await provider.renew({ ...input, expiresAt, revocation: issued.revocation });
    expect(renewed.credential).toMatchObject({
      username: issued.credential.username,
      expires_at: expiresAt.toISOString(),
    });
    expect(renewed.revocation).toEqual(issued.revocation);
    const [role] = await pg.target
      .sql`select rolvaliduntil from pg_roles where rolname = ${issued.credential.username}`;
    expect(role?.rolvaliduntil).toEqual(expiresAt);
    await expect(session`select count(*) from public.orders`).resolves.toHaveLength(1);
    await expect(client(renewed.credential)`select count(*) from public.orders`).resolves.toHaveLength(1);
  });

  it('never brings back a role that is gone or being revoked', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']));
    const issued = await provider.issue(input);
    await pg.target.sql.unsafe(`alter role "${issued.credential.username}" nologin`);
    await expect(provider.renew({ ...input, revocation: issued.revocation })).rejects.toMatchObject({
      status: 409,
    });
    await expect(provider.issue(input)).rejects.toMatchObject({ status: 409 });

    await provider.revoke({ leaseId: input.leaseId, revocation: issued.revocation, template });
    await expect(provider.renew({ ...input, revocation: issued.revocation })).rejects.toMatchObject({
      status: 409,
      detail: `the role of lease ${input.leaseId} no longer exists on target database "orders"`,
    });
    const [gone] = await pg.target
      .sql`select count(*)::int as n from pg_roles where rolname = ${issued.credential.username}`;
    expect(gone).toEqual({ n: 0 });
  });
});
