// The minted role's password and the SCRAM-SHA-256 verifier that is sent to the target instead of
// it, so the cleartext never reaches the server (nor its statement log, nor pg_stat_statements).
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** PostgreSQL's own default (scram_iterations). */
const SCRAM_ITERATIONS = 4096;

/** 256 bits from the CSPRNG as base64url: 43 characters that need no escaping anywhere. */
export function generatePassword(): string {
  return randomBytes(32).toString('base64url');
}

/** The shape PostgreSQL recognises as an already-hashed SCRAM password (no quote, no backslash). */
export const SCRAM_VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/;

/**
 * RFC 5802 / RFC 7677 stored credentials in PostgreSQL's format
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. CREATE/ALTER ROLE … PASSWORD stores
 * such a string as is. The password is ASCII without control characters, so SASLprep leaves it
 * unchanged and the server derives the same keys at login.
 */
export async function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): Promise<string> {
  const salted = await pbkdf2Async(password, salt, SCRAM_ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
