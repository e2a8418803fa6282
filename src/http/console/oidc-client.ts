// Staff sign-in for the console: the OpenID Connect authorization code flow with PKCE (RFC 7636,
// S256) against the staff issuer from broker.yaml, as a confidential client when
// STAFF_CLIENT_SECRET is set and a public one otherwise. The ID token is verified with the same
// checks as every staff token (alg allow-list, signature, iss, exp), then aud = client_id and the
// nonce of this sign-in. Tokens and codes live only in local variables: never logged, never stored.
import { createHash } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { Clock } from '../../clock.js';
import { readClaim, readGroups, readOptionalString } from '../../identity/claims.js';
import { createKeySource } from '../../identity/key-sources.js';
import { inspectToken, type TrustedIssuer, verifySignedToken } from '../../identity/token-checks.js';
import type { HumanIdentity } from '../../identity/types.js';
import type { Logger } from '../../logger.js';
import type { StaffConfig } from '../../policy-config/broker-yaml.js';
import { type Problem, problems } from '../../problem.js';
import { constantTimeEqual, type PendingLogin, randomToken } from './session.js';

const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const HTTP_TIMEOUT_MS = 5000;
const MAX_RESPONSE_BYTES = 256 * 1024;
/** Standard scopes; the groups scope is added when the IdP advertises it (Okta, Keycloak do). */
const BASE_SCOPES = ['openid', 'profile', 'email'];

export interface StaffOidcOptions {
  staff: StaffConfig & { client_id: string };
  clientSecret: string | undefined;
  /** `<PUBLIC_URL>/console/callback`, registered at the IdP. */
  redirectUri: string;
  policyDir: string;
  clock: Clock;
  logger: Logger;
}

export interface LoginStart {
  /** Where to send the browser. */
  authorizationUrl: string;
  /** What the callback must be checked against (kept sealed in the browser meanwhile). */
  pending: Omit<PendingLogin, 'returnTo'>;
}

/** The query of the redirect back from the IdP. */
export interface CallbackParams {
  code?: string | undefined;
  state?: string | undefined;
  iss?: string | undefined;
  error?: string | undefined;
}

export interface StaffOidcClient {
  startLogin(): Promise<LoginStart>;
  /** Checks the callback, redeems the code and verifies the ID token; throws a Problem. */
  finishLogin(params: CallbackParams, pending: PendingLogin): Promise<HumanIdentity>;
}

const endpoint = z.string().refine((v) => URL.canParse(v), 'must be an absolute URL');

/** OpenID Connect Discovery 1.0 §3, the members the console uses. */
const discoverySchema = z.object({
  issuer: z.string(),
  authorization_endpoint: endpoint,
  token_endpoint: endpoint,
  jwks_uri: endpoint,
  userinfo_endpoint: endpoint.optional(),
  scopes_supported: z.array(z.string()).optional(),
  code_challenge_methods_supported: z.array(z.string()).optional(),
  token_endpoint_auth_methods_supported: z.array(z.string()).optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});
type Discovery = z.output<typeof discoverySchema>;

const tokenResponseSchema = z.object({
  id_token: z.string().min(1),
  access_token: z.string().min(1).optional(),
  token_type: z.string().optional(),
});

/** OAuth error codes are short ASCII words; anything else from the wire is not echoed. */
function errorCode(value: unknown): string {
  return typeof value === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(value) ? value : 'unknown_error';
}

function signInFailed(detail: string, cause?: unknown): Problem {
  return problems.signInFailed(detail, { cause });
}

function idpUnavailable(detail: string, cause?: unknown): Problem {
  return problems.unavailable(`the staff identity provider: ${detail}`, {
    retryAfterSeconds: 5,
    cause: cause,
  });
}

/** https, or http on a loopback address where no network sees the traffic (tests, dev IdPs). */
function checkEndpointUrl(name: string, value: string): void {
  const url = new URL(value);
  const loopback =
    url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return;
  throw idpUnavailable(`${name} ${value} must use https (plain http only on loopback addresses)`);
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

async function fetchJson(
  url: string,
  init: RequestInit,
  what: string,
): Promise<{ status: number; body: unknown }> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch (error) {
    throw idpUnavailable(`${what} could not be reached`, error);
  }
  const text = await response.text();
  if (text.length > MAX_RESPONSE_BYTES) throw idpUnavailable(`${what} answered with an oversized body`);
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch (error) {
    throw idpUnavailable(`${what} did not answer with JSON (HTTP ${response.status})`, error);
  }
}

