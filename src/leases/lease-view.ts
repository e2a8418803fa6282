// The JSON shapes of a lease that the API returns. Never includes a secret: leases hold none.
import { toIntentWire } from '../core/intent.js';
import type { Lease } from '../db/schema/index.js';

export interface LeaseView {
  lease_id: string;
  state: Lease['state'];
  template: string;
  task_id: string;
  agent: string;
  expires_at: string;
  revoked_at: string | null;
  revoke_reason: string | null;
}

export interface LeaseDetailView extends LeaseView {
  agent_issuer: string;
  provider: string;
  on_behalf_of: { sub: string; issuer: string } | null;
  intent: { task_id: string; purpose: string; actions: string[]; resources: string[] };
  policies: string[];
  policy_version: string;
  created_at: string;
  issued_at: string | null;
}

export function toLeaseView(lease: Lease): LeaseView {
  return {
    lease_id: lease.id,
    state: lease.state,
    template: lease.template,
    task_id: lease.taskId,
    agent: lease.agent,
    expires_at: lease.expiresAt.toISOString(),
    revoked_at: lease.revokedAt?.toISOString() ?? null,
    revoke_reason: lease.revokeReason ?? null,
  };
}

export function toLeaseDetailView(lease: Lease): LeaseDetailView {
  return {
    ...toLeaseView(lease),
    agent_issuer: lease.agentIssuer,
    provider: lease.provider,
    on_behalf_of: lease.onBehalfOf ?? null,
    intent: toIntentWire(lease.intent),
    policies: lease.policies,
    policy_version: lease.policyVersion,
    created_at: lease.createdAt.toISOString(),
    issued_at: lease.issuedAt?.toISOString() ?? null,
  };
}
