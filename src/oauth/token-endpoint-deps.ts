// Binds the token endpoint to the broker's one issuance path and its approvals: a token request
// becomes the same Issuance.mint() call as POST /v1/credentials, and a CIBA poll the same collect()
// as GET /v1/approvals/{id}. Only the words change (OAuth errors instead of problems).

import { eq } from 'drizzle-orm';
import type { ApprovalService } from '../approvals/types.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { leases } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import type { Issuance } from '../issuance/issuance.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { Problem } from '../problem.js';
import type { KeyStore } from '../providers/jwt/key-store.js';
import { oauthErrors } from './errors.js';
import type { CollectOutcome, TokenEndpointDeps, TokenIssueRequest } from './token-types.js';

export interface TokenEndpointWiring {
  database: Database;
  clock: Clock;
  policies: PolicyStore;
  keyStore: KeyStore;
  issuance: Issuance;
  approvals: ApprovalService | undefined;
  verifiers: { workload(token: string): Promise<WorkloadIdentity> };
  txnTokenAudience: string | undefined;
}

export function createTokenEndpoint(wiring: TokenEndpointWiring): TokenEndpointDeps {
  const { database, clock, issuance, approvals } = wiring;
  // Read lazily: the documentation app (npm run openapi) assembles the routes without a database.
  return {
    get db() {
      return database.db;
    },
    clock,
    policies: wiring.policies,
    verifyWorkload: (token) => wiring.verifiers.workload(token),
    parents: {
      get db() {
        return database.db;
      },
      clock,
      verifyBrokerToken: (token) => wiring.keyStore.verify(token),
    },
    txnTokens: wiring.txnTokenAudience !== undefined,
    issue: (request) => mint(issuance, request),
    async collect(identity, approvalId, requestId): Promise<CollectOutcome> {
      if (approvals === undefined) throw oauthErrors.invalidGrant('this broker takes no step-up requests');
      const result = await approvals.collect(identity, approvalId, 0, requestId);
      if (result.status === 'pending')
        return { status: 'pending', expiresAt: new Date(result.approval.expires_at) };
      return { status: 'issued', leaseId: result.lease_id, credential: result.credential };
    },
    async readLease(leaseId) {
      const [row] = await database.db.select().from(leases).where(eq(leases.id, leaseId)).limit(1);
      return row;
    },
  };
}

async function mint(issuance: Issuance, request: TokenIssueRequest) {
  try {
    return await issuance.mint({
      identity: request.identity,
      templateName: request.template.name,
      intent: request.intent,
      ttlSeconds: undefined,
      onBehalfOf: request.onBehalfOf,
      idempotencyKey: request.idempotencyKey,
      requestId: request.requestId,
      delegation: request.delegation,
      tokenType: request.tokenType,
      clientId: request.clientId,
    });
  } catch (error) {
    // RFC 6749 §5.2 / RFC 9396 §5: asking for more than the template allows is not a policy
    // denial but a bad scope (or bad authorization_details); it was audited as a deny all the same.
    if (error instanceof Problem && error.code === 'ceiling') {
      const reason = error.detail ?? 'the request asks for more than the template allows';
      throw request.detailed
        ? oauthErrors.invalidAuthorizationDetails(reason)
        : oauthErrors.invalidScope(reason);
    }
    throw error;
  }
}
