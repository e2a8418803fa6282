// The jwt provider: mints access tokens signed with the broker's own key (jti = the lease id).
// Issuing only signs, so it is side-effect free; revocation is the lease state (seen through
// /v1/introspect) and the short TTL.
import { SignJWT } from 'jose';
import type { Intent } from '../../core/intent.js';
import type { ActClaim } from '../../db/schema/leases.js';
import type { JwtTemplate } from '../templates.js';
import type { Issued, IssueInput, Provider, Scoped } from '../types.js';
import type { KeyStore } from './key-store.js';

export interface JwtGrant {
  /** The requested scopes, in request order, without duplicates; each within the template ceiling. */
  scopes: string[];
}

export interface JwtProviderOptions {
  keyStore: KeyStore;
  /** `iss` of every minted token: config.brokerIssuer (BROKER_ISSUER). */
  issuer: string;
  /** `aud` of transaction tokens (TXN_TOKEN_AUDIENCE); unset, none can be minted. */
  txnTokenAudience?: string | undefined;
}

/** The claims of a minted token, exactly; nothing else is added. */
export interface MintedClaims {
  iss: string;
  sub: string;
  act?: ActClaim;
  aud: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  task_id: string;
}

/** A transaction token (draft-ietf-oauth-transaction-tokens §4): the trust domain is its `aud`. */
export interface TxnTokenClaims extends MintedClaims {
  txn: string;
  /** The requesting workload. */
  req_wl: string;
  /** The transaction context: the granted intent. */
  tctx: { task_id: string; purpose: string; actions: string[]; resources: string[]; template: string };
}

export const TXN_TOKEN_TYP = 'txntoken+jwt';

const toSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** Everything in the claims derives from the lease, never from the time of signing: replays match. */
export function mintedClaims(issuer: string, input: IssueInput<JwtTemplate, JwtGrant>): MintedClaims {
  const onBehalfOf = input.onBehalfOf;
  const delegation = input.delegation;
  // RFC 8693 4.1: the subject is the party the token acts for; `act` names the actor, and in a
  // delegation chain nests the actors before it.
  const subject = delegation?.subject ?? onBehalfOf?.sub ?? input.agent.subject;
  const act = delegation?.act ?? (onBehalfOf === undefined ? undefined : { sub: input.agent.subject });
  return {
    iss: issuer,
    sub: subject,
    ...(act === undefined ? {} : { act }),
    aud: input.template.audience,
    scope: input.grant.scopes.join(' '),
    jti: input.leaseId,
    iat: toSeconds(input.issuedAt),
    exp: toSeconds(input.expiresAt),
    task_id: input.taskId,
  };
}

export function txnTokenClaims(
  issuer: string,
  audience: string,
  input: IssueInput<JwtTemplate, JwtGrant>,
): TxnTokenClaims {
  const claims = mintedClaims(issuer, input);
  const intent = input.intent;
  return {
    ...claims,
    aud: audience,
    txn: input.leaseId,
    req_wl: input.agent.subject,
    tctx: {
      task_id: input.taskId,
      purpose: intent?.purpose ?? '',
      actions: input.grant.scopes,
      resources: intent?.resources ?? [],
      template: input.template.name,
    },
  };
}

export function createJwtProvider(options: JwtProviderOptions): Provider<JwtTemplate, JwtGrant> {
  const { keyStore, issuer, txnTokenAudience } = options;
  if (keyStore === undefined) throw new TypeError('createJwtProvider: option "keyStore" is required');
  if (typeof issuer !== 'string' || issuer.length === 0) {
    throw new TypeError('createJwtProvider: option "issuer" (BROKER_ISSUER) is required');
  }

  async function sign(input: IssueInput<JwtTemplate, JwtGrant>): Promise<Issued> {
    const txn = input.tokenType === 'txn_token';
    if (txn && txnTokenAudience === undefined) {
      throw new Error(`lease ${input.leaseId}: a transaction token needs TXN_TOKEN_AUDIENCE`);
    }
    const claims = txn ? txnTokenClaims(issuer, txnTokenAudience!, input) : mintedClaims(issuer, input);
    if (claims.exp <= claims.iat) throw new Error(`lease ${input.leaseId}: expiresAt is not after issuedAt`);
    // The key is read per call (an in-memory field), so a rotation takes effect on the next token.
    const { kid, alg, privateKey } = keyStore.currentKey();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg, kid, typ: txn ? TXN_TOKEN_TYP : 'JWT' })
      .sign(privateKey);
    return {
      credential: { type: 'jwt', token, expires_at: new Date(claims.exp * 1000).toISOString() },
      revocation: { jti: input.leaseId },
    };
  }

  return {
    kind: 'jwt',
    sideEffectFree: true,

    checkTemplate(): string[] {
      return [];
    },

    scope(template: JwtTemplate, intent: Intent): Scoped<JwtGrant> {
      if (intent.actions.length === 0) return { ok: false, reason: 'the intent names no scope' };
      const ceiling = new Set(template.scopes);
      const outside = intent.actions.find((scope) => !ceiling.has(scope));
      if (outside !== undefined) {
        return {
          ok: false,
          reason: `scope "${outside}" is not in the ceiling of template "${template.name}"`,
        };
      }
      return { ok: true, grant: { scopes: [...new Set(intent.actions)] } };
    },

    issue: sign,

    // A JWT cannot be changed once handed out: renewal signs the same claims with the new expiry.
    renew: ({ revocation: _revocation, ...input }) => sign(input),

    async revoke(): Promise<void> {
      // Nothing to undo outside the broker: once the lease is revoked, introspection answers
      // `active: false`, and the token dies with its short TTL.
    },
  };
}
