// Reads pages of leases, newest first, for the staff listing and for an agent's own: one query,
// where an agent's filter always carries its own subject and issuer.
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { type Lease, type LeaseState, leases } from '../db/schema/index.js';

export interface LeaseFilter {
  agent?: string | undefined;
  /** Set for an agent's own listing: a subject is only unique within its issuer. */
  agentIssuer?: string | undefined;
  taskId?: string | undefined;
  state?: LeaseState | undefined;
  template?: string | undefined;
}

/** Strictly before this (created_at, id), so paging is stable under concurrent inserts. */
export interface LeasePosition {
  at: Date;
  id: string;
}

export async function listLeases(
  database: Database,
  filter: LeaseFilter,
  page: { limit: number; after?: LeasePosition | undefined },
): Promise<{ items: Lease[]; more: boolean }> {
  const where: SQL[] = [];
  if (filter.agent !== undefined) where.push(eq(leases.agent, filter.agent));
  if (filter.agentIssuer !== undefined) where.push(eq(leases.agentIssuer, filter.agentIssuer));
  if (filter.taskId !== undefined) where.push(eq(leases.taskId, filter.taskId));
  if (filter.state !== undefined) where.push(eq(leases.state, filter.state));
  if (filter.template !== undefined) where.push(eq(leases.template, filter.template));
  if (page.after !== undefined) {
    where.push(
      sql`(${leases.createdAt}, ${leases.id}) < (${page.after.at.toISOString()}::timestamptz, ${page.after.id}::uuid)`,
    );
  }
  const rows = await database.db
    .select()
    .from(leases)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(leases.createdAt), desc(leases.id))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}
