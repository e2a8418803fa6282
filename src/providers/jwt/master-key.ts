// Envelope encryption of the broker's private signing keys with BROKER_MASTER_KEY (AES-256-GCM),
// and the development master key generated into the data directory when none is configured.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeMasterKey } from '../../config.js';
import type { Logger } from '../../logger.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const DEV_MASTER_KEY_FILE = 'master.key';

/** Raised when a sealed key cannot be opened; the message names the key, never key material. */
export class MasterKeyMismatchError extends Error {
  constructor(readonly kid: string) {
    super(`cannot decrypt signing key ${kid}: BROKER_MASTER_KEY does not match the key that encrypted it`);
    this.name = 'MasterKeyMismatchError';
  }
}

function assertMasterKey(masterKey: Buffer): void {
  if (masterKey.length !== KEY_BYTES) {
    throw new TypeError(`the master key must be ${KEY_BYTES} bytes, got ${masterKey.length}`);
  }
}

/**
 * Encrypts `plaintext` under `masterKey`. `aad` (the key's kid) is authenticated, so a ciphertext
 * copied onto another row does not decrypt there. Layout: iv (12) || tag (16) || ciphertext.
 */
export function sealPrivateKey(masterKey: Buffer, plaintext: Buffer, aad: string): Buffer {
  assertMasterKey(masterKey);
  // A random 96-bit IV per seal: keys are sealed a handful of times per master key, far below the
  // 2^32 messages after which random GCM IVs risk a collision (NIST SP 800-38D, 8.3).
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/**
 * Decrypts what sealPrivateKey produced with the same `aad` (the kid). GCM cannot tell a wrong
 * master key from a tampered or misplaced ciphertext; a wrong master key is by far the common
 * cause, so that is what the error says.
 */
export function openPrivateKey(masterKey: Buffer, sealed: Buffer, aad: string): Buffer {
  assertMasterKey(masterKey);
  if (sealed.length < IV_BYTES + TAG_BYTES) {
    throw new Error(`cannot decrypt signing key ${aad}: the stored ciphertext is truncated`);
  }
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  const ciphertext = sealed.subarray(IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', masterKey, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new MasterKeyMismatchError(aad);
  }
}

async function readDevMasterKey(file: string): Promise<Buffer> {
  const key = decodeMasterKey(await readFile(file, 'utf8'));
  if (key === undefined) {
    throw new Error(
      `${file} does not hold a 32-byte base64 or hex master key; restore it or set BROKER_MASTER_KEY`,
    );
  }
  return key;
}

/**
 * The development master key: `<dataDir>/master.key` (base64, mode 0600), created on first use.
 * Base64 so that it can later be moved into BROKER_MASTER_KEY as it is.
 */
export async function loadOrCreateDevMasterKey(dataDir: string, logger: Logger): Promise<Buffer> {
  const root = path.resolve(dataDir);
  const file = path.join(root, DEV_MASTER_KEY_FILE);
  const warning =
    'BROKER_MASTER_KEY is not set: signing keys are encrypted with a DEVELOPMENT master key stored ' +
    'next to the data. Production must set BROKER_MASTER_KEY (openssl rand -base64 32).';
  try {
    const key = await readDevMasterKey(file);
    await warnIfExposed(file, logger);
    logger.warn({ file }, warning);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }

  // The directory keeps its default mode: the file itself is 0600, and the embedded PostgreSQL,
  // run as the `postgres` user when the broker runs as root, must be able to reach <dataDir>/pg.
  await mkdir(root, { recursive: true });
  // Written to a private temporary file and then hard-linked into place: link() fails if the file
  // exists, so two processes starting together never both create a key, and nobody reads a
  // half-written file.
  const temporary = path.join(
    root,
    `.${DEV_MASTER_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`,
  );
  const key = randomBytes(KEY_BYTES);
  await writeFile(temporary, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    logger.warn({ file }, warning);
    return await readDevMasterKey(file);
  } finally {
    await rm(temporary, { force: true });
  }
  logger.warn(
    { file },
    `${warning} Generated a new development master key in ${file}; losing it makes the stored signing keys unusable.`,
  );
  return key;
}

async function warnIfExposed(file: string, logger: Logger): Promise<void> {
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { file, mode: (mode & 0o777).toString(8) },
      `${file} is readable by other users: chmod 600 it`,
    );
  }
}
