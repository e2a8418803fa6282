// What a mint asks for and what it gives back, whichever front door (REST, token endpoint) asked.

import type { Intent } from '../core/intent.js';
import type { Lease, LeaseDelegation, LeaseTokenType } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Credential } from '../providers/types.js';

export interface MintInput {
  identity: WorkloadIdentity;
  templateName: string;
  intent: Intent;
  ttlSeconds: number | undefined;
  onBehalfOf: HumanIdentity | undefined;
  idempotencyKey: string | undefined;
  requestId: string;
  /** A delegated exchange (token endpoint): the parent lease and the chain one link longer. */
  delegation?: MintDelegation | undefined;
  /** jwt only: a transaction token rather than an access token (token endpoint). */
  tokenType?: LeaseTokenType | undefined;
  /** The OAuth client_id the request named: audited. */
  clientId?: string | undefined;
}

export interface MintDelegation extends LeaseDelegation {
  parentLeaseId: string;
}

export type MintOutcome =
  | { status: 'issued'; lease: Lease; credential: Credential }
  | { status: 'pending'; approvalId: string; lease: Lease };
