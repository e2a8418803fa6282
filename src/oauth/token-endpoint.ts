// The token endpoint as a service: dispatches on grant_type (as node-oidc-provider's
// lib/actions/grants/ does, one module per grant) and turns the issuance outcome into a token
// response or a CIBA `authorization_pending`. Knows nothing of HTTP.
import { handleCibaPoll } from './ciba-grant.js';
import { oauthErrors } from './errors.js';
import { required } from './form.js';
import { handleJwtBearer, handleTokenExchange } from './token-exchange.js';
import { responseFor, type TokenResponse } from './token-response.js';
import type { TokenEndpointDeps, TokenIssueOutcome, TokenRequestInput } from './token-types.js';
import {
  GRANT_CIBA,
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  isGrantType,
  POLL_INTERVAL_SECONDS,
} from './vocabulary.js';

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
