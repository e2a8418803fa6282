// Renewal: policy decides again (action `renew`), and the new expiry is the smallest of the asked
// TTL from now, the template's and the policies' caps, and the lease's max lifetime from issue.
import { and, eq } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Lease, leases } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { problems } from '../problem.js';
import type { Credential } from '../providers/types.js';
import { decide, delegationContext } from './decide.js';
import { decisionAudit } from './decision-audit.js';
import { type IssuanceDeps, providerFor } from './issuance-deps.js';
import { providerInput, wholeSeconds } from './issue-lease.js';

export interface RenewInput {
  identity: WorkloadIdentity;
  /** The caller's own lease (already read). */
  current: Lease;
  ttlSeconds: number | undefined;
  requestId: string;
}

export async function renewLease(
  deps: IssuanceDeps,
  input: RenewInput,
): Promise<{ lease: Lease; credential: Credential | undefined }> {
  const { identity, current, ttlSeconds, requestId } = input;
  const { clock, database, metrics, policies, stepUp } = deps;
  const leaseId = current.id;
  if (current.state !== 'active')
    throw problems.conflict(`lease ${leaseId} is ${current.state} and cannot be renewed`);
  // Past its expiry but not yet swept: it is over, whatever the row says for a few seconds more.
  if (current.expiresAt.getTime() <= clock.now().getTime()) {
    throw problems.conflict(`lease ${leaseId} has expired and cannot be renewed`);
  }
  const policySet = policies.current();
  const template = policySet.templates.get(current.template);
  if (!template || template.provider !== current.provider) {
    throw problems.conflict(
      `template "${current.template}" is no longer configured; the lease cannot be renewed`,
    );
  }
  const provider = providerFor(deps.providers, template.provider);
  const approved = (await stepUp.approvalIdOf(current.id)) !== undefined;
  const verdict = decide(policySet, provider, {
    action: 'renew',
    identity,
    template,
    intent: current.intent,
    requestedTtlSeconds: ttlSeconds,
    onBehalfOf: current.onBehalfOf ?? undefined,
    approved,
    delegation: delegationContext(current),
  });
  const now = wholeSeconds(clock.now());
  const audit = decisionAudit({
    at: now,
    requestId,
    agent: identity,
    onBehalfOf: current.onBehalfOf,
    actor: `agent:${identity.subject}`,
    leaseId,
    template: template.name,
    intent: current.intent,
    verdict,
    detail: { action: 'renew', ttl_seconds: ttlSeconds ?? null },
  });
  metrics.decisions.inc({ template: template.name, outcome: verdict.outcome });
  if (verdict.outcome === 'deny' || verdict.stepUp) {
    const reasons = verdict.outcome === 'deny' ? verdict.reasons : ['renewal requires approval'];
    await recordAudit(database.db, { ...audit, decision: 'deny', reasons });
    throw problems.denied(reasons.join('; '), { policies: verdict.policies, reasons: reasons });
  }
  const issuedAt = current.issuedAt ?? current.createdAt;
  const ceiling = Math.min(
    current.maxExpiresAt.getTime(),
    issuedAt.getTime() + verdict.maxLifetimeSeconds * 1000,
  );
  const target = Math.min(now.getTime() + verdict.ttlSeconds * 1000, ceiling);
  if (target <= current.expiresAt.getTime()) {
    await recordAudit(database.db, { ...audit, detail: { ...audit.detail, unchanged: true } });
    return { lease: current, credential: undefined };
  }
  const expiresAt = new Date(target);
  return database.db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(leases)
      .where(and(eq(leases.id, leaseId), eq(leases.state, 'active')))
      .for('update');
    if (!locked) throw problems.conflict(`lease ${leaseId} stopped being active while it was renewed`);
    const renewed = await provider.renew({
      ...providerInput(locked, template, issuedAt, expiresAt),
      revocation: locked.revocation ?? undefined,
    });
    const [updated] = await tx
      .update(leases)
      .set({ expiresAt, revocation: renewed.revocation, updatedAt: now })
      .where(eq(leases.id, leaseId))
      .returning();
    await recordAudit(tx, [
      audit,
      {
        at: now,
        event: 'lease.renewed',
        requestId,
        agent: locked.agent,
        agentIssuer: locked.agentIssuer,
        actor: `agent:${identity.subject}`,
        leaseId,
        template: template.name,
        detail: { expires_at: expiresAt.toISOString(), previous_expires_at: locked.expiresAt.toISOString() },
      },
    ]);
    return { lease: updated!, credential: renewed.credential };
  });
}
