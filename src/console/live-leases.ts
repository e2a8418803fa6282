// The leases the console lists: those a credential may still exist for (issuing, active,
// revoking, revoke_failed), newest first, keyset-paginated like GET /v1/leases.
import { and, desc, inArray, type SQL, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { LIVE_STATES, leases } from '../db/schema/index.js';
import { type LeaseDetailView, toLeaseDetailView } from '../leases/lease-view.js';
import { problems } from '../problem.js';

export const LEASE_PAGE_SIZE = 50;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface LiveLeasePage {
  items: LeaseDetailView[];
  nextCursor: string | null;
}

/** Cursor = base64url("<created_at ms>:<id>"). */
function decodeCursor(cursor: string): { at: Date; id: string } {
  const match = /^(\d{1,16}):([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || !UUID_PATTERN.test(match[2]!))
    throw problems.badRequest('that page link is not one this console made');
  return { at: new Date(Number(match[1])), id: match[2]! };
}

export async function listLiveLeases(db: DbOrTx, cursor: string | undefined): Promise<LiveLeasePage> {
  const where: SQL[] = [inArray(leases.state, [...LIVE_STATES])];
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (after !== undefined) {
    where.push(
      sql`(${leases.createdAt}, ${leases.id}) < (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)`,
    );
  }
  const rows = await db
    .select()
    .from(leases)
    .where(and(...where))
    .orderBy(desc(leases.createdAt), desc(leases.id))
    .limit(LEASE_PAGE_SIZE + 1);
  const page = rows.slice(0, LEASE_PAGE_SIZE);
  const last = page.at(-1);
  const nextCursor =
    rows.length > LEASE_PAGE_SIZE && last
      ? Buffer.from(`${last.createdAt.getTime()}:${last.id}`).toString('base64url')
      : null;
  return { items: page.map(toLeaseDetailView), nextCursor };
}
