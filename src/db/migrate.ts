// Applies the committed SQL migrations in `migrations/` at start. All pending migrations run in
// one transaction holding an advisory lock, so replicas starting together apply them once.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

// Arbitrary but fixed: "jitbrkr" as a 64-bit advisory lock key.
const MIGRATION_LOCK_KEY = 0x6a6974626b72n;

interface Journal {
  entries: { idx: number; tag: string }[];
}

export interface Migration {
  tag: string;
  hash: string;
  statements: string[];
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const journal = JSON.parse(await readFile(path.join(dir, 'meta', '_journal.json'), 'utf8')) as Journal;
  const entries = [...journal.entries].sort((a, b) => a.idx - b.idx);
  return Promise.all(
    entries.map(async ({ tag }) => {
      const text = await readFile(path.join(dir, `${tag}.sql`), 'utf8');
      return {
        tag,
        hash: createHash('sha256').update(text).digest('hex'),
        statements: text
          .split('--> statement-breakpoint')
          .map((s) => s.trim())
          .filter(Boolean),
      };
    }),
  );
}

/** Returns the tags applied by this call (empty when the schema was already current). */
export async function migrate(sql: postgres.Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await readMigrations(dir);
  return sql.begin(async (tx) => {
    // Waiting for another replica's migration, or a long ALTER, is expected here: no request timeouts.
    await tx`set local lock_timeout = 0`;
    await tx`set local statement_timeout = 0`;
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    await tx`create table if not exists broker_migrations (
      tag text primary key, hash text not null, applied_at timestamptz not null default now())`;
    const applied = new Map(
      (await tx<{ tag: string; hash: string }[]>`select tag, hash from broker_migrations`).map((r) => [
        r.tag,
        r.hash,
      ]),
    );
    const done: string[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.tag);
      if (previous !== undefined) {
        if (previous !== m.hash) throw new Error(`migration ${m.tag} was changed after it was applied`);
        continue;
      }
      for (const statement of m.statements) await tx.unsafe(statement);
      await tx`insert into broker_migrations (tag, hash) values (${m.tag}, ${m.hash})`;
      done.push(m.tag);
    }
    return done;
  });
}

/** True when every committed migration is recorded as applied (for /readyz). */
export async function migrationsCurrent(sql: postgres.Sql, expected: readonly string[]): Promise<boolean> {
  const rows = await sql<{ tag: string }[]>`select tag from broker_migrations`;
  const have = new Set(rows.map((r) => r.tag));
  return expected.every((t) => have.has(t));
}
