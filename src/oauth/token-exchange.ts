// The token-exchange (RFC 8693) and jwt-bearer (RFC 7523) grants. A workload's own identity
// token is exchanged for a token bound to one resource; a broker token together with a
// sub-agent's identity token (actor_token) is exchanged for the next link of a delegation chain.
import { createHash, randomUUID } from 'node:crypto';
import type { Intent } from '../core/intent.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import { delegatedIntent, extendChain, narrow, resolveParent } from './delegation.js';
import { oauthErrors } from './errors.js';
import { required, type TokenForm } from './form.js';
import { type RequestedIntent, requestedIntent } from './intent-request.js';
import { requestedResource, selectTemplate } from './target.js';
import type { TokenEndpointDeps, TokenIssueOutcome, TokenRequestInput } from './token-types.js';
import {
  BROKER_TOKEN_TYPES,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
  TOKEN_TYPE_TXN_TOKEN,
  WORKLOAD_TOKEN_TYPES,
} from './vocabulary.js';
import { verifyWorkloadToken } from './workload-token.js';

/** RFC 6749 Appendix A.1: client_id is VSCHAR. Bounded so the audit row stays small. */
const CLIENT_ID = /^[\x20-\x7e]{1,255}$/;
const DEFAULT_PURPOSE = 'OAuth token exchange';

export async function handleTokenExchange(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
): Promise<TokenIssueOutcome> {
  const { form } = input;
  const subjectToken = required(form, 'subject_token');
  const subjectType = required(form, 'subject_token_type');
  const actorToken = form.get('actor_token');
  const actorType = form.get('actor_token_type');
  if (actorToken === undefined && actorType !== undefined) {
    throw oauthErrors.invalidRequest('actor_token_type is given without actor_token');
  }
  if (actorToken !== undefined)
    return delegate(deps, input, subjectToken, subjectType, actorToken, actorType);
  if (!WORKLOAD_TOKEN_TYPES.has(subjectType)) {
    throw oauthErrors.invalidRequest(
      `subject_token_type must be ${TOKEN_TYPE_JWT} (a workload identity token); a broker token is exchanged with an actor_token`,
    );
  }
  const identity = await verifyWorkloadToken(
    deps.verifyWorkload,
    subjectToken,
    'subject_token',
    'invalid_request',
  );
  return exchangeOwn(deps, input, identity);
}

export async function handleJwtBearer(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
): Promise<TokenIssueOutcome> {
  const assertion = required(input.form, 'assertion');
  const identity = await verifyWorkloadToken(deps.verifyWorkload, assertion, 'assertion', 'invalid_grant');
  return exchangeOwn(deps, input, identity);
}

/** A workload's own identity for a resource-bound token (delegation depth 0). */
async function exchangeOwn(deps: TokenEndpointDeps, input: TokenRequestInput, identity: WorkloadIdentity) {
  const { form } = input;
  const tokenType = requestedTokenType(form, deps.txnTokens);
  const clientId = clientIdOf(form);
  const wanted = requestedIntent(form.get('scope'), form.get('authorization_details'));
  const intent = intentOf(wanted, input.idempotencyKey);
  const template = selectTemplate(deps.policies.current().templates, {
    resources: form.all('resource'),
    audiences: form.all('audience'),
    template: wanted.template,
    scopes: intent.actions,
  });
  return deps.issue({
    identity,
    template,
    intent,
    onBehalfOf: undefined,
    delegation: undefined,
    tokenType,
    clientId,
    idempotencyKey: input.idempotencyKey,
    requestId: input.requestId,
    detailed: wanted.detailed,
  });
}

