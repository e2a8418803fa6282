// One broker signing key: generation (kid = RFC 7638 thumbprint), sealing of the private JWK with
// the master key, and import of both halves as non-extractable CryptoKeys.
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { openPrivateKey, sealPrivateKey } from './master-key.js';

export const SIGNING_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(value: unknown): value is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly unknown[]).includes(value);
}

/** The public JWK as published: only these members, so nothing private can ever reach the JWKS. */
export type PublicSigningJwk = {
  kty: string;
  crv: string;
  x: string;
  /** EC keys only. */
  y?: string;
  kid: string;
  alg: SigningAlgorithm;
  use: 'sig';
};

export interface GeneratedKey {
  kid: string;
  alg: SigningAlgorithm;
  publicJwk: PublicSigningJwk;
  /** iv || tag || AES-256-GCM(private JWK JSON), AAD = kid. */
  privateKeyEnc: Buffer;
}

const PUBLIC_MEMBERS: Record<SigningAlgorithm, readonly string[]> = {
  EdDSA: ['kty', 'crv', 'x'],
  ES256: ['kty', 'crv', 'x', 'y'],
};

/** Copies the public members a key of `alg` has, and nothing else (no `d`, whatever the input). */
export function toPublicJwk(
  jwk: Record<string, unknown>,
  kid: string,
  alg: SigningAlgorithm,
): PublicSigningJwk {
  const out: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS[alg]) {
    const value = jwk[member];
    if (typeof value !== 'string' || value.length === 0) {
      throw new Error(`signing key ${kid}: public JWK lacks "${member}"`);
    }
    out[member] = value;
  }
  return { ...(out as { kty: string; crv: string; x: string }), kid, alg, use: 'sig' };
}

export async function generateSigningKey(alg: SigningAlgorithm, masterKey: Buffer): Promise<GeneratedKey> {
  // Ed25519 is the EdDSA curve; ES256 is P-256 (RFC 7518 3.4).
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const exportedPublic = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(exportedPublic, 'sha256');
  const plaintext = Buffer.from(JSON.stringify(await exportJWK(privateKey)), 'utf8');
  try {
    return {
      kid,
      alg,
      publicJwk: toPublicJwk(exportedPublic as Record<string, unknown>, kid, alg),
      privateKeyEnc: sealPrivateKey(masterKey, plaintext, kid),
    };
  } finally {
    plaintext.fill(0);
  }
}

/** Decrypts and imports a stored private key; the CryptoKey cannot be exported again. */
export async function importPrivateKey(
  masterKey: Buffer,
  kid: string,
  alg: SigningAlgorithm,
  privateKeyEnc: Buffer,
): Promise<CryptoKey> {
  const plaintext = openPrivateKey(masterKey, privateKeyEnc, kid);
  try {
    const jwk = JSON.parse(plaintext.toString('utf8')) as JWK;
    const key = await importJWK({ ...jwk, alg }, alg, { extractable: false });
    if (key instanceof Uint8Array || key.type !== 'private') {
      throw new Error(`signing key ${kid}: stored private key is not a private ${alg} key`);
    }
    return key;
  } finally {
    plaintext.fill(0);
  }
}

export async function importPublicKey(jwk: PublicSigningJwk): Promise<CryptoKey> {
  const key = await importJWK(jwk, jwk.alg);
  if (key instanceof Uint8Array || key.type !== 'public') {
    throw new Error(`signing key ${jwk.kid}: stored public key is not a public ${jwk.alg} key`);
  }
  return key;
}
