// Verifies tokens from the staff identity provider: bearer tokens on the staff API and the human
// `on_behalf_of` tokens agents forward (same issuer, same audience, same checks).
import type { StaffConfig } from '../policy-config/broker-yaml.js';
import { problems } from '../problem.js';
import { readGroups, readOptionalString } from './claims.js';
import { createKeySource } from './key-sources.js';
import {
  clockTolerance,
  inspectToken,
  isCacheable,
  type TrustedIssuer,
  type VerifierOptions,
  verifySignedToken,
} from './token-checks.js';
import type { HumanIdentity } from './types.js';
import { createVerifiedCache } from './verified-cache.js';

export interface StaffVerifier {
  /** Resolves the human, or throws a 401 problem (bad token) or a 503 problem (keys unreachable). */
  verify(token: string): Promise<HumanIdentity>;
}

export function createStaffVerifier(staff: StaffConfig, opts: VerifierOptions): StaffVerifier {
  const tolerance = clockTolerance(opts);
  const trusted: TrustedIssuer = {
    label: 'staff',
    issuer: staff.issuer,
    audience: staff.audience,
    algorithms: staff.algorithms,
    keys: createKeySource(staff, { ...opts, label: 'staff' }),
  };
  const cache = createVerifiedCache<HumanIdentity>(opts.clock, opts.cacheSize);

  async function verifyUncached(token: string): Promise<{ human: HumanIdentity; expiresAt: Date }> {
    const { alg, iss } = inspectToken(token);
    if (iss !== staff.issuer) {
      throw problems.unauthorized('unknown issuer: the token is not from the staff identity provider');
    }
    const payload = await verifySignedToken(token, alg, trusted, {
      clock: opts.clock,
      clockToleranceSeconds: tolerance,
    });
    const human: HumanIdentity = {
      subject: payload.sub,
      issuer: iss,
      groups: readGroups(payload, staff.groups_claim),
    };
    const name = readOptionalString(payload, 'name');
    const email = readOptionalString(payload, 'email');
    if (name !== undefined) human.name = name;
    if (email !== undefined) human.email = email;
    return { human, expiresAt: new Date(payload.exp * 1000) };
  }

  return {
    async verify(token) {
      const cached = isCacheable(token) ? cache.get(token) : undefined;
      if (cached !== undefined) return cached;
      const { human, expiresAt } = await verifyUncached(token);
      cache.set(token, human, expiresAt);
      return human;
    },
  };
}
