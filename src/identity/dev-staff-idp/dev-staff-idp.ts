// The development staff IdP that `npm start` runs beside an embedded database, so the console can
// be signed into on a fresh clone: served on 127.0.0.1 only, at the `http://127.0.0.1:<port>`
// staff issuer broker.yaml names, signing with the development staff key, with two demo users.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Logger } from '../../logger.js';
import type { StaffConfig } from '../../policy-config/broker-yaml.js';
import { devIssuerPrivateJwk, ensureDevIssuers } from '../dev-issuers.js';
import { createStaffIdp, type StaffAccount } from './staff-idp.js';

/** A staff issuer this exact shape is served by the development IdP (and nothing else is). */
const DEV_ISSUER_PATTERN = /^http:\/\/127\.0\.0\.1:(\d{2,5})$/;

export function devStaffIdpPort(issuer: string): number | undefined {
  const port = Number(DEV_ISSUER_PATTERN.exec(issuer)?.[1]);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

const DEMO_USERS: readonly Omit<StaffAccount, 'password'>[] = [
  {
    login: 'alice',
    sub: 'alice@example.com',
    name: 'Alice Ng',
    email: 'alice@example.com',
    groups: ['security-oncall'],
  },
  {
    login: 'bob',
    sub: 'bob@example.com',
    name: 'Bob Martin',
    email: 'bob@example.com',
    groups: ['engineering'],
  },
];

/** Created once per DATA_DIR with random passwords (0600), so each clone's are its own. */
export async function ensureDemoStaffUsers(dataDir: string): Promise<StaffAccount[]> {
  const file = path.join(dataDir, 'dev-issuers', 'staff-users.json');
  const existing = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as StaffAccount[],
    () => undefined,
  );
  if (
    existing !== undefined &&
    DEMO_USERS.every((u) => existing.some((e) => e.login === u.login && typeof e.password === 'string'))
  ) {
    return existing;
  }
  const users = DEMO_USERS.map((u) => ({ ...u, password: randomBytes(9).toString('base64url') }));
  await writeFile(file, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return users;
}

export interface DevStaffIdp {
  issuer: string;
  users: readonly StaffAccount[];
  close(): Promise<void>;
}

export interface DevStaffIdpOptions {
  staff: StaffConfig | undefined;
  dataDir: string;
  /** The console's redirect URI is `<publicUrl>/console/callback`. */
  publicUrl: string;
  clientSecret: string | undefined;
  logger: Logger;
}

/**
 * node-oidc-provider prints notices (a Node version it prefers, its in-memory store) with
 * console.*; they become log lines so that every line the broker writes stays JSON.
 */
async function withConsoleToLog<T>(logger: Logger, build: () => Promise<T>): Promise<T> {
  const { info, warn, log } = console;
  const toLog = (...args: unknown[]) =>
    logger.debug({ notice: args.map(String).join(' ') }, 'development staff IdP notice');
  console.info = toLog;
  console.warn = toLog;
  console.log = toLog;
  try {
    return await build();
  } finally {
    Object.assign(console, { info, warn, log });
  }
}

/** Starts the IdP when broker.yaml's staff issuer is a development one; undefined otherwise. */
export async function startDevStaffIdp(opts: DevStaffIdpOptions): Promise<DevStaffIdp | undefined> {
  const { staff, logger } = opts;
  const port = staff ? devStaffIdpPort(staff.issuer) : undefined;
  if (staff === undefined || port === undefined || staff.client_id === undefined) return undefined;
  await ensureDevIssuers(opts.dataDir);
  const signingKey = await devIssuerPrivateJwk(opts.dataDir, 'staff');
  const users = await ensureDemoStaffUsers(opts.dataDir);
  const clientId = staff.client_id;
  const handler = await withConsoleToLog(logger, () =>
    createStaffIdp({
      issuer: staff.issuer,
      signingKey,
      client: {
        clientId,
        clientSecret: opts.clientSecret,
        redirectUris: [`${opts.publicUrl}/console/callback`],
      },
      accounts: users,
      loginHint: `Development sign-in: the demo users and their passwords are printed by npm start (and kept in ${path.join(opts.dataDir, 'dev-issuers', 'staff-users.json')}).`,
    }),
  );
  const server: Server = createServer(handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Loopback only: anyone who can reach this IdP can sign in as a demo user.
      server.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    logger.warn(
      { err: error, issuer: staff.issuer },
      'the development staff IdP could not listen; console sign-in will not work',
    );
    return undefined;
  }
  logger.info(
    { issuer: staff.issuer, users: users.map((u) => u.login) },
    'development staff IdP listening (127.0.0.1 only)',
  );
  return {
    issuer: staff.issuer,
    users,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
