// The staff IdP of the console tests: the broker's own node-oidc-provider setup
// (src/identity/dev-staff-idp/staff-idp.ts) in this process, with test accounts and a fresh RS256
// key, plus that key so tests can also make the human tokens agents forward.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createStaffIdp, type StaffAccount } from '../../../src/identity/dev-staff-idp/staff-idp.js';

/** Each test account's password (the login form checks it). */
export function staffPassword(login: string): string {
  return `${login}-correct-horse`;
}

const account = (login: string, name: string, groups: string[]): StaffAccount => ({
  login,
  password: staffPassword(login),
  name,
  email: `${login}@example.com`,
  groups,
});

export const STAFF_ACCOUNTS: readonly StaffAccount[] = [
  account('alice', 'Alice Ng', ['security-oncall', 'staff']),
  account('bob', 'Bob Martin', ['engineering']),
  account('carol', 'Carol Diaz', ['security-oncall', 'analytics']),
  account('dave', 'Dave Okafor', ['security-oncall']),
];

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
export async function listenStaffIdp(): Promise<{
  issuer: string;
  configure(opts: StaffIdpOptions): Promise<StaffIdp>;
}> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, configure: (opts) => configureStaffIdp(server, issuer, opts) };
}

async function configureStaffIdp(server: Server, issuer: string, opts: StaffIdpOptions): Promise<StaffIdp> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const signingKey = { ...(await exportJWK(privateKey)), kid, alg: 'RS256' };
  const handler = await createStaffIdp({
    issuer,
    signingKey,
    client: { clientId: opts.clientId, clientSecret: opts.clientSecret, redirectUris: [opts.redirectUri] },
    accounts: STAFF_ACCOUNTS,
  });
  server.on('request', handler);
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
