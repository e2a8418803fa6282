// A real OpenID Connect provider (node-oidc-provider) in this process, as the staff IdP: the
// console client (code + PKCE, client_secret_basic), its development login page, staff accounts
// with groups, and the signing key, so tests can also make the human tokens agents forward.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import Provider, { type OidcContext } from 'oidc-provider';

export interface StaffAccount {
  name: string;
  email: string;
  groups: string[];
}

export const STAFF_ACCOUNTS: Record<string, StaffAccount> = {
  alice: { name: 'Alice Ng', email: 'alice@example.com', groups: ['security-oncall', 'staff'] },
  bob: { name: 'Bob Martin', email: 'bob@example.com', groups: ['engineering'] },
  carol: { name: 'Carol Diaz', email: 'carol@example.com', groups: ['security-oncall', 'analytics'] },
  dave: { name: 'Dave Okafor', email: 'dave@example.com', groups: ['security-oncall'] },
};

export interface StaffIdpOptions {
  clientId: string;
  /** Undefined registers a public client (PKCE only). */
  clientSecret: string | undefined;
  redirectUri: string;
}

export interface StaffIdp {
  issuer: string;
  jwksUri: string;
  /** A token as this IdP would sign it (for `on_behalf_of`); `aud` defaults to the client id. */
  signToken(sub: string, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** Listens first, so a caller can learn the issuer URL before it knows the redirect URI. */
export async function listenStaffIdp(): Promise<{ issuer: string; configure(opts: StaffIdpOptions): Promise<StaffIdp> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, configure: (opts) => configureStaffIdp(server, issuer, opts) };
}

async function configureStaffIdp(server: Server, issuer: string, opts: StaffIdpOptions): Promise<StaffIdp> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const client = {
    client_id: opts.clientId,
    redirect_uris: [opts.redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...(opts.clientSecret === undefined
      ? { token_endpoint_auth_method: 'none' }
      : { client_secret: opts.clientSecret, token_endpoint_auth_method: 'client_secret_basic' }),
  };
  const provider = new Provider(issuer, {
    clients: [client],
    jwks: { keys: [privateJwk] },
    cookies: { keys: [randomUUID()] },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    pkce: { required: () => true },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx: unknown, id: string) => {
      const account = STAFF_ACCOUNTS[id];
      if (account === undefined) return undefined;
      return { accountId: id, claims: () => ({ sub: id, ...account }) };
    },
    // The console is a first-party client: staff are not asked to consent to it.
    loadExistingGrant: async (ctx: OidcContext) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId !== undefined) return oidc.provider.Grant.find(grantId);
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope('openid profile email groups');
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    signToken: (sub, claims = {}) =>
      new SignJWT({ sub, iss: issuer, aud: opts.clientId, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey as CryptoKey),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