export function createStaffOidcClient(opts: StaffOidcOptions): StaffOidcClient {
  const { staff, clock, logger } = opts;
  const discoveryUrl = `${staff.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  checkEndpointUrl('issuer', discoveryUrl);
  let cached: { at: number; discovery: Discovery; trusted: TrustedIssuer } | undefined;

  async function discover(): Promise<{ discovery: Discovery; trusted: TrustedIssuer }> {
    const now = clock.now().getTime();
    if (cached !== undefined && now - cached.at < DISCOVERY_TTL_MS) return cached;
    const { status, body } = await fetchJson(
      discoveryUrl,
      { headers: { accept: 'application/json' } },
      'discovery',
    );
    if (status !== 200) throw idpUnavailable(`discovery answered HTTP ${status}`);
    const parsed = discoverySchema.safeParse(body);
    if (!parsed.success)
      throw idpUnavailable('the discovery document is missing required endpoints', parsed.error);
    const discovery = parsed.data;
    // Discovery §4.3: the document must name exactly the issuer it was fetched for.
    if (discovery.issuer !== staff.issuer) {
      throw idpUnavailable(`discovery names issuer ${discovery.issuer}, not ${staff.issuer}`);
    }
    for (const name of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'userinfo_endpoint',
    ] as const) {
      const url = discovery[name];
      if (url !== undefined) checkEndpointUrl(name, url);
    }
    const methods = discovery.code_challenge_methods_supported;
    if (methods !== undefined && !methods.includes('S256')) {
      throw idpUnavailable('the identity provider does not support PKCE with S256');
    }
    const keys = createKeySource(
      { jwks_uri: discovery.jwks_uri },
      { policyDir: opts.policyDir, clock, logger, label: 'staff' },
    );
    const trusted: TrustedIssuer = {
      label: 'staff',
      issuer: staff.issuer,
      audience: staff.client_id,
      algorithms: staff.algorithms,
      keys,
    };
    cached = { at: now, discovery, trusted };
    return cached;
  }

  function clientAuthentication(discovery: Discovery): {
    headers: Record<string, string>;
    body: Record<string, string>;
  } {
    if (opts.clientSecret === undefined) return { headers: {}, body: { client_id: staff.client_id } };
    // RFC 6749 §2.3.1: client_secret_basic is the default, and the id and secret are form-encoded first.
    const supported = discovery.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    if (supported.includes('client_secret_basic')) {
      const pair = `${formEncode(staff.client_id)}:${formEncode(opts.clientSecret)}`;
      return { headers: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` }, body: {} };
    }
    if (supported.includes('client_secret_post')) {
      return { headers: {}, body: { client_id: staff.client_id, client_secret: opts.clientSecret } };
    }
    throw idpUnavailable('the token endpoint supports neither client_secret_basic nor client_secret_post');
  }

  async function redeemCode(discovery: Discovery, code: string, pending: PendingLogin) {
    const auth = clientAuthentication(discovery);
    const { status, body } = await fetchJson(
      discovery.token_endpoint,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          ...auth.headers,
        },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: opts.redirectUri,
          code_verifier: pending.codeVerifier,
          ...auth.body,
        }),
      },
      'the token endpoint',
    );
    if (status !== 200) {
      const code = errorCode((body as { error?: unknown } | null)?.error);
      logger.warn({ status, error: code }, 'console sign-in: the token endpoint refused the code');
      if (status >= 500) throw idpUnavailable(`the token endpoint answered HTTP ${status}`);
      throw signInFailed(`the identity provider refused to redeem the sign-in (${code}); sign in again`);
    }
    const parsed = tokenResponseSchema.safeParse(body);
    if (!parsed.success) throw signInFailed('the identity provider returned no ID token');
    return parsed.data;
  }

  async function verifyIdToken(
    trusted: TrustedIssuer,
    idToken: string,
    pending: PendingLogin,
  ): Promise<JWTPayload & { sub: string }> {
    const { alg, iss } = inspectToken(idToken);
    if (iss !== staff.issuer) throw signInFailed('the ID token is not from the staff identity provider');
    const payload = await verifySignedToken(idToken, alg, trusted, { clock, clockToleranceSeconds: 30 });
    // OIDC Core §3.1.3.7: iat present, nonce equal to this sign-in's, azp = us when several audiences.
    if (typeof payload.iat !== 'number') throw signInFailed('the ID token has no iat claim');
    if (typeof payload.nonce !== 'string' || !constantTimeEqual(payload.nonce, pending.nonce)) {
      throw signInFailed('the ID token nonce does not belong to this sign-in');
    }
    const several = Array.isArray(payload.aud) && payload.aud.length > 1;
    if ((several || payload.azp !== undefined) && payload.azp !== staff.client_id) {
      throw signInFailed('the ID token was issued to another client (azp)');
    }
    return payload;
  }

  /** Groups (and name, email) from the UserInfo endpoint when the ID token leaves them out. */
  async function readUserInfo(
    discovery: Discovery,
    accessToken: string,
    sub: string,
  ): Promise<JWTPayload | undefined> {
    if (discovery.userinfo_endpoint === undefined) return undefined;
    const { status, body } = await fetchJson(
      discovery.userinfo_endpoint,
      { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
      'the userinfo endpoint',
    );
    if (status !== 200 || typeof body !== 'object' || body === null) {
      throw idpUnavailable(`the userinfo endpoint answered HTTP ${status}`);
    }
    // OIDC Core §5.3.2: a UserInfo response for another subject must not be used.
    if ((body as JWTPayload).sub !== sub) throw signInFailed('the userinfo response is for another subject');
    return body as JWTPayload;
  }

  return {
    async startLogin() {
      const { discovery } = await discover();
      const pending = { state: randomToken(), nonce: randomToken(), codeVerifier: randomToken() };
      const scopes = [...BASE_SCOPES];
      if (discovery.scopes_supported?.includes(staff.groups_claim)) scopes.push(staff.groups_claim);
      const url = new URL(discovery.authorization_endpoint);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', staff.client_id);
      url.searchParams.set('redirect_uri', opts.redirectUri);
      url.searchParams.set('scope', scopes.join(' '));
      url.searchParams.set('state', pending.state);
      url.searchParams.set('nonce', pending.nonce);
      url.searchParams.set('code_challenge', s256Challenge(pending.codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return { authorizationUrl: url.toString(), pending };
    },

    async finishLogin(params, pending) {
      const { discovery, trusted } = await discover();
      if (params.error !== undefined) {
        throw signInFailed(`the identity provider did not sign you in (${errorCode(params.error)})`);
      }
      if (params.state === undefined || !constantTimeEqual(params.state, pending.state)) {
        throw signInFailed(
          'the sign-in response does not belong to the sign-in this browser started; sign in again',
        );
      }
      // RFC 9207: the iss parameter tells which IdP answered (mix-up defence).
      if (
        params.iss !== undefined
          ? params.iss !== staff.issuer
          : discovery.authorization_response_iss_parameter_supported === true
      ) {
        throw signInFailed('the sign-in response does not come from the staff identity provider');
      }
      if (params.code === undefined || params.code.length === 0 || params.code.length > 2048) {
        throw signInFailed('the sign-in response has no authorization code');
      }
      const tokens = await redeemCode(discovery, params.code, pending);
      const payload = await verifyIdToken(trusted, tokens.id_token, pending);
      let claims: JWTPayload = payload;
      if (readClaim(payload, staff.groups_claim) === undefined && tokens.access_token !== undefined) {
        const userInfo = await readUserInfo(discovery, tokens.access_token, payload.sub);
        if (userInfo !== undefined)
          claims = { ...userInfo, ...payload, [staff.groups_claim]: readClaim(userInfo, staff.groups_claim) };
      }
      const human: HumanIdentity = {
        subject: payload.sub,
        issuer: staff.issuer,
        groups: readGroups(claims, staff.groups_claim),
      };
      const name = readOptionalString(claims, 'name') ?? readOptionalString(claims, 'preferred_username');
      const email = readOptionalString(claims, 'email');
      if (name !== undefined) human.name = name;
      if (email !== undefined) human.email = email;
      return human;
    },
  };
}
