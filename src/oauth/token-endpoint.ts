// The token endpoint as a service: dispatches on grant_type (as node-oidc-provider's
// lib/actions/grants/ does, one module per grant) and turns the issuance outcome into a token
// response or a CIBA `authorization_pending`. Knows nothing of HTTP.
import type { Clock } from '../clock.js';
import type { Db } from '../db/client.js';
import type { Lease, LeaseTokenType } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { MintDelegation } from '../issuance/mint-types.js';
import type { JwtTemplate } from '../policy/broker-config.js';
import type { Intent } from '../policy/intent.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { Credential } from '../providers/types.js';
import { handleCibaPoll } from './ciba-grant.js';
import type { ParentDeps } from './delegation.js';
import { oauthErrors } from './errors.js';
import { required, type TokenForm } from './form.js';
import { handleJwtBearer, handleTokenExchange } from './token-exchange.js';
import { responseFor, type TokenResponse } from './token-response.js';
import {
  GRANT_CIBA,
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  isGrantType,
  POLL_INTERVAL_SECONDS,
} from './vocabulary.js';
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

export async function handleTokenRequest(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
): Promise<TokenResponse> {
  const grantType = required(input.form, 'grant_type');
  if (!isGrantType(grantType)) throw oauthErrors.unsupportedGrantType();
  switch (grantType) {
    case GRANT_TOKEN_EXCHANGE:
      return respond(deps, await handleTokenExchange(deps, input));
    case GRANT_JWT_BEARER:
      return respond(deps, await handleJwtBearer(deps, input));
    case GRANT_CIBA:
      return handleCibaPoll(deps, input);
  }
}

async function respond(deps: TokenEndpointDeps, outcome: TokenIssueOutcome): Promise<TokenResponse> {
  if (outcome.status === 'pending') {
    // The request that opened the step-up counted as the first poll (CIBA §7.3: wait `interval`).
    throw oauthErrors.authorizationPending(outcome.approvalId, POLL_INTERVAL_SECONDS);
  }
  return responseFor(outcome.lease, outcome.credential, deps.clock.now());
}
