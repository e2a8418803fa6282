// Sign-in (authorization code + PKCE at the staff IdP), the callback, sign-out.
import { z } from 'zod';
import type { StaffConfig } from '../../../policy-config/broker-yaml.js';
import { type Problem, problems } from '../../../problem.js';
import type { ConsoleApp, ConsoleCookies, ConsoleDeps } from '../console-context.js';
import { LOGIN_COOKIE, readForm, renderPage, SESSION_COOKIE } from '../console-context.js';
import { createStaffOidcClient, type StaffOidcClient } from '../oidc-client.js';
import {
  newSession,
  openPendingLogin,
  SessionTooLargeError,
  safeReturnTo,
  sealPendingLogin,
  sealSession,
} from '../session.js';
import { signedOutPage } from '../views/messages.js';

function notConfigured(detail: string): Problem {
  return problems.consoleNotConfigured(detail);
}

function signInFailed(detail: string): Problem {
  return problems.signInFailed(detail);
}

/** One OIDC client per staff configuration: a SIGHUP that changes the IdP gets a fresh one. */
function oidcClients(deps: ConsoleDeps): () => StaffOidcClient {
  const clients = new WeakMap<StaffConfig, StaffOidcClient>();
  return () => {
    const set = deps.policies.current();
    const staff = set.staff;
    if (staff === undefined)
      throw notConfigured('broker.yaml has no staff: section (the staff identity provider)');
    const clientId = staff.client_id;
    if (clientId === undefined) throw notConfigured('broker.yaml staff.client_id is not set');
    let client = clients.get(staff);
    if (client === undefined) {
      client = createStaffOidcClient({
        staff: { ...staff, client_id: clientId },
        clientSecret: deps.config.staffClientSecret,
        redirectUri: `${deps.config.publicUrl}/console/callback`,
        policyDir: set.dir,
        clock: deps.clock,
        logger: deps.logger,
      });
      clients.set(staff, client);
    }
    return client;
  };
}

const optionalParam = z.string().max(4096).optional();
const CallbackQuery = z.object({
  code: optionalParam,
  state: optionalParam,
  iss: optionalParam,
  error: optionalParam,
});

export function registerSignInPages(app: ConsoleApp, deps: ConsoleDeps, cookies: ConsoleCookies): void {
  const oidc = oidcClients(deps);

  app.get('/login', async (c) => {
    const { authorizationUrl, pending } = await oidc().startLogin();
    const returnTo = safeReturnTo(c.req.query('return_to'));
    cookies.setLogin(c, sealPendingLogin(cookies.key, { ...pending, returnTo }, deps.clock.now()));
    return c.redirect(authorizationUrl, 302);
  });

  app.get('/callback', async (c) => {
    const now = deps.clock.now();
    const pending = openPendingLogin(cookies.key, cookies.read(c, LOGIN_COOKIE), now);
    // One attempt per sign-in: the state, nonce and verifier are spent whatever happens next.
    cookies.clear(c, LOGIN_COOKIE);
    if (pending === undefined) {
      throw signInFailed('this sign-in expired or was started in another browser; sign in again');
    }
    const query = CallbackQuery.safeParse(c.req.query());
    if (!query.success) throw signInFailed('the sign-in response is malformed');
    const staff = await oidc().finishLogin(query.data, pending);
    const session = newSession(staff, now);
    let sealed: string;
    try {
      sealed = sealSession(cookies.key, session);
    } catch (error) {
      if (error instanceof SessionTooLargeError) throw signInFailed(error.message);
      throw error;
    }
    cookies.setSession(c, sealed, session.expiresAt, now);
    c.get('log').info({ staff: staff.subject, groups: staff.groups.length }, 'console sign-in');
    return c.redirect(pending.returnTo, 303);
  });

  app.post('/logout', async (c) => {
    await readForm(c, z.object({}));
    cookies.clear(c, SESSION_COOKIE);
    c.get('log').info({ staff: c.get('session').staff.subject }, 'console sign-out');
    return c.redirect('/console/signed-out', 303);
  });

  app.get('/signed-out', (c) => renderPage(c, { title: 'Signed out', body: signedOutPage() }));
}
