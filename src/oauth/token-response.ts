// The successful token response (RFC 6749 §5.1, RFC 8693 §2.2.1, RFC 9396 §7): the token, what it
// is, and the granted intent echoed so the client sees exactly what it may do.

import type { Intent } from '../core/intent.js';
import type { Lease, LeaseTokenType } from '../db/schema/leases.js';
import type { Credential } from '../providers/types.js';
import { OAuthError } from './errors.js';
import { AUTHORIZATION_DETAILS_TYPE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_TXN_TOKEN } from './vocabulary.js';

export interface TaskIntentDetail {
  type: typeof AUTHORIZATION_DETAILS_TYPE;
  task_id: string;
  purpose: string;
  actions: string[];
  resources: string[];
  template: string;
}

export interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: 'Bearer' | 'N_A';
  expires_in: number;
  scope: string;
  task_id: string;
  lease_id: string;
  authorization_details: TaskIntentDetail[];
}

export interface IssuedToken {
  token: string;
  tokenType: LeaseTokenType;
  leaseId: string;
  template: string;
  expiresAt: Date;
  intent: Intent;
  scopes: string[];
}

export function tokenResponse(issued: IssuedToken, now: Date): TokenResponse {
  const txn = issued.tokenType === 'txn_token';
  return {
    access_token: issued.token,
    issued_token_type: txn ? TOKEN_TYPE_TXN_TOKEN : TOKEN_TYPE_ACCESS_TOKEN,
    // The Transaction Tokens draft: a txn token is not an OAuth access token, so N_A (RFC 8693 §2.2.1).
    token_type: txn ? 'N_A' : 'Bearer',
    expires_in: Math.max(0, Math.floor((issued.expiresAt.getTime() - now.getTime()) / 1000)),
    scope: issued.scopes.join(' '),
    task_id: issued.intent.taskId,
    lease_id: issued.leaseId,
    authorization_details: [
      {
        type: AUTHORIZATION_DETAILS_TYPE,
        task_id: issued.intent.taskId,
        purpose: issued.intent.purpose,
        actions: issued.scopes,
        resources: issued.intent.resources,
        template: issued.template,
      },
    ],
  };
}

/** The response for a lease the issuance path just wrote, with its credential. */
export function responseFor(lease: Lease, credential: Credential, now: Date): TokenResponse {
  if (credential.type !== 'jwt') {
    throw new OAuthError('server_error', { description: 'internal error', detail: 'not a jwt lease' });
  }
  return tokenResponse(
    {
      token: credential.token,
      tokenType: lease.tokenType ?? 'access_token',
      leaseId: lease.id,
      template: lease.template,
      expiresAt: lease.expiresAt,
      intent: lease.intent,
      scopes: (lease.grant as { scopes?: string[] }).scopes ?? lease.intent.actions,
    },
    now,
  );
}
