// Local stand-ins for a workload issuer and a staff IdP, for the quick start: one ES256 key pair
// each under <DATA_DIR>/dev-issuers/, whose public JWKS the example policies trust by jwks_file.
// Never trust these files in production; anyone who can read DATA_DIR can mint identities.
import { randomUUID } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';

export type DevIssuerKind = 'workload' | 'staff';

export const DEV_WORKLOAD_ISSUER = 'https://dev-issuer.jit-broker.local';
export const DEV_WORKLOAD_AUDIENCE = 'jit-broker';
/** Served by the development staff IdP that `npm start` runs (src/identity/dev-staff-idp/). */
export const DEV_STAFF_ISSUER = 'http://127.0.0.1:8090';
export const DEV_STAFF_AUDIENCE = 'jit-broker-console';
/** As written in policies/broker.yaml: relative to the policy directory, with DATA_DIR at ./.data. */
export const DEV_WORKLOAD_JWKS_FILE = '../.data/dev-issuers/workload.jwks.json';
export const DEV_STAFF_JWKS_FILE = '../.data/dev-issuers/staff.jwks.json';

export const DEV_ISSUERS: Readonly<
  Record<DevIssuerKind, { issuer: string; audience: string; jwksFile: string }>
> = {
  workload: {
    issuer: DEV_WORKLOAD_ISSUER,
    audience: DEV_WORKLOAD_AUDIENCE,
    jwksFile: DEV_WORKLOAD_JWKS_FILE,
  },
  staff: { issuer: DEV_STAFF_ISSUER, audience: DEV_STAFF_AUDIENCE, jwksFile: DEV_STAFF_JWKS_FILE },
};

const ALG = 'ES256';
const KINDS: readonly DevIssuerKind[] = ['workload', 'staff'];

export function devIssuerPaths(dataDir: string, kind: DevIssuerKind): { privateJwk: string; jwks: string } {
  const dir = path.join(dataDir, 'dev-issuers');
  return {
    privateJwk: path.join(dir, `${kind}.private.jwk.json`),
    jwks: path.join(dir, `${kind}.jwks.json`),
  };
}

/**
 * The DATA_DIR whose development key a policy's `jwks_file` names (`<dir>/dev-issuers/<kind>.jwks.json`,
 * relative to the policy directory), or undefined when it names another file. That, not DATA_DIR,
 * is whose key the broker trusts: the example policies name `../.data` whatever DATA_DIR is.
 */
export function devDataDirOf(
  policyDir: string,
  jwksFile: string | undefined,
  kind: DevIssuerKind,
): string | undefined {
  if (jwksFile === undefined) return undefined;
  const resolved = path.resolve(policyDir, jwksFile);
  const dir = path.dirname(resolved);
  if (path.basename(resolved) !== `${kind}.jwks.json` || path.basename(dir) !== 'dev-issuers')
    return undefined;
  return path.dirname(dir);
}

/** Creates both key pairs on first use; later calls keep them (and repair a missing JWKS file). */
export async function ensureDevIssuers(dataDir: string): Promise<void> {
  await mkdir(path.join(dataDir, 'dev-issuers'), { recursive: true, mode: 0o700 });
  for (const kind of KINDS) await ensureKeyPair(devIssuerPaths(dataDir, kind));
}

export interface DevTokenInput {
  dataDir: string;
  kind: DevIssuerKind;
  sub: string;
  ttlSeconds: number;
  /** Extra claims; iss, aud, sub, iat, exp and jti are always the dev issuer's own. */
  claims?: Record<string, unknown>;
  /** Another `iss` than the kind's default (a development staff IdP on another port). */
  issuer?: string;
  now?: Date;
}

export async function signDevToken(input: DevTokenInput): Promise<string> {
  if (!Number.isInteger(input.ttlSeconds) || input.ttlSeconds <= 0) {
    throw new Error('ttlSeconds must be a positive integer');
  }
  if (input.sub.length === 0) throw new Error('sub must not be empty');
  await ensureDevIssuers(input.dataDir);
  const jwk = await readPrivateJwk(devIssuerPaths(input.dataDir, input.kind).privateJwk);
  const key = await importJWK(jwk, ALG);
  const { audience } = DEV_ISSUERS[input.kind];
  const issuer = input.issuer ?? DEV_ISSUERS[input.kind].issuer;
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ ...input.claims })
    .setProtectedHeader({ alg: ALG, kid: jwk.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(input.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + input.ttlSeconds)
    .setJti(randomUUID())
    .sign(key);
}

/** The private key of a development issuer (the development staff IdP signs with it). */
export async function devIssuerPrivateJwk(
  dataDir: string,
  kind: DevIssuerKind,
): Promise<PrivateJwk & { alg: string }> {
  const jwk = await readPrivateJwk(devIssuerPaths(dataDir, kind).privateJwk);
  return { ...jwk, alg: ALG };
}

async function ensureKeyPair(paths: { privateJwk: string; jwks: string }): Promise<void> {
  let jwk = await readPrivateJwk(paths.privateJwk).catch((error: unknown) => {
    if (isErrno(error, 'ENOENT')) return undefined;
    throw error;
  });
  if (jwk === undefined) jwk = await createPrivateJwk(paths.privateJwk);
  await chmod(paths.privateJwk, 0o600);
  const publicJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid, alg: ALG, use: 'sig' };
  const jwks = `${JSON.stringify({ keys: [publicJwk] }, null, 2)}\n`;
  const current = await readFile(paths.jwks, 'utf8').catch(() => undefined);
  if (current === jwks) return;
  // Written whole then renamed, so a broker reading it never sees half a file.
  const temporary = temporaryName(paths.jwks);
  await writeFile(temporary, jwks, { mode: 0o644 });
  await rename(temporary, paths.jwks);
}

async function createPrivateJwk(file: string): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const exported = await exportJWK(privateKey);
  const jwk: PrivateJwk = {
    ...exported,
    d: exported.d!,
    kid: await calculateJwkThumbprint(exported),
    alg: ALG,
    use: 'sig',
  };
  // Written whole, then linked into place: link() fails if the file exists, so two processes
  // starting together agree on one key and neither reads a half-written file.
  const temporary = temporaryName(file);
  await writeFile(temporary, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
    return jwk;
  } catch (error) {
    if (!isErrno(error, 'EEXIST')) throw error;
    return readPrivateJwk(file);
  } finally {
    await unlink(temporary);
  }
}

function temporaryName(file: string): string {
  return `${file}.${process.pid}.${randomUUID()}.tmp`;
}

export type PrivateJwk = JWK & { kid: string; d: string };

async function readPrivateJwk(file: string): Promise<PrivateJwk> {
  const jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string') {
    throw new Error(
      `${file} is not an ES256 private JWK with a kid; delete it to create a new dev issuer key`,
    );
  }
  return jwk as PrivateJwk;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
