// The leases the console lists: those a credential may still exist for (issuing, active,
// revoking, revoke_failed), newest first, keyset-paginated like GET /v1/leases.
import { decodeCursor } from '../../core/cursor.js';
import type { DbOrTx } from '../../db/client.js';
import { LIVE_STATES } from '../../db/schema/index.js';
import { listLeases } from '../../leases/lease-list.js';
import { type LeaseDetailView, toLeaseDetailView } from '../../leases/lease-view.js';
import { problems } from '../../problem.js';

export const LEASE_PAGE_SIZE = 50;

export interface LiveLeasePage {
  items: LeaseDetailView[];
  nextCursor: string | null;
}

export async function listLiveLeases(db: DbOrTx, cursor: string | undefined): Promise<LiveLeasePage> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  if (cursor !== undefined && after === undefined)
    throw problems.badRequest('that page link is not one this console made');
  const page = await listLeases(db, { states: LIVE_STATES, after, limit: LEASE_PAGE_SIZE });
  return { items: page.items.map(toLeaseDetailView), nextCursor: page.nextCursor };
}
