// What an attacker (or a careless policy author) tries: hostile identifiers, tampered lease data,
// a role widened behind the broker's back, and an admin that lacks a grant option.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { groupRoleFor } from '../../../src/providers/postgres/grants.js';
import type { PgGrant } from '../../../src/providers/postgres/index.js';
import {
  grantFor,
  issueInput,
  pgTemplate,
  providerFor,
  roleExists,
  usePostgresProviderHarness,
} from '../../helpers/postgres-provider.js';
import {
  createTargetDatabase,
  HOSTILE_TABLE,
  QUOTE_DOT_TABLE,
  VICTIM_TABLE,
} from '../../helpers/target-db.js';

const pg = usePostgresProviderHarness();
const { client } = pg;
const template = pgTemplate();

async function victimIsIntact(): Promise<void> {
  const rows = await pg.target.sql.unsafe(`select count(*)::int as n from public.${VICTIM_TABLE}`);
  expect(rows[0]).toEqual({ n: 1 });
}

describe('hostile identifiers', () => {
  it('grants a table named like SQL as a table, from the ceiling and from the intent', async () => {
    const { provider } = pg.captured;
    const hostile = pgTemplate({
      privileges: { SELECT: ['public.orders', 'public."x; DROP TABLE y"', 'public."odd"".name"'] },
    });
    const input = issueInput(
      hostile,
      grantFor(provider, hostile, ['SELECT'], ['public."x; DROP TABLE y"', 'public."odd"".name"']),
    );
    const { credential } = await provider.issue(input);
    const sql = client(credential);

    await expect(sql.unsafe(`select id from public."${HOSTILE_TABLE}"`)).resolves.toEqual([{ id: 7 }]);
    await expect(
      sql.unsafe(`select count(*)::int as n from public."${QUOTE_DOT_TABLE.replaceAll('"', '""')}"`),
    ).resolves.toEqual([{ n: 0 }]);
    await expect(sql`select * from public.orders`).rejects.toMatchObject({ code: '42501' });
    await victimIsIntact();
    const grants = await pg.target.sql`
      select table_name from information_schema.role_table_grants
      where grantee = ${groupRoleFor(pg.target.rolePrefix, pg.target.name, input.grant)} order by 1`;
    expect(grants.map((g) => g.table_name)).toEqual([HOSTILE_TABLE, QUOTE_DOT_TABLE].sort());
  });

  it.each<[string, PgGrant]>([
    [
      'a table name',
      { privileges: ['SELECT'], tables: [{ schema: 'public', name: 'y" TO PUBLIC; DROP TABLE y; --' }] },
    ],
    [
      'a schema name',
      { privileges: ['SELECT'], tables: [{ schema: 'public"; DROP TABLE y; --', name: 'orders' }] },
    ],
  ])('treats %s in a tampered grant from the lease row as a name that does not exist', async (_, grant) => {
    const { provider } = pg.captured;
    const input = issueInput(template, grant);
    await expect(provider.issue(input)).rejects.toMatchObject({
      status: 502,
      detail: expect.stringContaining('does not exist'),
    });
    await victimIsIntact();
    expect(await provider.listBrokerRoles('orders')).not.toContain(input.leaseId);
  });

  it('refuses a tampered grant whose privilege is not a privilege, before touching the target', async () => {
    const { provider } = pg.captured;
    const grant = {
      privileges: ['SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC; --'],
      tables: [{ schema: 'public', name: 'orders' }],
    } as unknown as PgGrant; // a lease row is JSON: the provider must not trust its shape
    const input = issueInput(template, grant);
    await expect(provider.issue(input)).rejects.toThrow(/grant names/);
    await victimIsIntact();
    expect(await provider.listBrokerRoles('orders')).not.toContain(input.leaseId);
  });

  it('refuses a lease id that is not a UUID instead of deriving a role name from it', async () => {
    const { provider } = pg.captured;
    const input = {
      ...issueInput(template, grantFor(provider, template, ['SELECT'])),
      leaseId: 'x"; DROP TABLE y; --',
    };
    await expect(provider.issue(input)).rejects.toThrow(/not a UUID/);
    await victimIsIntact();
  });
});

