// Who may review a step-up request. Not a Cedar decision (DESIGN): membership in the @step_up
// group, minus the agent that asked and the human it acts for. Each check is one line with its
// own problem, in the order a reviewer reads them.
import type { Approval, Lease } from '../db/schema/index.js';
import type { HumanIdentity } from '../identity/types.js';
import { problems } from '../problem.js';

/**
 * Subjects are compared without their issuer: staff come from one IdP, and a same-named subject
 * at a renamed issuer URL is far more likely the same person than a different one. Refusing that
 * corner case is the safe side of the trade.
 */
function isSamePerson(staff: HumanIdentity, subject: string): boolean {
  return staff.subject === subject;
}

/** Throws a 403 problem unless `staff` may vote to approve this request. */
export function assertMayApprove(staff: HumanIdentity, approval: Approval, lease: Lease): void {
  if (!staff.groups.includes(approval.group)) {
    throw problems.forbidden(`only members of "${approval.group}" may approve this request`);
  }
  if (isSamePerson(staff, lease.agent)) {
    throw problems.forbidden('the agent that made a request may not approve it');
  }
  if (lease.onBehalfOf && isSamePerson(staff, lease.onBehalfOf.sub)) {
    throw problems.forbidden('the human the agent acts for may not approve their own request');
  }
}

/**
 * Throws a 403 problem unless `staff` may deny this request. Denying only ever fails closed, so
 * any member of the group may do it, including the requester's human withdrawing the request.
 */
export function assertMayDeny(staff: HumanIdentity, approval: Approval): void {
  if (!staff.groups.includes(approval.group)) {
    throw problems.forbidden(`only members of "${approval.group}" may deny this request`);
  }
}
