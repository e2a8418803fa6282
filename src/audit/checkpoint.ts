// Signed checkpoints of the audit chain's head: {seq, hash} signed with the broker's JWT signing
// key. Kept outside the database (the log, an operator's archive), an earlier checkpoint proves
// how long the chain was: a tail deleted since is detected by verifying against it.
import { type CryptoKey, createLocalJWKSet, type JSONWebKeySet, jwtVerify, SignJWT } from 'jose';
import type postgres from 'postgres';
import { GENESIS_HASH } from './audit-hash.js';

export const CHECKPOINT_TYP = 'audit-checkpoint+jwt';

export interface AuditHead {
  seq: number;
  hash: string;
}

/** What signs and checks checkpoints: the broker's key store (current key, published JWKS). */
export interface CheckpointKeys {
  currentKey(): { kid: string; alg: string; privateKey: CryptoKey };
  jwks(): JSONWebKeySet;
}

export async function readAuditHead(sql: postgres.Sql): Promise<AuditHead> {
  const [head] = await sql<{ seq: string; hash: string }[]>`
    select a.seq::text as seq, a.hash from audit_events a where a.seq is not null order by a.seq desc limit 1`;
  return head ? { seq: Number(head.seq), hash: head.hash } : { seq: 0, hash: GENESIS_HASH };
}

export async function signCheckpoint(
  keys: CheckpointKeys,
  issuer: string,
  head: AuditHead,
  now: Date,
): Promise<string> {
  const { kid, alg, privateKey } = keys.currentKey();
  return new SignJWT({ seq: head.seq, hash: head.hash })
    .setProtectedHeader({ alg, kid, typ: CHECKPOINT_TYP })
    .setIssuer(issuer)
    .setSubject('audit-chain')
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    .sign(privateKey);
}

/** The head a checkpoint vouches for, or undefined when it is not one this broker signed. */
export async function openCheckpoint(
  keys: CheckpointKeys,
  issuer: string,
  token: string,
): Promise<(AuditHead & { iat: number }) | undefined> {
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
      issuer,
      subject: 'audit-chain',
      typ: CHECKPOINT_TYP,
      requiredClaims: ['iat'],
    });
    const { seq, hash, iat } = payload as { seq?: unknown; hash?: unknown; iat?: number };
    if (
      !Number.isSafeInteger(seq) ||
      (seq as number) < 0 ||
      typeof hash !== 'string' ||
      !/^[0-9a-f]{64}$/.test(hash)
    ) {
      return undefined;
    }
    return { seq: seq as number, hash, iat: iat! };
  } catch {
    return undefined;
  }
}
