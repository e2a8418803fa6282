// Reconciles dynamic database roles with leases. A crash between CREATE ROLE and the lease update
// can leave a role whose lease ended as `issue_failed`; such roles are dropped here. A role whose
// lease id is unknown to this database is left alone: it belongs to another deployment (or test)
// sharing the target server, and the broker only ever creates a role after writing its lease.
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { PostgresProvider } from '../providers/postgres/postgres-provider.js';

export async function reconcileOrphanRoles(
  db: Db,
  provider: PostgresProvider,
  targets: readonly string[],
  logger: Logger,
): Promise<number> {
  let dropped = 0;
  for (const target of targets) {
    const leaseIds = await provider.listBrokerRoles(target);
    if (leaseIds.length === 0) continue;
    const rows = await db.execute<{ id: string }>(
      sql`select id from leases where id in ${leaseIds} and state not in ('issuing', 'active', 'revoking', 'revoke_failed', 'pending_approval')`,
    );
    for (const { id } of rows) {
      try {
        await provider.revoke({ leaseId: id, revocation: { target }, template: undefined });
        dropped++;
        logger.warn({ leaseId: id, target }, 'dropped an orphaned database role');
      } catch (error) {
        logger.warn(
          { leaseId: id, target, err: error },
          'could not drop an orphaned database role; will retry',
        );
      }
    }
  }
  return dropped;
}
