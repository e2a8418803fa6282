// A staff identity provider built on node-oidc-provider (a certified OpenID Connect
// implementation): the console as its one client (code + PKCE), a login page that checks each
// account's password, and accounts with groups. The development IdP and the tests both use it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';
import type { OidcContext, Provider } from 'oidc-provider';
import { errorPage, loginPage } from './login-page.js';

export interface StaffAccount {
  /** What is typed into the login form. */
  login: string;
  password: string;
  /** The `sub` of the tokens; defaults to the login. */
  sub?: string;
  name: string;
  email: string;
  groups: string[];
}

export interface StaffIdpClient {
  clientId: string;
  /** Undefined registers a public client (PKCE only); otherwise client_secret_basic. */
  clientSecret: string | undefined;
  redirectUris: string[];
}

export interface StaffIdpOptions {
  issuer: string;
  /** A private JWK with `kid` and `alg`: the ID token signing key. */
  signingKey: JWK & { kid: string; alg: string };
  client: StaffIdpClient;
  accounts: readonly StaffAccount[];
  /** Shown on the login page under the form. */
  loginHint?: string;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const MAX_FORM_BYTES = 4096;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sender(redirectUris: readonly string[]) {
  // form-action also governs where the login POST's redirects may go: on to the client's callback.
  const formTargets = ["'self'", ...new Set(redirectUris.map((u) => new URL(u).origin))].join(' ');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; form-action ${formTargets}; frame-ancestors 'none'; base-uri 'none'`;
  return (res: ServerResponse, status: number, html: string): void => {
    res.statusCode = status;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Security-Policy', csp);
    res.end(html);
  };
}

/** Builds the provider and returns the request handler to mount at the issuer's origin. */
export async function createStaffIdp(opts: StaffIdpOptions): Promise<RequestHandler> {
  const { default: OidcProvider } = await import('oidc-provider');
  const accounts = new Map(opts.accounts.map((a) => [a.login, a]));
  const bySub = new Map(opts.accounts.map((a) => [a.sub ?? a.login, a]));
  const { client } = opts;
  const send = sender(client.redirectUris);
  const provider: Provider = new OidcProvider(opts.issuer, {
    clients: [
      {
        client_id: client.clientId,
        redirect_uris: client.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: opts.signingKey.alg,
        ...(client.clientSecret === undefined
          ? { token_endpoint_auth_method: 'none' }
          : { client_secret: client.clientSecret, token_endpoint_auth_method: 'client_secret_basic' }),
      },
    ],
    jwks: { keys: [{ ...opts.signingKey, use: 'sig' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    pkce: { required: () => true },
    ttl: {
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      AccessToken: 600,
      IdToken: 600,
      AuthorizationCode: 60,
    },
    features: { devInteractions: { enabled: false } },
    renderError: (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = errorPage(out.error ?? 'error', out.error_description ?? '');
    },
    findAccount: (_ctx: unknown, sub: string) => {
      const account = bySub.get(sub);
      if (account === undefined) return undefined;
      const { name, email, groups } = account;
      return { accountId: sub, claims: () => ({ sub, name, email, groups }) };
    },
    // The console is a first-party client: staff are not asked to consent to it.
    loadExistingGrant: async (ctx: OidcContext) => {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId ?? oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId !== undefined) return oidc.provider.Grant.find(grantId);
      const grant = new oidc.provider.Grant({
        clientId: oidc.client.clientId,
        accountId: oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile email groups');
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();

  async function interaction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    const action = `/interaction/${encodeURIComponent(details.uid)}/login`;
    if (req.method === 'GET') return send(res, 200, loginPage({ action, hint: opts.loginHint }));
    if (req.method !== 'POST' || !req.url?.endsWith('/login'))
      return send(res, 405, errorPage('invalid_request', 'method not allowed'));
    const form = await readForm(req);
    const account = accounts.get(form?.get('login') ?? '');
    const password = form?.get('password') ?? '';
    // Compared as digests: equal length, constant time, whatever was typed.
    const expected = digest(account?.password ?? randomBytes(16).toString('hex'));
    if (account === undefined || !timingSafeEqual(digest(password), expected)) {
      return send(
        res,
        401,
        loginPage({
          action,
          hint: opts.loginHint,
          error: 'Wrong login or password.',
          login: form?.get('login') ?? '',
        }),
      );
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: account.sub ?? account.login } },
      { mergeWithLastSubmission: false },
    );
  }

  return (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return callback(req, res);
    interaction(req, res).catch((error: unknown) => {
      // An expired or unknown interaction (a stale tab): start the sign-in again from the console.
      if (!res.headersSent)
        send(
          res,
          400,
          errorPage('invalid_request', error instanceof Error ? error.message : 'sign-in failed'),
        );
    });
  };
}
