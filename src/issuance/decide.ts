// One decision for minting, renewing and collecting an approved request: the intent must fit the
// template's ceiling (before Cedar runs), then Cedar decides, then the TTL is the smallest of
// what was asked, the template's max_ttl and every @max_ttl.

import type { Intent } from '../core/intent.js';
import type { WorkloadIdentity } from '../identity/types.js';
import type { StepUp } from '../policy/decision.js';
import type { DelegationContext, PolicyAction, PolicySet } from '../policy/policy-set.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider } from '../providers/types.js';

export interface DecideInput {
  action: PolicyAction;
  identity: WorkloadIdentity;
  template: Template;
  intent: Intent;
  requestedTtlSeconds: number | undefined;
  onBehalfOf: { sub: string; issuer: string } | undefined;
  approved: boolean;
  /** A delegated lease's place in its chain: capped by max_delegation_depth, seen by Cedar. */
  delegation?: DelegationContext | undefined;
}

export type Verdict =
  | {
      outcome: 'deny';
      policies: string[];
      reasons: string[];
      policyVersion: string;
      /** Refused before Cedar ran: by the template's ceiling, or by the delegation depth cap. */
      stage?: 'ceiling' | 'delegation';
    }
  | {
      outcome: 'allow';
      grant: unknown;
      ttlSeconds: number;
      /** Longest lifetime from issue this lease may ever reach through renewals. */
      maxLifetimeSeconds: number;
      policies: string[];
      stepUp: StepUp | undefined;
      policyVersion: string;
    };

export function decide(policySet: PolicySet, provider: AnyProvider, input: DecideInput): Verdict {
  const { template } = input;
  const policyVersion = policySet.version;
  const scoped = provider.scope(template, input.intent);
  if (!scoped.ok)
    return { outcome: 'deny', policies: [], reasons: [scoped.reason], policyVersion, stage: 'ceiling' };
  const maxDepth = policySet.config.max_delegation_depth;
  if (input.delegation !== undefined && input.delegation.depth > maxDepth) {
    const reason = `delegation depth ${input.delegation.depth} exceeds max_delegation_depth ${maxDepth}`;
    return { outcome: 'deny', policies: [], reasons: [reason], policyVersion, stage: 'delegation' };
  }

  const requested = input.requestedTtlSeconds ?? template.default_ttl;
  const decision = policySet.evaluate({
    action: input.action,
    identity: input.identity,
    template,
    intent: input.intent,
    ttlSeconds: requested,
    onBehalfOf: input.onBehalfOf,
    approved: input.approved,
    delegation: input.delegation,
  });
  if (decision.outcome === 'deny') return decision;

  const cap = Math.min(template.max_ttl, decision.maxTtlSeconds ?? Number.POSITIVE_INFINITY);
  const minimum = provider.minTtlSeconds ?? 1;
  if (cap < minimum) {
    return {
      outcome: 'deny',
      policies: decision.policies,
      reasons: [
        `the policy caps the TTL at ${cap} s but ${template.provider} credentials last at least ${minimum} s`,
      ],
      policyVersion,
    };
  }
  return {
    outcome: 'allow',
    grant: scoped.grant,
    ttlSeconds: Math.max(minimum, Math.min(requested, cap)),
    maxLifetimeSeconds: cap,
    policies: decision.policies,
    stepUp: decision.stepUp,
    policyVersion,
  };
}

/** Cedar's `context.delegation` for a lease of a delegation chain (none for a workload's own). */
export function delegationContext(lease: {
  parentLeaseId: string | null;
  delegation: { depth: number; chain: string[] } | null;
}): DelegationContext | undefined {
  if (lease.parentLeaseId === null || lease.delegation === null) return undefined;
  return { depth: lease.delegation.depth, chain: lease.delegation.chain, parentLease: lease.parentLeaseId };
}
