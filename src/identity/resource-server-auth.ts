// Authenticates the resource servers that call /v1/introspect (RFC 7662 §2.1): HTTP Basic or
// client_secret_post against the hex sha256 kept in broker.yaml (RFC 6749 §2.3.1), or
// private_key_jwt (RFC 7523 §2.2, §3) against the server's JWKS. Exactly one method per request.
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { oauthError } from '../oauth-error.js';
import { ASYMMETRIC_ALGORITHMS, type ResourceServerConfig } from '../policy-config/broker-yaml.js';
import { Problem } from '../problem.js';
import { createKeySource, type KeySource } from './key-sources.js';
import { inspectToken, verifySignedToken } from './token-checks.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const CLIENT_ASSERTION_ALGORITHMS = ASYMMETRIC_ALGORITHMS;

/** What a caller sent that may authenticate it. */
export interface ClientCredentials {
  authorization: string | undefined;
  client_id?: string | undefined;
  client_secret?: string | undefined;
  client_assertion_type?: string | undefined;
  client_assertion?: string | undefined;
}

export interface ResourceServerAuthOptions {
  policyDir: string;
  clock: Clock;
  logger: Logger;
  /** Accepted `aud` of a client assertion: the introspection endpoint URL and the broker's issuer. */
  assertionAudiences: string[];
}

const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="jit-broker introspection", charset="UTF-8"' };

/** Fixed and non-revealing (which ids exist, which check failed, go to the log only). */
function invalidClient(cause: string): Problem {
  // RFC 6749 §5.2: a 401 names the scheme the client can use (sent whichever it tried).
  return oauthError(401, 'invalid_client', 'client authentication failed', {
    headers: BASIC_CHALLENGE,
    cause: new Error(cause),
  });
}

function invalidRequest(description: string): Problem {
  return oauthError(400, 'invalid_request', description);
}

function sha256Hex(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined by ":". */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return undefined;
  }
}

function parseBasic(header: string): { id: string; secret: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  if (!match) throw invalidRequest('the Authorization header is not HTTP Basic credentials');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const id = colon > 0 ? formDecode(decoded.slice(0, colon)) : undefined;
  const secret = colon > 0 ? formDecode(decoded.slice(colon + 1)) : undefined;
  if (id === undefined || secret === undefined)
    throw invalidRequest('the HTTP Basic credentials are malformed');
  return { id, secret };
}

export interface ResourceServerAuthenticator {
  /** The authenticated resource server; throws an OAuth-shaped Problem otherwise. */
  authenticate(credentials: ClientCredentials): Promise<ResourceServerConfig>;
}

export function createResourceServerAuthenticator(
  servers: readonly ResourceServerConfig[],
  opts: ResourceServerAuthOptions,
): ResourceServerAuthenticator {
  const byId = new Map(servers.map((rs) => [rs.client_id, rs]));
  const keySources = new Map<string, KeySource>();
  const keysOf = (rs: ResourceServerConfig): KeySource => {
    let keys = keySources.get(rs.client_id);
    if (keys === undefined) {
      keys = createKeySource(rs, {
        policyDir: opts.policyDir,
        clock: opts.clock,
        logger: opts.logger,
        label: `resource server ${rs.client_id}`,
      });
      keySources.set(rs.client_id, keys);
    }
    return keys;
  };

  function checkSecret(id: string, secret: string): ResourceServerConfig {
    const rs = byId.get(id);
    // Hashed either way, so an unknown id costs what a known one does.
    const presented = sha256Hex(secret);
    if (rs === undefined) throw invalidClient(`unknown client_id ${JSON.stringify(id)}`);
    if (rs.client_secret_sha256 === undefined)
      throw invalidClient(`${id} authenticates with private_key_jwt, not a secret`);
    if (!timingSafeEqual(presented, Buffer.from(rs.client_secret_sha256, 'hex')))
      throw invalidClient(`wrong secret for ${id}`);
    return rs;
  }

  async function checkAssertion(
    type: string | undefined,
    assertion: string,
    claimedId: string | undefined,
  ): Promise<ResourceServerConfig> {
    if (type !== CLIENT_ASSERTION_TYPE)
      throw invalidRequest(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
    let unverified: { iss?: unknown; sub?: unknown };
    try {
      unverified = decodeJwt(assertion);
    } catch (error) {
      throw invalidClient(`client_assertion is not a JWT (${(error as Error).message})`);
    }
    // RFC 7523 §3: iss and sub are both the client_id.
    const id = typeof unverified.sub === 'string' ? unverified.sub : undefined;
    if (id === undefined || unverified.iss !== id)
      throw invalidClient('client_assertion iss and sub must both be the client_id');
    if (claimedId !== undefined && claimedId !== id)
      throw invalidClient('client_id differs from the client_assertion subject');
    const rs = byId.get(id);
    if (rs === undefined) throw invalidClient(`unknown client_id ${JSON.stringify(id)}`);
    if (rs.client_secret_sha256 !== undefined)
      throw invalidClient(`${id} authenticates with a secret, not private_key_jwt`);
    const { alg } = inspectToken(assertion);
    try {
      await verifySignedToken(
        assertion,
        alg,
        {
          label: `resource server ${id}`,
          issuer: id,
          audience: opts.assertionAudiences,
          algorithms: CLIENT_ASSERTION_ALGORITHMS,
          keys: keysOf(rs),
        },
        { clock: opts.clock, clockToleranceSeconds: 30 },
      );
    } catch (error) {
      // A JWKS endpoint that cannot be reached is the broker's problem, not the client's.
      if (error instanceof Problem && error.status === 503)
        throw oauthError(503, 'temporarily_unavailable', 'the client keys cannot be fetched; retry shortly', {
          cause: error,
        });
      throw invalidClient(`client_assertion of ${id} does not verify: ${(error as Error).message}`);
    }
    return rs;
  }

  return {
    async authenticate(credentials) {
      const used = [
        credentials.authorization !== undefined,
        credentials.client_secret !== undefined,
        credentials.client_assertion !== undefined,
      ].filter(Boolean).length;
      // RFC 6749 §2.3: a client must not use more than one authentication method in a request.
      if (used > 1) throw invalidRequest('use exactly one client authentication method');
      if (credentials.authorization !== undefined) {
        const { id, secret } = parseBasic(credentials.authorization);
        if (credentials.client_id !== undefined && credentials.client_id !== id)
          throw invalidRequest('client_id differs from the HTTP Basic client id');
        return checkSecret(id, secret);
      }
      if (credentials.client_secret !== undefined) {
        if (credentials.client_id === undefined) throw invalidRequest('client_secret needs client_id');
        return checkSecret(credentials.client_id, credentials.client_secret);
      }
      if (credentials.client_assertion !== undefined) {
        return checkAssertion(
          credentials.client_assertion_type,
          credentials.client_assertion,
          credentials.client_id,
        );
      }
      throw invalidClient(
        credentials.client_id === undefined
          ? 'no client authentication'
          : `client ${JSON.stringify(credentials.client_id)} sent no credentials`,
      );
    },
  };
}
