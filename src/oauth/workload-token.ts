// A workload identity token presented to the token endpoint (subject_token, actor_token or
// assertion): verified by the same verifier as every Bearer token of the API, then refused if it
// claims a delegation of its own. Only the broker writes `act`; a workload token carrying one is
// an attempt to start a chain in the middle.
import { decodeJwt } from 'jose';
import type { WorkloadIdentity } from '../identity/types.js';
import { Problem } from '../problem.js';
import { OAuthError, type OAuthErrorCode, oauthErrorFrom } from './errors.js';

export type VerifyWorkload = (token: string) => Promise<WorkloadIdentity>;

/**
 * RFC 8693 §2.2.2 says an invalid subject or actor token is `invalid_request`; RFC 7523 §3.1
 * says an invalid assertion is `invalid_grant`; CIBA §11 answers a poll by someone else the same.
 */
export async function verifyWorkloadToken(
  verify: VerifyWorkload,
  token: string,
  parameter: string,
  code: Extract<OAuthErrorCode, 'invalid_request' | 'invalid_grant'>,
): Promise<WorkloadIdentity> {
  let identity: WorkloadIdentity;
  try {
    identity = await verify(token);
  } catch (error) {
    if (error instanceof Problem && error.status === 401) {
      throw new OAuthError(code, {
        description: `${parameter} is not a valid workload identity token`,
        detail: error.detail,
        cause: error,
      });
    }
    throw oauthErrorFrom(error);
  }
  // The signature was verified above, so the payload read here is the issuer's.
  if (decodeJwt(token).act !== undefined) {
    throw new OAuthError(code, {
      description: `${parameter} must not carry an act claim: delegation chains start at the broker`,
    });
  }
  return identity;
}
