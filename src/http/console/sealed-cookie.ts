// Values the console keeps in cookies, sealed with AES-256-GCM: the browser holds them, but can
// neither read (a sign-in's PKCE verifier, a session's groups) nor change them. Each value names its
// purpose (authenticated as additional data) and carries its own expiry, so a sealed sign-in can
// never be replayed as a session and an old cookie is worthless once it expires.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type CookiePurpose = 'session' | 'login';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Browsers keep at most ~4 KiB per cookie, name and attributes included. */
export const MAX_SEALED_BYTES = 3800;

interface Envelope {
  exp: number;
  data: unknown;
}

export function sealCookieValue(key: Buffer, purpose: CookiePurpose, data: unknown, expiresAt: Date): string {
  if (key.length !== 32) throw new Error('the console cookie key must be 32 bytes');
  const envelope: Envelope = { exp: Math.floor(expiresAt.getTime() / 1000), data };
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(`${VERSION}:${purpose}`));
  const sealed = Buffer.concat([
    cipher.update(JSON.stringify(envelope), 'utf8'),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return `${VERSION}.${iv.toString('base64url')}.${sealed.toString('base64url')}`;
}

/** The sealed data, or undefined for anything forged, altered, for another purpose or expired. */
export function openCookieValue(
  key: Buffer,
  purpose: CookiePurpose,
  value: string | undefined,
  now: Date,
): unknown {
  if (value === undefined || value.length > MAX_SEALED_BYTES) return undefined;
  const match = /^v1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{24,})$/.exec(value);
  if (!match) return undefined;
  const iv = Buffer.from(match[1]!, 'base64url');
  const sealed = Buffer.from(match[2]!, 'base64url');
  if (iv.length !== IV_BYTES || sealed.length <= TAG_BYTES) return undefined;
  let envelope: Envelope;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${VERSION}:${purpose}`));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
    envelope = JSON.parse(plain.toString('utf8')) as Envelope;
  } catch {
    return undefined;
  }
  if (typeof envelope?.exp !== 'number' || envelope.exp * 1000 <= now.getTime()) return undefined;
  return envelope.data;
}
