// Who may review a step-up request. Not a Cedar decision: membership in the @step_up
// group, minus the agent that asked and the human it acts for. Each check is one line with its
// own problem, in the order a reviewer reads them. The service audits every refusal.

import type { AuditEntry } from '../audit/audit-log.js';
import type { Approval, Lease } from '../db/schema/index.js';
import type { HumanIdentity } from '../identity/types.js';
import { type Problem, problems } from '../problem.js';
import { approvalAudit } from '../step-up/approval-audit.js';

/**
 * Subjects are compared without their issuer: staff come from one IdP, and a same-named subject
 * at a renamed issuer URL is far more likely the same person than a different one. Refusing that
 * corner case is the safe side of the trade.
 */
function isSamePerson(staff: HumanIdentity, subject: string): boolean {
  return staff.subject === subject;
}

/** The 403 problem that refuses `staff`'s approval, or undefined when they may vote. */
export function approvalRefusal(staff: HumanIdentity, approval: Approval, lease: Lease): Problem | undefined {
  if (!staff.groups.includes(approval.group)) {
    return problems.forbidden(`only members of "${approval.group}" may approve this request`);
  }
  if (isSamePerson(staff, lease.agent)) {
    return problems.forbidden('the agent that made a request may not approve it');
  }
  if (lease.onBehalfOf && isSamePerson(staff, lease.onBehalfOf.sub)) {
    return problems.forbidden('the human the agent acts for may not approve their own request');
  }
  return undefined;
}

/**
 * The 403 problem that refuses `staff`'s denial, or undefined. Denying only ever fails closed, so
 * any member of the group may do it, including the requester's human withdrawing the request.
 */
export function denialRefusal(staff: HumanIdentity, approval: Approval): Problem | undefined {
  if (!staff.groups.includes(approval.group)) {
    return problems.forbidden(`only members of "${approval.group}" may deny this request`);
  }
  return undefined;
}

/** A refused review is audited too: self-approval attempts are what an auditor looks for first. */
export function refusalAudit(
  record: { approval: Approval; lease: Lease },
  staff: HumanIdentity,
  attempted: 'approve' | 'deny',
  refused: Problem,
  at: Date,
  requestId: string,
): AuditEntry {
  return approvalAudit(record.approval, record.lease, {
    event: 'approval.refused',
    at,
    actor: `staff:${staff.subject}`,
    requestId,
    decision: 'refused',
    reasons: [refused.detail ?? refused.title],
    detail: { attempted, staff_issuer: staff.issuer },
  });
}