describe('revocation data', () => {
  it('never drops a role that is not the lease’s own, whatever the stored revocation says', async () => {
    const { provider } = pg.captured;
    const other = await provider.issue(issueInput(template, grantFor(provider, template, ['SELECT'])));
    for (const role of ['postgres', pg.target.restrictedAdmin, other.credential.username]) {
      await expect(
        provider.revoke({
          leaseId: randomUUID(),
          revocation: { target: 'orders', role, database: pg.target.name },
          template,
        }),
      ).rejects.toThrow(/is not this lease's role/);
      expect(await roleExists(pg.target.sql, role)).toBe(true);
    }
  });
});

describe('a role changed behind the broker’s back', () => {
  it.each([
    ['an attribute', (role: string) => `alter role "${role}" createdb`],
    ['a membership', (role: string) => `grant pg_read_all_data to "${role}"`],
  ])('is not handed out again when it gained %s', async (_, widen) => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']));
    const { credential } = await provider.issue(input);
    await pg.target.sql.unsafe(widen(credential.username));
    await expect(provider.issue(input)).rejects.toMatchObject({
      status: 502,
      detail: expect.stringContaining('has attributes or memberships the broker never grants'),
    });
  });
});

describe('connection limit', () => {
  it('caps the sessions the credential can hold at the template limit', async () => {
    const { provider } = pg.captured;
    const one = pgTemplate({ connection_limit: 1 });
    const { credential } = await provider.issue(issueInput(one, grantFor(provider, one, ['SELECT'])));
    await client(credential)`select 1`;
    await expect(client(credential)`select 1`).rejects.toMatchObject({ code: '53300' });
  });
});

describe('a non-superuser target admin', () => {
  it('issues, serves INSERT on a serial table, and revokes with only CREATEROLE and grant options', async () => {
    const restricted = providerFor({ orders: pg.target.restrictedAdminUrl }, pg.target.rolePrefix).provider;
    try {
      const writer = pgTemplate({ privileges: { SELECT: ['public.orders'], INSERT: ['public.orders'] } });
      const input = issueInput(writer, grantFor(restricted, writer, ['SELECT', 'INSERT']));
      const { credential, revocation } = await restricted.issue(input);
      const sql = client(credential);
      await expect(
        sql`insert into public.orders (customer_id, total) values (1, 3) returning id`,
      ).resolves.toHaveLength(1);
      const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;

      await restricted.revoke({ leaseId: input.leaseId, revocation, template: writer });
      expect(await pg.target.sql`select 1 from pg_stat_activity where pid = ${backend!.pid}`).toHaveLength(0);
      expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    } finally {
      await restricted.close();
    }
  });

  it('reports a privilege it cannot grant instead of silently granting less', async () => {
    await pg.target.sql.unsafe(
      `revoke grant option for select on public.secrets from "${pg.target.restrictedAdmin}"`,
    );
    const restricted = providerFor({ orders: pg.target.restrictedAdminUrl }, pg.target.rolePrefix).provider;
    try {
      const secrets = pgTemplate({ privileges: { SELECT: ['public.orders', 'public.secrets'] } });
      const input = issueInput(secrets, grantFor(restricted, secrets, ['SELECT']));
      await expect(restricted.issue(input)).rejects.toMatchObject({
        status: 502,
        detail:
          'the admin role of target database "orders" could not grant SELECT on table public.secrets (it needs each privilege WITH GRANT OPTION)',
      });
      expect(await restricted.listBrokerRoles('orders')).not.toContain(input.leaseId);
    } finally {
      await restricted.close();
    }
  });
});

describe('two targets on one PostgreSQL cluster', () => {
  it('give the same grant two privilege groups: a lease of one cannot use it in the other database', async () => {
    const other = await createTargetDatabase();
    // One provider, one role prefix, two targets whose tables have the same names.
    const both = providerFor({ orders: pg.target.url, billing: other.url }, pg.target.rolePrefix).provider;
    try {
      const ordersTemplate = pgTemplate();
      const billingTemplate = pgTemplate({ name: 'billing-db', target: 'billing' });
      const grant = grantFor(both, ordersTemplate, ['SELECT'], ['public.orders']);
      const inOrders = await both.issue(issueInput(ordersTemplate, grant));
      const inBilling = await both.issue(issueInput(billingTemplate, grant));

      await expect(
        client(inOrders.credential)`select count(*)::int as n from public.orders`,
      ).resolves.toHaveLength(1);
      // The same role, logged in to the other database (PUBLIC may CONNECT by default).
      const crossed = client({
        ...inOrders.credential,
        url: inOrders.credential.url.replace(`/${pg.target.name}`, `/${other.name}`),
      });
      await expect(crossed`select count(*) from public.orders`).rejects.toMatchObject({ code: '42501' });
      await expect(
        client(inBilling.credential)`select count(*)::int as n from public.orders`,
      ).resolves.toHaveLength(1);
      expect(groupRoleFor(pg.target.rolePrefix, pg.target.name, grant)).not.toBe(
        groupRoleFor(pg.target.rolePrefix, other.name, grant),
      );
    } finally {
      await pg.closeClients();
      await both.close();
      // Drop the other database first: the groups made there hold privileges in it.
      await other.drop();
    }
  });
});
