// Delegation chains (RFC 8693 §4.1): a sub-agent exchanges a broker token it was handed for one
// of its own. The parent must be an active access token of this broker; the new link only
// narrows (same template, scopes within the parent's, expiry within the parent's).
import { eq } from 'drizzle-orm';
import type { JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import { isUuid } from '../core/ids.js';
import type { Intent } from '../core/intent.js';
import type { Db } from '../db/client.js';
import { type ActClaim, type Lease, leases } from '../db/schema/index.js';
import type { MintDelegation } from '../issuance/mint-types.js';
import { oauthErrors } from './errors.js';

export interface ParentToken {
  lease: Lease;
  claims: JWTPayload;
}

export interface ParentDeps {
  db: Db;
  clock: Clock;
  /** Verifies a broker-minted access token (signature, typ, exp); undefined when it is not one. */
  verifyBrokerToken(token: string): Promise<JWTPayload | undefined>;
}

const INVALID_SUBJECT = 'subject_token is not an active token of this broker';

export async function resolveParent(deps: ParentDeps, token: string): Promise<ParentToken> {
  const claims = await deps.verifyBrokerToken(token);
  if (claims === undefined || typeof claims.jti !== 'string' || !isUuid(claims.jti)) {
    throw oauthErrors.invalidRequest(INVALID_SUBJECT, 'not a broker access token');
  }
  const [lease] = await deps.db.select().from(leases).where(eq(leases.id, claims.jti)).limit(1);
  if (lease === undefined || lease.provider !== 'jwt')
    throw oauthErrors.invalidRequest(INVALID_SUBJECT, 'no such lease');
  // A revoked or expired parent cannot hand anything on, even while its own JWT has time left.
  if (lease.state !== 'active' || lease.expiresAt.getTime() <= deps.clock.now().getTime()) {
    throw oauthErrors.invalidRequest(INVALID_SUBJECT, `parent lease is ${lease.state}`);
  }
  // A transaction token lives inside one trust domain; it is never the start of a wider token.
  if (lease.tokenType === 'txn_token')
    throw oauthErrors.invalidRequest(INVALID_SUBJECT, 'a transaction token');
  return { lease, claims };
}

/** The chain one link longer: the sub-agent is the new outermost actor. */
export function extendChain(parent: ParentToken, subAgent: string): MintDelegation {
  const { lease } = parent;
  const previous = lease.delegation;
  const parentActor: ActClaim = previous?.act ?? { sub: lease.agent };
  return {
    parentLeaseId: lease.id,
    depth: (previous?.depth ?? 0) + 1,
    chain: [...(previous?.chain ?? [lease.agent]), subAgent],
    subject: previous?.subject ?? lease.onBehalfOf?.sub ?? lease.agent,
    act: { sub: subAgent, act: parentActor },
    notAfter: lease.expiresAt.toISOString(),
  };
}

export interface NarrowedRequest {
  /** The requested scopes; undefined = the parent's. */
  scopes: string[] | undefined;
  resource: string | undefined;
  template: string | undefined;
  taskId: string | undefined;
}

/** Checks that the link only narrows, and returns the scopes it grants. */
export function narrow(parent: ParentToken, request: NarrowedRequest): string[] {
  const { lease } = parent;
  const parentScopes = ((lease.grant as { scopes?: string[] }).scopes ?? []).slice();
  if (request.resource !== undefined && request.resource !== parent.claims.aud) {
    throw oauthErrors.invalidTarget('a delegated token keeps the resource of the subject token');
  }
  if (request.template !== undefined && request.template !== lease.template) {
    throw oauthErrors.invalidTarget('a delegated token keeps the template of the subject token');
  }
  if (request.taskId !== undefined && request.taskId !== lease.taskId) {
    throw oauthErrors.invalidAuthorizationDetails('a delegated token keeps the task of the subject token');
  }
  const scopes = request.scopes ?? parentScopes;
  const wider = scopes.find((s) => !parentScopes.includes(s));
  if (wider !== undefined)
    throw oauthErrors.invalidScope('a delegated token cannot carry a scope the subject token lacks');
  return scopes;
}

/** The parent's intent, narrowed to `scopes`: what the sub-agent declares it does. */
export function delegatedIntent(parent: ParentToken, scopes: string[], purpose: string | undefined): Intent {
  const { intent } = parent.lease;
  return {
    taskId: intent.taskId,
    purpose: purpose ?? intent.purpose,
    actions: scopes,
    resources: intent.resources,
  };
}
