// The key that seals the console's cookies (staff sessions, sign-ins in progress). Derived from
// BROKER_MASTER_KEY so every replica shares it and sessions survive a restart; without a master
// key each process makes its own, and staff sign in again after a restart.
import { hkdfSync, randomBytes } from 'node:crypto';
import type { Logger } from '../../logger.js';

/** HKDF `info`: a master key used for anything else never yields this key (RFC 5869 §3.2). */
const CONSOLE_KEY_INFO = 'jit-broker console cookie key v1';

export function deriveConsoleSessionKey(masterKey: Buffer | undefined, logger: Logger): Buffer {
  if (masterKey !== undefined) {
    return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), CONSOLE_KEY_INFO, 32));
  }
  logger.warn(
    'BROKER_MASTER_KEY is not set: console sessions use a random per-process key (staff sign in again after a restart, and replicas do not share sessions)',
  );
  return randomBytes(32);
}
