// A real token issuer for tests: key pairs made with jose, a JWKS served by an HTTP server on
// 127.0.0.1 (or written to a file), and the hostile tokens an attacker would try.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  base64url,
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWSHeaderParameters,
  SignJWT,
} from 'jose';
import { type Clock, systemClock } from '../../src/clock.js';
import type { IssuerConfig, StaffConfig } from '../../src/policy-config/broker-yaml.js';

export type TestAlg = 'ES256' | 'RS256' | 'EdDSA';

export const TEST_AUDIENCE = 'jit-broker';

export interface TestIssuerOptions {
  alg?: TestAlg;
  jwks: 'http' | 'file';
  /** Where the JWKS file goes (jwks: 'file'); a fresh temporary directory when unset. */
  dir?: string;
  /** `iss` of the tokens; unique per issuer by default. */
  issuer?: string;
  /** Time source for the default iat/exp (the verifier's clock, when tests move time). */
  clock?: Clock;
}

export interface SignOptions {
  alg?: string;
  kid?: string;
  /** Sign with this private key instead of the issuer's current one. */
  key?: CryptoKey;
  /** Extra or overriding protected header members. */
  header?: JWSHeaderParameters;
  /** Extension header members the signer accepts in `crit` (jose refuses to sign others). */
  crit?: Record<string, boolean>;
}

/** Claims to sign; `undefined` removes a default claim (`{ sub: undefined }`). */
export type TestClaims = Record<string, unknown>;

export interface TestIssuer {
  issuer: string;
  alg: TestAlg;
  jwksUri?: string;
  jwksFile?: string;
  /** kid of the current key. */
  kid: string;
  /** The current public key, as served. */
  publicJwk: JWK;
  /** `claims` over the defaults: iss, aud jit-broker, sub agent-test, iat now, exp now + 5 min. */
  claims(claims?: TestClaims): Record<string, unknown>;
  /** Signs claims(claims) with the current key. */
  sign(claims?: TestClaims, opts?: SignOptions): Promise<string>;
  /**
   * A new current key, served beside the previous ones (or alone with `dropPrevious`, as when a
   * compromised key is withdrawn). Returns the new kid.
   */
  rotate(opts?: { dropPrevious?: boolean }): Promise<string>;
  /** How many times the JWKS was requested over HTTP. */
  fetchCount(): number;
  /** Resolves once the JWKS has been requested at least `count` times. */
  waitForFetches(count: number): Promise<void>;
  /** What the JWKS endpoint does from now on: serve the keys, fail with 500, or never answer. */
  serve(mode: 'keys' | 'error' | 'hang'): void;
  close(): Promise<void>;
}

interface KeyPair {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKeyPair(alg: TestAlg): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const exported = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exported);
  return { kid, privateKey, publicJwk: { ...exported, kid, alg, use: 'sig' } };
}

