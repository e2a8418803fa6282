// What the token endpoint's grants share: the request as the issuance path receives it, the
// outcome, and the services the endpoint is built from (wired in token-endpoint-deps.ts).
import type { Clock } from '../clock.js';
import type { Intent } from '../core/intent.js';
import type { Db } from '../db/client.js';
import type { Lease, LeaseTokenType } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { MintDelegation } from '../issuance/mint-types.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { JwtTemplate } from '../providers/templates.js';
import type { Credential } from '../providers/types.js';
import type { ParentDeps } from './delegation.js';
import type { TokenForm } from './form.js';
import type { VerifyWorkload } from './workload-token.js';

/** One token request, as the shared issuance path receives it. */
export interface TokenIssueRequest {
  identity: WorkloadIdentity;
  template: JwtTemplate;
  intent: Intent;
  onBehalfOf: HumanIdentity | undefined;
  delegation: MintDelegation | undefined;
  tokenType: LeaseTokenType;
  clientId: string | undefined;
  idempotencyKey: string | undefined;
  requestId: string;
  /** The intent came as authorization_details (a ceiling violation is then named for it). */
  detailed: boolean;
}

export type TokenIssueOutcome =
  | { status: 'issued'; lease: Lease; credential: Credential }
  | { status: 'pending'; approvalId: string; lease: Lease };

/** A step-up's state as the requesting agent sees it (the approvals service's collect). */
export type CollectOutcome =
  | { status: 'pending'; expiresAt: Date }
  | { status: 'issued'; leaseId: string; credential: Credential };

export interface TokenEndpointDeps {
  db: Db;
  clock: Clock;
  policies: PolicyStore;
  verifyWorkload: VerifyWorkload;
  parents: ParentDeps;
  /** Unset TXN_TOKEN_AUDIENCE: no transaction tokens. */
  txnTokens: boolean;
  /** The one issuance path (the same as POST /v1/credentials). */
  issue(request: TokenIssueRequest): Promise<TokenIssueOutcome>;
  /** Collects an approved step-up (exactly once); throws the approvals service's problems. */
  collect(identity: WorkloadIdentity, approvalId: string, requestId: string): Promise<CollectOutcome>;
  readLease(leaseId: string): Promise<Lease | undefined>;
}

export interface TokenRequestInput {
  form: TokenForm;
  idempotencyKey: string | undefined;
  requestId: string;
}
