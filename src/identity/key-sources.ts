// The signing keys of one trusted issuer: a remote JWKS (cached, refetched on an unknown kid at
// most once per cooldown) or a JWKS file from the policy directory, read once at construction.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type CryptoKey,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type FlattenedJWSInput,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
} from 'jose';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

export interface KeySourceConfig {
  jwks_uri?: string | undefined;
  jwks_file?: string | undefined;
}

export interface JwksFetchOptions {
  /** Abort a JWKS request after this long (default 3000 ms): a slow IdP must not stall issuance. */
  timeoutMs?: number;
  /** An unknown kid refetches the JWKS at most once per cooldown (default 30 s). */
  cooldownSeconds?: number;
  /** Cached keys are refreshed in the background after this long (default 600 s). */
  maxAgeSeconds?: number;
}

export interface KeySourceOptions {
  /** jwks_file paths are relative to the policy directory. */
  policyDir: string;
  clock: Clock;
  /** Names the issuer in errors and logs. */
  label: string;
  jwks?: JwksFetchOptions;
  logger?: Logger;
}

export type GetSigningKey = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

export interface KeySource {
  readonly label: string;
  readonly getKey: GetSigningKey;
}

/** The issuer's JWKS endpoint cannot be reached, timed out or served garbage: a 503, not a 401. */
export class SigningKeysUnavailable extends Error {
  constructor(
    readonly issuer: string,
    cause: unknown,
  ) {
    super(`cannot fetch the signing keys of issuer ${issuer}`, { cause });
    this.name = 'SigningKeysUnavailable';
  }
}

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_COOLDOWN_SECONDS = 30;
const DEFAULT_MAX_AGE_SECONDS = 600;

export function createKeySource(config: KeySourceConfig, opts: KeySourceOptions): KeySource {
  if (config.jwks_uri !== undefined && config.jwks_file !== undefined) {
    throw new Error(`issuer ${opts.label}: set exactly one of jwks_uri or jwks_file`);
  }
  if (config.jwks_uri !== undefined) return createRemoteKeySource(config.jwks_uri, opts);
  if (config.jwks_file !== undefined) return createFileKeySource(config.jwks_file, opts);
  throw new Error(`issuer ${opts.label}: set jwks_uri or jwks_file`);
}

/** Problems with an issuer's key source, for the policy loader to report at start-up. */
export async function checkKeySource(policyDir: string, config: KeySourceConfig): Promise<string[]> {
  if (config.jwks_uri !== undefined) return checkJwksUri(config.jwks_uri);
  if (config.jwks_file !== undefined) return checkJwksFile(policyDir, config.jwks_file);
  return ['set jwks_uri or jwks_file'];
}

/** Problems with a jwks_file (path relative to the policy directory); empty when it is usable. */
export async function checkJwksFile(policyDir: string, file: string): Promise<string[]> {
  const resolved = path.resolve(policyDir, file);
  let text: string;
  try {
    text = await readFile(resolved, 'utf8');
  } catch (error) {
    return [`jwks_file ${file}: cannot read ${resolved} (${errorCode(error)})`];
  }
  const parsed = parseJwks(text);
  if (!parsed.ok) return parsed.problems.map((p) => `jwks_file ${file}: ${p}`);
  const problems: string[] = [];
  for (const [index, jwk] of parsed.jwks.keys.entries()) {
    try {
      await importJWK(jwk, jwk.alg ?? defaultAlgorithm(jwk));
    } catch (error) {
      problems.push(`jwks_file ${file}: keys[${index}] cannot be imported (${errorMessage(error)})`);
    }
  }
  return problems;
}

/** Problems with a jwks_uri: https only, except on loopback where no network sees the keys. */
export function checkJwksUri(uri: string): string[] {
  if (!URL.canParse(uri)) return [`jwks_uri ${uri}: not an absolute URL`];
  const url = new URL(uri);
  if (url.protocol === 'https:') return [];
  if (url.protocol === 'http:' && isLoopback(url.hostname)) return [];
  return [`jwks_uri ${uri}: must use https (plain http is accepted only for loopback addresses)`];
}

function createFileKeySource(file: string, opts: KeySourceOptions): KeySource {
  const resolved = path.resolve(opts.policyDir, file);
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (error) {
    throw new Error(`issuer ${opts.label}: cannot read jwks_file ${resolved} (${errorCode(error)})`, {
      cause: error,
    });
  }
  const parsed = parseJwks(text);
  if (!parsed.ok) {
    throw new Error(`issuer ${opts.label}: jwks_file ${resolved}: ${parsed.problems.join('; ')}`);
  }
  const local = createLocalJWKSet(parsed.jwks);
  return { label: opts.label, getKey: (header, token) => local(header, token) };
}