export async function createTestIssuer(opts: TestIssuerOptions): Promise<TestIssuer> {
  const alg = opts.alg ?? 'ES256';
  const clock = opts.clock ?? systemClock;
  const issuer = opts.issuer ?? `https://issuer-${randomUUID().slice(0, 8)}.test`;
  const keys: KeyPair[] = [await newKeyPair(alg)];
  const current = () => keys[keys.length - 1]!;
  const jwksBody = () => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });

  let fetches = 0;
  const fetchWaiters: { count: number; resolve: () => void }[] = [];
  let mode: 'keys' | 'error' | 'hang' = 'keys';
  let server: Server | undefined;
  let jwksUri: string | undefined;
  let jwksFile: string | undefined;
  let ownedDir: string | undefined;

  if (opts.jwks === 'http') {
    server = createServer((req, res) => {
      if (req.url !== '/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      fetches += 1;
      for (const waiter of fetchWaiters.filter((w) => w.count <= fetches)) {
        fetchWaiters.splice(fetchWaiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (mode === 'hang') return;
      if (mode === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwksBody());
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    jwksUri = `http://127.0.0.1:${(listening.address() as AddressInfo).port}/jwks.json`;
  } else {
    ownedDir = opts.dir === undefined ? await mkdtemp(path.join(tmpdir(), 'jit-issuer-')) : undefined;
    jwksFile = path.join(opts.dir ?? ownedDir!, `jwks-${randomUUID().slice(0, 8)}.json`);
    await writeFile(jwksFile, jwksBody());
  }

  const testIssuer: TestIssuer = {
    issuer,
    alg,
    jwksUri,
    jwksFile,
    kid: current().kid,
    publicJwk: current().publicJwk,
    claims(claims = {}) {
      const now = Math.floor(clock.now().getTime() / 1000);
      const defaults = { iss: issuer, aud: TEST_AUDIENCE, sub: 'agent-test', iat: now, exp: now + 300 };
      return Object.fromEntries(
        Object.entries({ ...defaults, ...claims }).filter(([, v]) => v !== undefined),
      );
    },
    async sign(claims = {}, signOpts = {}) {
      return new SignJWT(testIssuer.claims(claims))
        .setProtectedHeader({
          alg: signOpts.alg ?? alg,
          kid: signOpts.kid ?? current().kid,
          ...signOpts.header,
        })
        .sign(
          signOpts.key ?? current().privateKey,
          signOpts.crit === undefined ? undefined : { crit: signOpts.crit },
        );
    },
    async rotate(rotateOpts = {}) {
      const next = await newKeyPair(alg);
      if (rotateOpts.dropPrevious) keys.splice(0);
      keys.push(next);
      testIssuer.kid = current().kid;
      testIssuer.publicJwk = current().publicJwk;
      if (jwksFile !== undefined) await writeFile(jwksFile, jwksBody());
      return current().kid;
    },
    fetchCount: () => fetches,
    waitForFetches(count) {
      if (fetches >= count) return Promise.resolve();
      return new Promise<void>((resolve) => fetchWaiters.push({ count, resolve }));
    },
    serve(next) {
      mode = next;
    },
    async close() {
      if (server !== undefined) {
        const closing = server;
        closing.closeAllConnections();
        await new Promise<void>((resolve) => closing.close(() => resolve()));
      }
      if (ownedDir !== undefined) await rm(ownedDir, { recursive: true, force: true });
    },
  };
  return testIssuer;
}

/** An IssuerConfig (as broker.yaml would produce) trusting the test issuer. */
export function issuerConfig(testIssuer: TestIssuer, overrides: Partial<IssuerConfig> = {}): IssuerConfig {
  const source =
    testIssuer.jwksUri !== undefined ? { jwks_uri: testIssuer.jwksUri } : { jwks_file: testIssuer.jwksFile };
  return {
    name: 'test-issuer',
    issuer: testIssuer.issuer,
    audience: TEST_AUDIENCE,
    ...source,
    algorithms: [testIssuer.alg],
    attributes: {},
    ...overrides,
  };
}

/** A StaffConfig trusting the test issuer as the staff IdP. */
export function staffConfig(testIssuer: TestIssuer, overrides: Partial<StaffConfig> = {}): StaffConfig {
  const source =
    testIssuer.jwksUri !== undefined ? { jwks_uri: testIssuer.jwksUri } : { jwks_file: testIssuer.jwksFile };
  return {
    issuer: testIssuer.issuer,
    audience: TEST_AUDIENCE,
    ...source,
    algorithms: [testIssuer.alg],
    groups_claim: 'groups',
    ...overrides,
  };
}

/** An unsigned token (`alg: none`, empty signature) claiming to come from the issuer. */
export function unsignedToken(testIssuer: TestIssuer, claims: TestClaims = {}): string {
  const header = { alg: 'none', typ: 'JWT' };
  return `${encodeJson(header)}.${encodeJson(testIssuer.claims(claims))}.`;
}

/**
 * Algorithm confusion: HS256 with the issuer's public key (SPKI PEM, as a naive verifier would
 * load it) used as the HMAC secret, under the real kid.
 */
export async function hs256WithPublicKey(testIssuer: TestIssuer, claims: TestClaims = {}): Promise<string> {
  const publicKey = (await importJWK(testIssuer.publicJwk, testIssuer.alg, {
    extractable: true,
  })) as CryptoKey;
  const secret = new TextEncoder().encode(await exportSPKI(publicKey));
  return new SignJWT(testIssuer.claims(claims))
    .setProtectedHeader({ alg: 'HS256', kid: testIssuer.kid })
    .sign(secret);
}

/** A token signed by a key the attacker made, carrying the kid of the issuer's real key. */
export async function forgedKeyToken(testIssuer: TestIssuer, claims: TestClaims = {}): Promise<string> {
  const forged = await newKeyPair(testIssuer.alg);
  return testIssuer.sign(claims, { key: forged.privateKey, kid: testIssuer.kid });
}

function encodeJson(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}
