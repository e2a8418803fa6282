// The decision for an approved step-up request: the same decide() as a mint, with
// context.approved = true, so a forbid still wins. Run when the reviewers reach their quorum and
// again when the agent collects (the credential is minted under the policy in force then).
import type { Lease, NewLease } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider } from '../providers/types.js';
import { decide, delegationContext, type Verdict } from './decide.js';
import { type IssuanceDeps, providerFor } from './issuance-deps.js';

export type Reevaluation =
  | { outcome: 'deny'; verdict: Extract<Verdict, { outcome: 'deny' }> }
  | {
      outcome: 'allow';
      verdict: Extract<Verdict, { outcome: 'allow' }>;
      template: Template;
      provider: AnyProvider;
    };

export function decideApproved(
  { policies, providers }: Pick<IssuanceDeps, 'policies' | 'providers'>,
  lease: Lease,
  identity: WorkloadIdentity,
): Reevaluation {
  const policySet = policies.current();
  const template = policySet.templates.get(lease.template);
  if (!template || template.provider !== lease.provider) {
    const reason = `template "${lease.template}" is no longer configured for ${lease.provider}`;
    return {
      outcome: 'deny',
      verdict: { outcome: 'deny', policies: [], reasons: [reason], policyVersion: policySet.version },
    };
  }
  const provider = providerFor(providers, template.provider);
  const verdict = decide(policySet, provider, {
    action: 'mint',
    identity,
    template,
    intent: lease.intent,
    requestedTtlSeconds: lease.requestedTtlSeconds,
    onBehalfOf: lease.onBehalfOf ?? undefined,
    approved: true,
    delegation: delegationContext(lease),
  });
  if (verdict.outcome === 'deny') return { outcome: 'deny', verdict };
  return { outcome: 'allow', verdict, template, provider };
}

/** The pending lease re-shaped by a fresh verdict: grant, TTL and policies as decided now. */
export function approvedLease(lease: Lease, verdict: Extract<Verdict, { outcome: 'allow' }>): NewLease {
  const created = lease.createdAt.getTime();
  return {
    ...lease,
    state: 'pending_approval',
    grant: verdict.grant as Record<string, unknown>,
    policies: verdict.policies,
    policyVersion: verdict.policyVersion,
    expiresAt: new Date(created + verdict.ttlSeconds * 1000),
    maxExpiresAt: new Date(created + verdict.maxLifetimeSeconds * 1000),
  };
}

/** The denial as the agent and the audit log read it (the evaluator's reasons name the policies). */
export function denialReason(verdict: Extract<Verdict, { outcome: 'deny' }>): string {
  return verdict.reasons.join('; ') || `denied by policy ${verdict.policies.join(', ')}`.trim();
}
