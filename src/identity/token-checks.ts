// The checks every identity token passes, workload or staff, in the order a reviewer expects:
// shape and size, header, algorithm family, then signature and claims with jose. Each failure is
// a 401 problem that says what was wrong without echoing the token.
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { Problem, problems } from '../problem.js';
import { type JwksFetchOptions, type KeySource, SigningKeysUnavailable } from './key-sources.js';

/** Identity tokens are a few hundred bytes to a few KiB; anything larger is refused unread. */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** base64url header . base64url payload . base64url signature (empty for alg none, refused below). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Options shared by the workload and the staff verifier. */
export interface VerifierOptions {
  /** jwks_file paths are relative to the policy directory. */
  policyDir: string;
  clock: Clock;
  /** Allowed skew between the issuer's clock and ours for exp/nbf (default 30 s). */
  clockToleranceSeconds?: number;
  /** Verified identities kept (default 10,000; 0 disables the cache). */
  cacheSize?: number;
  jwks?: JwksFetchOptions;
  /** Warnings about key refresh failures; never receives a token. */
  logger?: Logger;
}

export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

export function clockTolerance(opts: VerifierOptions): number {
  const seconds = opts.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 300) {
    throw new Error('clockToleranceSeconds must be between 0 and 300');
  }
  return seconds;
}

/** What a token is checked against once its issuer is known. */
export interface TrustedIssuer {
  /** Names the issuer in problems and logs (the configured name, or "staff"). */
  label: string;
  issuer: string;
  /** Several: any one of them (a client assertion may name the endpoint or the issuer). */
  audience: string | string[];
  algorithms: readonly string[];
  keys: KeySource;
}

export interface ClaimCheckOptions {
  clock: Clock;
  clockToleranceSeconds: number;
}

/** A verified payload: signature, iss, aud, exp, nbf checked; sub present. */
export type VerifiedPayload = JWTPayload & { sub: string; exp: number };

export interface InspectedToken {
  alg: string;
  /** Unverified: only used to pick the issuer whose keys then verify the token. */
  iss: string;
}

/** Only tokens that could pass inspectToken are looked up in a cache (hashing is not free). */
export function isCacheable(token: unknown): token is string {
  return typeof token === 'string' && token.length > 0 && token.length <= MAX_TOKEN_BYTES;
}

/** Checks that need no key. Throws a 401 problem; returns the alg and the (unverified) iss. */
export function inspectToken(token: unknown): InspectedToken {
  if (typeof token !== 'string' || token.length === 0) throw problems.unauthorized('token is missing');
  if (token.length > MAX_TOKEN_BYTES) {
    throw problems.unauthorized(`token is larger than ${MAX_TOKEN_BYTES} bytes`);
  }
  if (!COMPACT_JWS.test(token)) {
    throw problems.unauthorized('token is not a compact JWS (header.payload.signature)');
  }
  const header = decodeOrUndefined(() => decodeProtectedHeader(token));
  if (header === undefined) throw problems.unauthorized('token header is not base64url-encoded JSON');
  const alg = header.alg;
  if (typeof alg !== 'string' || alg.length === 0) throw problems.unauthorized('token header has no alg');
  if (alg.toLowerCase() === 'none') {
    throw problems.unauthorized('alg none is never accepted: the token is unsigned');
  }
  if (/^hs/i.test(alg)) {
    throw problems.unauthorized(`symmetric ${printable(alg)} is never accepted for identity tokens`);
  }
  const payload = decodeOrUndefined(() => decodeJwt(token));
  if (payload === undefined) {
    throw problems.unauthorized('token payload is not a base64url-encoded JSON object');
  }
  if (typeof payload.iss !== 'string' || payload.iss.length === 0) {
    throw problems.unauthorized('token has no iss claim');
  }
  return { alg, iss: payload.iss };
}

/**
 * Verifies signature and claims against one trusted issuer. Throws a 401 problem for a bad token
 * and a 503 problem when the issuer's keys cannot be fetched.
 */
export async function verifySignedToken(
  token: string,
  alg: string,
  trusted: TrustedIssuer,
  opts: ClaimCheckOptions,
): Promise<VerifiedPayload> {
  if (!trusted.algorithms.includes(alg)) {
    throw problems.unauthorized(`${printable(alg)} is not an allowed algorithm for issuer ${trusted.label}`);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, trusted.keys.getKey, {
      issuer: trusted.issuer,
      audience: trusted.audience,
      algorithms: [...trusted.algorithms],
      clockTolerance: opts.clockToleranceSeconds,
      currentDate: opts.clock.now(),
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw toProblem(error, trusted);
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
    throw problems.unauthorized('token sub must be a non-empty string');
  }
  return payload as VerifiedPayload;
}

/** jose errors by class → what the caller did wrong (401), or a dependency failure (503). */
function toProblem(error: unknown, trusted: TrustedIssuer): Problem {
  const issuer = trusted.label;
  if (error instanceof Problem) return error;
  if (error instanceof SigningKeysUnavailable) {
    return problems.unavailable(`cannot fetch the signing keys of issuer ${issuer}`, {
      retryAfterSeconds: 5,
      cause: error,
    });
  }
  if (error instanceof errors.JWTExpired) return problems.unauthorized('token has expired', { cause: error });
  if (error instanceof errors.JWTClaimValidationFailed) return claimProblem(error, trusted);
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return problems.unauthorized(`token signature does not verify with the keys of issuer ${issuer}`, {
      cause: error,
    });
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return problems.unauthorized(`no signing key of issuer ${issuer} matches the token's kid and alg`, {
      cause: error,
    });
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return problems.unauthorized(`several signing keys of issuer ${issuer} match the token; it needs a kid`, {
      cause: error,
    });
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return problems.unauthorized('token is not a well-formed JWT', { cause: error });
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return problems.unauthorized(`token alg is not allowed for issuer ${issuer}`, { cause: error });
  }
  if (error instanceof errors.JOSENotSupported) {
    return problems.unauthorized('token uses an unsupported algorithm, key type or critical header', {
      cause: error,
    });
  }
  if (error instanceof errors.JOSEError)
    return problems.unauthorized('token could not be verified', { cause: error });
  // Not a property of the token (a bug, a broken runtime): let the app render a logged 500.
  throw error;
}

function claimProblem(
  error: InstanceType<typeof errors.JWTClaimValidationFailed>,
  trusted: TrustedIssuer,
): Problem {
  const { claim, reason } = error;
  if (reason === 'missing') return problems.unauthorized(`token has no ${claim} claim`, { cause: error });
  if (reason === 'invalid')
    return problems.unauthorized(`token ${claim} claim is malformed`, { cause: error });
  switch (claim) {
    case 'aud':
      return problems.unauthorized(`token aud does not include ${trusted.audience}`, { cause: error });
    case 'iss':
      return problems.unauthorized(`token iss is not ${trusted.issuer}`, { cause: error });
    case 'nbf':
      return problems.unauthorized('token is not valid yet (nbf is in the future)', { cause: error });
    default:
      return problems.unauthorized(`token ${claim} claim failed validation`, { cause: error });
  }
}

function decodeOrUndefined<T>(decode: () => T): T | undefined {
  try {
    return decode();
  } catch {
    return undefined;
  }
}

/** Header values are attacker-chosen: only echo short, plain algorithm names. */
function printable(alg: string): string {
  return /^[A-Za-z0-9+-]{1,20}$/.test(alg) ? `alg ${alg}` : 'the token alg';
}