function createRemoteKeySource(uri: string, opts: KeySourceOptions): KeySource {
  const uriProblems = checkJwksUri(uri);
  if (uriProblems.length > 0) throw new Error(`issuer ${opts.label}: ${uriProblems.join('; ')}`);
  const timeoutMs = opts.jwks?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cooldownMs = 1000 * (opts.jwks?.cooldownSeconds ?? DEFAULT_COOLDOWN_SECONDS);
  const maxAgeMs = 1000 * (opts.jwks?.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error('jwks.timeoutMs must be a positive integer');
  }
  if (!(cooldownMs >= 0)) throw new Error('jwks.cooldownSeconds must be zero or more');
  if (!(maxAgeMs > 0)) throw new Error('jwks.maxAgeSeconds must be positive');

  // jose fetches (timeout, no redirects, JSON validation); when to fetch is decided here against
  // the injected clock, so jose's own wall-clock cache and cooldown are switched off.
  const remote = createRemoteJWKSet(new URL(uri), {
    timeoutDuration: timeoutMs,
    cooldownDuration: Number.POSITIVE_INFINITY,
    cacheMaxAge: Number.POSITIVE_INFINITY,
  });
  const now = () => opts.clock.now().getTime();
  let loaded = false;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | undefined;

  // One fetch at a time: every request waiting for new keys shares it.
  const refresh = (): Promise<void> => {
    pending ??= (async () => {
      attemptedAt = now();
      try {
        await remote.reload();
      } catch (cause) {
        throw new SigningKeysUnavailable(opts.label, cause);
      }
      loaded = true;
      fetchedAt = now();
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  };

  const getKey: GetSigningKey = async (header, token) => {
    if (!loaded) await refresh();
    else if (now() - fetchedAt >= maxAgeMs && pending === undefined && now() - attemptedAt >= cooldownMs) {
      // Stale keys keep serving while the refresh runs, and if it fails: an IdP outage must not
      // stop every workload. The failure is retried after the cooldown.
      refresh().catch((error: unknown) => {
        opts.logger?.warn(
          {
            issuer: opts.label,
            err: errorMessage(error instanceof Error && error.cause ? error.cause : error),
          },
          'refreshing the signing keys failed; keeping the previous keys',
        );
      });
    }
    try {
      return await remote(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A rotated key: fetch again, but at most once per cooldown so unknown kids cannot make the
      // broker hammer the issuer.
      if (pending !== undefined) await pending;
      else if (now() - attemptedAt >= cooldownMs) await refresh();
      else throw error;
      return remote(header, token);
    }
  };
  return { label: opts.label, getKey };
}

type ParsedJwks = { ok: true; jwks: JSONWebKeySet } | { ok: false; problems: string[] };

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

function parseJwks(text: string): ParsedJwks {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`not valid JSON (${errorMessage(error)})`] };
  }
  if (!isRecord(value) || !Array.isArray(value.keys)) {
    return { ok: false, problems: ['not a JSON Web Key Set (expected {"keys": [...]})'] };
  }
  if (value.keys.length === 0) return { ok: false, problems: ['the key set has no keys'] };
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [index, jwk] of value.keys.entries()) {
    const where = `keys[${index}]`;
    if (!isRecord(jwk) || typeof jwk.kty !== 'string') {
      problems.push(`${where} is not a JWK (no kty)`);
      continue;
    }
    if (jwk.kty === 'oct') problems.push(`${where} is a symmetric (oct) key; only public keys are accepted`);
    const privateMember = PRIVATE_MEMBERS.find((m) => m in jwk);
    if (privateMember !== undefined) {
      problems.push(`${where} holds private key material ("${privateMember}"); publish only the public key`);
    }
    const identity = `${jwk.kty}/${String(jwk.kid)}/${String(jwk.alg)}/${String(jwk.use)}`;
    if (seen.has(identity)) {
      problems.push(`${where} repeats kid ${JSON.stringify(jwk.kid)} for the same key type`);
    }
    seen.add(identity);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, jwks: value as unknown as JSONWebKeySet };
}

function defaultAlgorithm(jwk: JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  if (jwk.kty === 'EC') return { 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''] ?? 'ES256';
  return jwk.kty ?? 'unknown';
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(error: unknown): string {
  return isRecord(error) && typeof error.code === 'string' ? error.code : errorMessage(error);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
