// Revocation, orphans and an unreachable target, against the machine's PostgreSQL.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Problem } from '../../../src/problem.js';
import {
  freePort,
  grantFor,
  issueInput,
  pgTemplate,
  providerFor,
  roleExists,
  usePostgresProviderHarness,
} from '../../helpers/postgres-provider.js';

const pg = usePostgresProviderHarness();
const { client } = pg;
const template = pgTemplate();

async function issue(expiresAt?: Date) {
  const { provider } = pg.captured;
  const input = issueInput(template, grantFor(provider, template, ['SELECT'], ['public.orders']), {
    expiresAt,
  });
  return { input, ...(await provider.issue(input)) };
}

describe('revoke', () => {
  it('kills a session that is running a query, drops the role and refuses new logins', async () => {
    const { input, credential, revocation } = await issue();
    const reserved = await client(credential).reserve();
    const [backend] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const running = expect(reserved`select pg_sleep(60)`).rejects.toMatchObject({
      code: expect.stringMatching(/^(57P01|CONNECTION_CLOSED)$/),
    });

    await pg.captured.provider.revoke({ leaseId: input.leaseId, revocation, template });

    await running;
    reserved.release();
    expect(await pg.target.sql`select 1 from pg_stat_activity where pid = ${backend!.pid}`).toHaveLength(0);
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    await expect(client(credential)`select 1`).rejects.toMatchObject({ code: '28000' });
  });

  it('kills an idle session, so the client cannot run another query', async () => {
    const { input, credential, revocation } = await issue();
    const sql = client(credential);
    const [backend] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    await pg.captured.provider.revoke({ leaseId: input.leaseId, revocation, template });
    expect(await pg.target.sql`select 1 from pg_stat_activity where pid = ${backend!.pid}`).toHaveLength(0);
    await expect(sql`select count(*) from public.orders`).rejects.toThrow();
  });

  it('removes every privilege the role held, leaving no dependency behind', async () => {
    const { provider } = pg.captured;
    const full = pgTemplate({ privileges: { SELECT: ['public.orders'], INSERT: ['public.orders'] } });
    const input = issueInput(full, grantFor(provider, full, ['SELECT', 'INSERT']));
    const issued = await provider.issue(input);
    await provider.revoke({ leaseId: input.leaseId, revocation: issued.revocation, template: full });
    const left = await pg.target.sql`
      select c.relname from pg_class c, aclexplode(c.relacl) a
      where a.grantee not in (select oid from pg_roles) and c.relnamespace = 'public'::regnamespace`;
    expect(left).toHaveLength(0);
  });

  it('is idempotent: twice, after a manual DROP ROLE, and for a lease that never got a role', async () => {
    const { provider } = pg.captured;
    const { input, credential, revocation } = await issue();
    await provider.revoke({ leaseId: input.leaseId, revocation, template });
    await provider.revoke({ leaseId: input.leaseId, revocation, template });

    const other = await issue();
    await pg.target.sql.unsafe(
      `drop owned by "${other.credential.username}"; drop role "${other.credential.username}"`,
    );
    await provider.revoke({ leaseId: other.input.leaseId, revocation: other.revocation, template });

    await provider.revoke({ leaseId: randomUUID(), revocation: undefined, template });
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
  });

  it('drops the role of an expired lease when the expiry sweep revokes it', async () => {
    const { input, credential, revocation } = await issue(new Date(Date.now() - 1000));
    const [role] = await pg.target
      .sql`select rolvaliduntil from pg_roles where rolname = ${credential.username}`;
    expect(role?.rolvaliduntil.getTime()).toBeLessThan(Date.now());
    await pg.captured.provider.revoke({ leaseId: input.leaseId, revocation, template });
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
  });

  it('runs concurrently from two replicas without either failing', async () => {
    const { input, credential, revocation } = await issue();
    const second = providerFor({ orders: pg.target.url }, pg.target.rolePrefix).provider;
    try {
      await Promise.all([
        pg.captured.provider.revoke({ leaseId: input.leaseId, revocation, template }),
        second.revoke({ leaseId: input.leaseId, revocation, template }),
      ]);
    } finally {
      await second.close();
    }
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
  });
});

describe('orphan reconciliation', () => {
  it('lists the lease ids that have a role, and not other roles with the prefix', async () => {
    const a = await issue();
    const b = await issue();
    const listed = await pg.captured.provider.listBrokerRoles('orders');
    expect(listed).toEqual(expect.arrayContaining([a.input.leaseId, b.input.leaseId]));
    expect(listed.every((id) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    expect(await roleExists(pg.target.sql, pg.target.restrictedAdmin)).toBe(true); // same prefix, not listed

    await pg.captured.provider.revoke({ leaseId: a.input.leaseId, revocation: a.revocation, template });
    expect(await pg.captured.provider.listBrokerRoles('orders')).not.toContain(a.input.leaseId);
  });

  it('drops a role whose lease never recorded its revocation (crash between CREATE ROLE and the lease update)', async () => {
    const { input, credential } = await issue();
    // What the sweeper has for such a lease: its id, and maybe not even the template any more.
    await pg.captured.provider.revoke({ leaseId: input.leaseId, revocation: undefined, template: undefined });
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    expect(await pg.captured.provider.listBrokerRoles('orders')).not.toContain(input.leaseId);
  });
});

describe('an unreachable target', () => {
  it('gives 503 naming the target, for issue, revoke and the orphan listing', async () => {
    const { provider } = providerFor(
      { orders: `postgres://broker:secret@127.0.0.1:${await freePort()}/orders` },
      'jit_',
    );
    try {
      const input = issueInput(template, grantFor(provider, template, ['SELECT']));
      const failure = await provider.issue(input).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(Problem);
      expect(failure).toMatchObject({
        status: 503,
        detail: 'target database "orders" is unreachable',
        headers: { 'Retry-After': '5' },
      });
      expect((failure as Problem).detail).not.toContain('secret');
      await expect(
        provider.revoke({ leaseId: input.leaseId, revocation: undefined, template }),
      ).rejects.toMatchObject({
        status: 503,
      });
      await expect(provider.listBrokerRoles('orders')).rejects.toMatchObject({ status: 503 });
    } finally {
      await provider.close();
    }
  });

  it('gives 503 when the admin cannot log in', async () => {
    const url = new URL(pg.target.url);
    url.username = 'no_such_broker_admin';
    const { provider } = providerFor({ orders: url.toString() }, 'jit_');
    try {
      await expect(
        provider.issue(issueInput(template, grantFor(provider, template, ['SELECT']))),
      ).rejects.toMatchObject({
        status: 503,
        detail: 'target database "orders" is unreachable',
      });
    } finally {
      await provider.close();
    }
  });

  it('gives 503 naming the missing variable when the target has no URL', async () => {
    const { provider } = pg.captured;
    const billing = pgTemplate({ target: 'billing' });
    await expect(
      provider.issue(issueInput(billing, grantFor(provider, billing, ['SELECT']))),
    ).rejects.toMatchObject({
      status: 503,
      detail: 'target database "billing" is not configured (TARGET_BILLING_URL)',
    });
  });
});
