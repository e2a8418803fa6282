// Reconciles dynamic database roles with leases. A crash between CREATE ROLE and the lease update
// can leave a role whose lease ended as `issue_failed`; such roles are dropped here. A role whose
// lease id is unknown to the broker is left alone: it belongs to another deployment (or test)
// sharing the target server, and the broker only ever creates a role after writing its lease.
import type { Logger } from '../../logger.js';
import type { EndedLeases, RevokeInput } from '../types.js';

export interface OrphanSweepDeps {
  targets: readonly string[];
  listBrokerRoles(target: string): Promise<string[]>;
  revoke(input: RevokeInput): Promise<void>;
  logger: Logger;
}

export async function reconcileOrphanRoles(deps: OrphanSweepDeps, ended: EndedLeases): Promise<number> {
  let dropped = 0;
  for (const target of deps.targets) {
    const leaseIds = await deps.listBrokerRoles(target);
    if (leaseIds.length === 0) continue;
    for (const id of await ended(leaseIds)) {
      try {
        await deps.revoke({ leaseId: id, revocation: { target }, template: undefined });
        dropped++;
        deps.logger.warn({ leaseId: id, target }, 'dropped an orphaned database role');
      } catch (error) {
        deps.logger.warn(
          { leaseId: id, target, err: error },
          'could not drop an orphaned database role; will retry',
        );
      }
    }
  }
  return dropped;
}
