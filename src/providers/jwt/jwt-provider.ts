// The jwt provider: mints access tokens signed with the broker's own key (jti = the lease id).
// Issuing only signs, so it is side-effect free; revocation is the lease state (seen through
// /v1/introspect) and the short TTL.
import { SignJWT } from 'jose';
import type { JwtTemplate } from '../../policy/broker-config.js';
import type { Intent } from '../../policy/intent.js';
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
}

/** The claims of a minted token, exactly; nothing else is added. */
export interface MintedClaims {
  iss: string;
  sub: string;
  act?: { sub: string };
  aud: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  task_id: string;
}

const toSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

/** Everything in the claims derives from the lease, never from the time of signing: replays match. */
export function mintedClaims(issuer: string, input: IssueInput<JwtTemplate, JwtGrant>): MintedClaims {
  const onBehalfOf = input.onBehalfOf;
  return {
    iss: issuer,
    // RFC 8693 4.1: the subject is the party the token acts for; `act` names the actor.
    sub: onBehalfOf === undefined ? input.agent.subject : onBehalfOf.sub,
    ...(onBehalfOf === undefined ? {} : { act: { sub: input.agent.subject } }),
    aud: input.template.audience,
    scope: input.grant.scopes.join(' '),
    jti: input.leaseId,
    iat: toSeconds(input.issuedAt),
    exp: toSeconds(input.expiresAt),
    task_id: input.taskId,
  };
}

export function createJwtProvider(options: JwtProviderOptions): Provider<JwtTemplate, JwtGrant> {
  const { keyStore, issuer } = options;
  if (keyStore === undefined) throw new TypeError('createJwtProvider: option "keyStore" is required');
  if (typeof issuer !== 'string' || issuer.length === 0) {
    throw new TypeError('createJwtProvider: option "issuer" (BROKER_ISSUER) is required');
  }

  async function sign(input: IssueInput<JwtTemplate, JwtGrant>): Promise<Issued> {
    const claims = mintedClaims(issuer, input);
    if (claims.exp <= claims.iat) throw new Error(`lease ${input.leaseId}: expiresAt is not after issuedAt`);
    // The key is read per call (an in-memory field), so a rotation takes effect on the next token.
    const { kid, alg, privateKey } = keyStore.currentKey();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
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
