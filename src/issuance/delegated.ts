// What a token-endpoint mint adds to the shared path: the delegation chain a lease belongs to (its
// depth, seen by Cedar and capped by max_delegation_depth), an expiry that never passes the
// parent's, and the audit detail that records the whole chain and the OAuth client.
import type { LeaseDelegation } from '../db/schema/index.js';
import type { DelegationContext } from '../policy/policy-set.js';
import type { Verdict } from './decide.js';
import type { MintDelegation, MintInput } from './mint-types.js';

export function delegatedRequest(delegation: MintDelegation | undefined): DelegationContext | undefined {
  if (delegation === undefined) return undefined;
  return { depth: delegation.depth, chain: delegation.chain, parentLease: delegation.parentLeaseId };
}

export function leaseDelegation(delegation: MintDelegation): LeaseDelegation {
  const { depth, chain, subject, act, notAfter } = delegation;
  return { depth, chain, subject, act, notAfter };
}

/** A delegated lease ends no later than its parent did when it was minted: a chain only narrows. */
export function capByParent(
  at: Date,
  delegation: Pick<LeaseDelegation, 'notAfter'> | null | undefined,
): Date {
  if (!delegation) return at;
  const notAfter = new Date(delegation.notAfter);
  return at.getTime() > notAfter.getTime() ? notAfter : at;
}

export function leaseExpiries(
  now: Date,
  verdict: Extract<Verdict, { outcome: 'allow' }>,
  delegation: MintDelegation | undefined,
): { expiresAt: Date; maxExpiresAt: Date } {
  return {
    expiresAt: capByParent(new Date(now.getTime() + verdict.ttlSeconds * 1000), delegation),
    maxExpiresAt: capByParent(new Date(now.getTime() + verdict.maxLifetimeSeconds * 1000), delegation),
  };
}

export function mintDetail(input: MintInput): Record<string, unknown> {
  const detail: Record<string, unknown> = { action: 'mint', ttl_seconds: input.ttlSeconds ?? null };
  if (input.clientId !== undefined) detail.client_id = input.clientId;
  if (input.tokenType !== undefined) detail.token_type = input.tokenType;
  if (input.delegation !== undefined) {
    const { parentLeaseId, depth, chain, act } = input.delegation;
    detail.delegation = { parent_lease: parentLeaseId, depth, chain, act };
  }
  return detail;
}
