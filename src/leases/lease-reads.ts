// Reads of lease rows for the API: an agent's own lease (someone else's is a 404, never a 403),
// and any lease by id for staff and the console.
import { and, eq, inArray, notInArray } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { type Lease, leases } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { problems } from '../problem.js';

/** The caller's own lease, or 404 (someone else's lease must not be distinguishable from none). */
export async function getOwnedLease(db: DbOrTx, identity: WorkloadIdentity, leaseId: string): Promise<Lease> {
  const [row] = await db
    .select()
    .from(leases)
    .where(
      and(
        eq(leases.id, leaseId),
        eq(leases.agent, identity.subject),
        eq(leases.agentIssuer, identity.issuer),
      ),
    )
    .limit(1);
  if (!row) throw problems.notFound(`no lease ${leaseId}`);
  return row;
}

export async function getLease(db: DbOrTx, leaseId: string): Promise<Lease | undefined> {
  const [row] = await db.select().from(leases).where(eq(leases.id, leaseId)).limit(1);
  return row;
}

/** Of these lease ids, the ones whose lease is over: nothing may exist for them at a target. */
export async function endedLeases(db: DbOrTx, leaseIds: readonly string[]): Promise<string[]> {
  if (leaseIds.length === 0) return [];
  const rows = await db
    .select({ id: leases.id })
    .from(leases)
    .where(
      and(
        inArray(leases.id, [...leaseIds]),
        notInArray(leases.state, ['issuing', 'active', 'revoking', 'revoke_failed', 'pending_approval']),
      ),
    );
  return rows.map((r) => r.id);
}

/** The state and expiry of a JWT lease (what introspection answers from), or undefined. */
export async function jwtLeaseState(
  db: DbOrTx,
  leaseId: string,
): Promise<{ state: Lease['state']; expiresAt: Date } | undefined> {
  const [row] = await db
    .select({ state: leases.state, expiresAt: leases.expiresAt })
    .from(leases)
    .where(and(eq(leases.id, leaseId), eq(leases.provider, 'jwt')))
    .limit(1);
  return row;
}
