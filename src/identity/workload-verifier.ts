// Verifies workload identity tokens (Kubernetes service account tokens, GitHub Actions OIDC,
// SPIFFE JWT-SVIDs…) against the issuers trusted in broker.yaml, and maps their claims to the
// attributes Cedar sees on the Agent principal.
import type { IssuerConfig } from '../policy-config/broker-yaml.js';
import { problems } from '../problem.js';
import { mapAttributes } from './claims.js';
import { createKeySource } from './key-sources.js';
import {
  clockTolerance,
  inspectToken,
  isCacheable,
  type TrustedIssuer,
  type VerifierOptions,
  verifySignedToken,
} from './token-checks.js';
import type { WorkloadIdentity } from './types.js';
import { createVerifiedCache } from './verified-cache.js';

export type { VerifierOptions };

export interface WorkloadVerifier {
  /** Resolves the identity, or throws a 401 problem (bad token) or a 503 problem (keys unreachable). */
  verify(token: string): Promise<WorkloadIdentity>;
}

interface WorkloadIssuer extends TrustedIssuer {
  config: IssuerConfig;
}

export function createWorkloadVerifier(
  issuers: readonly IssuerConfig[],
  opts: VerifierOptions,
): WorkloadVerifier {
  const tolerance = clockTolerance(opts);
  const problemsFound = checkWorkloadIssuers(issuers);
  if (problemsFound.length > 0) throw new Error(problemsFound.join('; '));
  const byIss = new Map<string, WorkloadIssuer>();
  for (const config of issuers) {
    byIss.set(config.issuer, {
      config,
      label: config.name,
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      keys: createKeySource(config, { ...opts, label: config.name }),
    });
  }
  const cache = createVerifiedCache<WorkloadIdentity>(opts.clock, opts.cacheSize);

  async function verifyUncached(token: string): Promise<WorkloadIdentity> {
    const { alg, iss } = inspectToken(token);
    const trusted = byIss.get(iss);
    if (trusted === undefined) {
      throw problems.unauthorized('unknown issuer: no configured issuer has this iss');
    }
    const payload = await verifySignedToken(token, alg, trusted, {
      clock: opts.clock,
      clockToleranceSeconds: tolerance,
    });
    return {
      subject: payload.sub,
      issuer: trusted.config.name,
      attributes: mapAttributes(payload, trusted.config.attributes),
      expiresAt: new Date(payload.exp * 1000),
    };
  }

  return {
    async verify(token) {
      const cached = isCacheable(token) ? cache.get(token) : undefined;
      if (cached !== undefined) return cached;
      const identity = await verifyUncached(token);
      cache.set(token, identity, identity.expiresAt);
      return identity;
    },
  };
}

/** Problems with the issuer list as a whole, for the policy loader to report at start-up. */
export function checkWorkloadIssuers(issuers: readonly IssuerConfig[]): string[] {
  const problemsFound: string[] = [];
  const byIss = new Map<string, string>();
  for (const { name, issuer } of issuers) {
    const clash = byIss.get(issuer);
    // The unverified iss picks the keys; two issuers sharing it would make that choice ambiguous.
    if (clash !== undefined) {
      problemsFound.push(
        `issuers ${clash} and ${name} both have issuer ${issuer}; give each its own issuer URL`,
      );
    }
    byIss.set(issuer, name);
  }
  return problemsFound;
}