async function delegate(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
  subjectToken: string,
  subjectType: string,
  actorToken: string,
  actorType: string | undefined,
): Promise<TokenIssueOutcome> {
  const { form } = input;
  if (!BROKER_TOKEN_TYPES.has(subjectType)) {
    throw oauthErrors.invalidRequest(
      `with an actor_token, subject_token_type must be ${TOKEN_TYPE_ACCESS_TOKEN} (a broker token)`,
    );
  }
  // RFC 8693 §2.1: actor_token_type is required whenever actor_token is present.
  if (actorType === undefined || !WORKLOAD_TOKEN_TYPES.has(actorType)) {
    throw oauthErrors.invalidRequest(
      `actor_token_type must be ${TOKEN_TYPE_JWT} (the sub-agent's workload identity token)`,
    );
  }
  if (actorToken === subjectToken) {
    throw oauthErrors.invalidRequest(
      "actor_token must be the sub-agent's own identity token, not the subject_token",
    );
  }
  const tokenType = requestedTokenType(form, deps.txnTokens);
  const clientId = clientIdOf(form);
  const wanted = requestedIntent(form.get('scope'), form.get('authorization_details'));
  const parent = await resolveParent(deps.parents, subjectToken);
  const identity = await verifyWorkloadToken(
    deps.verifyWorkload,
    actorToken,
    'actor_token',
    'invalid_request',
  );
  const resource = requestedResource({ resources: form.all('resource'), audiences: form.all('audience') });
  const scopes = narrow(parent, {
    scopes: wanted.actions,
    resource,
    template: wanted.template,
    taskId: wanted.taskId,
  });
  const template = deps.policies.current().templates.get(parent.lease.template);
  if (template === undefined || template.provider !== 'jwt') {
    throw oauthErrors.invalidTarget('the template of the subject token is no longer configured');
  }
  const onBehalfOf: HumanIdentity | undefined = parent.lease.onBehalfOf
    ? { subject: parent.lease.onBehalfOf.sub, issuer: parent.lease.onBehalfOf.issuer, groups: [] }
    : undefined;
  return deps.issue({
    identity,
    template,
    intent: delegatedIntent(parent, scopes, wanted.purpose),
    onBehalfOf,
    delegation: extendChain(parent, identity.subject),
    tokenType,
    clientId,
    idempotencyKey: input.idempotencyKey,
    requestId: input.requestId,
    detailed: wanted.detailed,
  });
}

function requestedTokenType(form: TokenForm, txnTokens: boolean) {
  const requested = form.get('requested_token_type');
  if (requested === undefined || requested === TOKEN_TYPE_ACCESS_TOKEN || requested === TOKEN_TYPE_JWT) {
    return 'access_token' as const;
  }
  if (requested !== TOKEN_TYPE_TXN_TOKEN)
    throw oauthErrors.invalidRequest('requested_token_type is not one this broker issues');
  if (!txnTokens)
    throw oauthErrors.invalidRequest(
      'this broker issues no transaction tokens (TXN_TOKEN_AUDIENCE is not set)',
    );
  return 'txn_token' as const;
}

function clientIdOf(form: TokenForm): string | undefined {
  const clientId = form.get('client_id');
  if (clientId !== undefined && !CLIENT_ID.test(clientId))
    throw oauthErrors.invalidRequest('client_id is malformed');
  return clientId;
}

function intentOf(wanted: RequestedIntent, idempotencyKey: string | undefined): Intent {
  if (wanted.actions === undefined) {
    throw oauthErrors.invalidScope(
      'name what the task needs: scope, or authorization_details of type task_intent',
    );
  }
  return {
    taskId: wanted.taskId ?? generatedTaskId(idempotencyKey),
    purpose: wanted.purpose ?? DEFAULT_PURPOSE,
    actions: wanted.actions,
    resources: wanted.resources,
  };
}

/**
 * A request without authorization_details is a task of its own. With an Idempotency-Key the id is
 * derived from the key, so that a retried request is the same request (and replays its lease).
 */
function generatedTaskId(idempotencyKey: string | undefined): string {
  if (idempotencyKey === undefined) return `task-${randomUUID()}`;
  return `task-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}`;
}
