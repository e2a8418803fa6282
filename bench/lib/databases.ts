// Throw-away databases on the machine's PostgreSQL for one bench run: created (and migrated
// exactly as the broker migrates at start) on demand, all dropped when the run ends, even when a
// scenario fails.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { migrate } from '../../src/db/migrate.js';

export const ADMIN_URL =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  /** A small pool for seeding and polling from the runner (never the broker's own pool). */
  sql: postgres.Sql;
}

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export class BenchDatabases {
  readonly #created: BenchDatabase[] = [];

  /** A new database; `migrated` applies the broker's migrations (the broker would do it anyway). */
  async create(label: string, opts: { migrated: boolean } = { migrated: true }): Promise<BenchDatabase> {
    const name = `jit_bench_${label}_${randomBytes(4).toString('hex')}`;
    await withAdmin((admin) => admin.unsafe(`create database "${name}"`));
    const url = databaseUrl(name);
    const sql = postgres(url, { max: 4, onnotice: () => {}, connection: { application_name: 'jit-bench' } });
    const db: BenchDatabase = { name, url, sql };
    this.#created.push(db);
    if (opts.migrated) await migrate(sql);
    return db;
  }

  async drop(db: BenchDatabase): Promise<void> {
    const index = this.#created.indexOf(db);
    if (index >= 0) this.#created.splice(index, 1);
    await db.sql.end({ timeout: 5 }).catch(() => undefined);
    await withAdmin((admin) => admin.unsafe(`drop database if exists "${db.name}" with (force)`));
  }

  async dropAll(): Promise<void> {
    for (const db of [...this.#created].reverse()) {
      await this.drop(db).catch((error: unknown) => {
        process.stderr.write(`bench: could not drop database ${db.name}: ${String(error)}\n`);
      });
    }
  }
}

export async function withAdmin<T>(work: (admin: postgres.Sql) => Promise<T>): Promise<T> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    return await work(admin);
  } finally {
    await admin.end({ timeout: 5 });
  }
}
