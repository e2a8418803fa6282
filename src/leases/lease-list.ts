// Lists of leases, newest first, keyset-paginated: the staff API, the agent's own list and the
// console all page through leases this one way.
import { and, count, desc, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { encodeCursor, type Keyset } from '../core/cursor.js';
import type { DbOrTx } from '../db/client.js';
import { type Lease, type LeaseState, leases } from '../db/schema/index.js';

export interface LeaseFilter {
  agent?: string | undefined;
  agentIssuer?: string | undefined;
  taskId?: string | undefined;
  states?: readonly LeaseState[] | undefined;
  template?: string | undefined;
  /** Rows strictly after this position (a decoded cursor). */
  after?: Keyset | undefined;
  limit: number;
}

export async function listLeases(
  db: DbOrTx,
  filter: LeaseFilter,
): Promise<{ items: Lease[]; nextCursor: string | null }> {
  const where: SQL[] = [];
  if (filter.agent !== undefined) where.push(eq(leases.agent, filter.agent));
  if (filter.agentIssuer !== undefined) where.push(eq(leases.agentIssuer, filter.agentIssuer));
  if (filter.taskId !== undefined) where.push(eq(leases.taskId, filter.taskId));
  if (filter.states !== undefined) where.push(inArray(leases.state, [...filter.states]));
  if (filter.template !== undefined) where.push(eq(leases.template, filter.template));
  if (filter.after !== undefined) {
    where.push(
      sql`(${leases.createdAt}, ${leases.id}) < (${filter.after.at.toISOString()}::timestamptz, ${filter.after.id}::uuid)`,
    );
  }
  const rows = await db
    .select()
    .from(leases)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(leases.createdAt), desc(leases.id))
    .limit(filter.limit + 1);
  const items = rows.slice(0, filter.limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > filter.limit && last ? encodeCursor(last) : null };
}

/** How many of these leases are in each state (a bulk revoke's summary). */
export async function countByState(db: DbOrTx, leaseIds: readonly string[]): Promise<Map<string, number>> {
  if (leaseIds.length === 0) return new Map();
  const rows = await db
    .select({ state: leases.state, n: count() })
    .from(leases)
    // One array parameter: a bulk revoke can match more leases than a statement takes parameters.
    .where(sql`${leases.id} = any(${`{${leaseIds.join(',')}}`}::uuid[])`)
    .groupBy(leases.state);
  return new Map(rows.map((r) => [r.state, r.n]));
}
