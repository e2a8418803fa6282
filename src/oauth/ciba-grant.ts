// CIBA poll mode (OpenID CIBA Core §7.3, §10.1, §11) over the broker's step-up approvals: the
// client polls with the auth_req_id it got in `authorization_pending`, authenticating as the same
// workload, and gets pending / slow_down / access_denied / expired_token, or the token once.

import { isUuid } from '../core/ids.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { Problem } from '../problem.js';
import { type OAuthError, oauthErrorFrom, oauthErrors } from './errors.js';
import { required } from './form.js';
import { claimPoll } from './poll-interval.js';
import { responseFor, type TokenResponse } from './token-response.js';
import type { TokenEndpointDeps, TokenRequestInput } from './token-types.js';
import { POLL_INTERVAL_SECONDS, WORKLOAD_TOKEN_TYPES } from './vocabulary.js';
import { verifyWorkloadToken } from './workload-token.js';

const UNKNOWN_REQUEST = 'auth_req_id is not a pending request of this workload';

export async function handleCibaPoll(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
): Promise<TokenResponse> {
  const { form } = input;
  const authReqId = required(form, 'auth_req_id');
  const identity = await pollingWorkload(deps, input);
  if (!isUuid(authReqId)) throw oauthErrors.invalidGrant(UNKNOWN_REQUEST);
  const owner = { agent: identity.subject, agentIssuer: identity.issuer };
  const claim = await claimPoll(deps.db, authReqId, owner, deps.clock.now(), POLL_INTERVAL_SECONDS);
  if (claim === 'unknown') throw oauthErrors.invalidGrant(UNKNOWN_REQUEST);
  if (claim === 'slow_down') throw oauthErrors.slowDown(authReqId, POLL_INTERVAL_SECONDS);

  let outcome: Awaited<ReturnType<TokenEndpointDeps['collect']>>;
  try {
    outcome = await deps.collect(identity, authReqId, input.requestId);
  } catch (error) {
    throw pollError(error);
  }
  if (outcome.status === 'pending') {
    const expiresIn = Math.max(
      0,
      Math.floor((outcome.expiresAt.getTime() - deps.clock.now().getTime()) / 1000),
    );
    throw oauthErrors.authorizationPending(authReqId, POLL_INTERVAL_SECONDS, expiresIn);
  }
  const lease = await deps.readLease(outcome.leaseId);
  if (lease === undefined) throw oauthErrors.invalidGrant(UNKNOWN_REQUEST);
  return responseFor(lease, outcome.credential, deps.clock.now());
}

/**
 * The poll authenticates as the first request did: the workload's identity token as subject_token,
 * or, for a delegated request, the sub-agent's as actor_token. An auth_req_id alone is not enough.
 */
async function pollingWorkload(deps: TokenEndpointDeps, input: TokenRequestInput): Promise<WorkloadIdentity> {
  const { form } = input;
  const actorToken = form.get('actor_token');
  if (actorToken !== undefined) {
    return verifyWorkloadToken(deps.verifyWorkload, actorToken, 'actor_token', 'invalid_grant');
  }
  const subjectToken = form.get('subject_token');
  const subjectType = form.get('subject_token_type');
  if (subjectToken === undefined || subjectType === undefined || !WORKLOAD_TOKEN_TYPES.has(subjectType)) {
    throw oauthErrors.invalidGrant(
      'authenticate the poll with the subject_token and subject_token_type of the first request',
    );
  }
  return verifyWorkloadToken(deps.verifyWorkload, subjectToken, 'subject_token', 'invalid_grant');
}

/** The approvals service's refusals, in CIBA §11's words. */
function pollError(error: unknown): OAuthError {
  if (!(error instanceof Problem)) return oauthErrorFrom(error);
  if (error.status === 403 && error.type === 'approval-expired') {
    return oauthErrors.expiredToken('the approval window closed before anyone approved');
  }
  if (error.status === 403) {
    const policies = Array.isArray(error.extensions.policies) ? (error.extensions.policies as string[]) : [];
    const reasons = Array.isArray(error.extensions.reasons) ? (error.extensions.reasons as string[]) : [];
    return oauthErrors.accessDenied(error.detail ?? 'the request was denied', policies, reasons);
  }
  if (error.status === 404 || error.status === 409) {
    // 409: the token was already handed out; it is given exactly once (CIBA §10.1: invalid_grant).
    return oauthErrors.invalidGrant(UNKNOWN_REQUEST, error.detail, error);
  }
  return oauthErrorFrom(error);
}
