import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeMasterKey } from '../../../src/config.js';
import {
  loadOrCreateDevMasterKey,
  MasterKeyMismatchError,
  openPrivateKey,
  sealPrivateKey,
} from '../../../src/providers/jwt/master-key.js';
import { captureLogger, newMasterKey } from './fixtures.js';

describe('sealPrivateKey / openPrivateKey', () => {
  const secret = Buffer.from('{"kty":"OKP","crv":"Ed25519","d":"c2VjcmV0"}');

  it('round-trips, as iv (12) || tag (16) || ciphertext', () => {
    const key = newMasterKey();
    const sealed = sealPrivateKey(key, secret, 'kid-1');
    expect(sealed.length).toBe(12 + 16 + secret.length);
    expect(sealed.includes(secret)).toBe(false);
    expect(openPrivateKey(key, sealed, 'kid-1')).toEqual(secret);
  });

  it('uses a fresh IV for every seal', () => {
    const key = newMasterKey();
    const a = sealPrivateKey(key, secret, 'kid-1');
    const b = sealPrivateKey(key, secret, 'kid-1');
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('refuses a wrong master key with a message naming the key and BROKER_MASTER_KEY', () => {
    const sealed = sealPrivateKey(newMasterKey(), secret, 'kid-1');
    expect(() => openPrivateKey(newMasterKey(), sealed, 'kid-1')).toThrow(
      'cannot decrypt signing key kid-1: BROKER_MASTER_KEY does not match the key that encrypted it',
    );
    expect(() => openPrivateKey(newMasterKey(), sealed, 'kid-1')).toThrow(MasterKeyMismatchError);
  });

  it('binds the ciphertext to its kid: it does not open under another kid', () => {
    const key = newMasterKey();
    const sealed = sealPrivateKey(key, secret, 'kid-1');
    expect(() => openPrivateKey(key, sealed, 'kid-2')).toThrow(/cannot decrypt signing key kid-2/);
  });

  it('detects a tampered or truncated ciphertext', () => {
    const key = newMasterKey();
    const sealed = sealPrivateKey(key, secret, 'kid-1');
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(() => openPrivateKey(key, flipped, 'kid-1')).toThrow(MasterKeyMismatchError);
    expect(() => openPrivateKey(key, sealed.subarray(0, 20), 'kid-1')).toThrow(/truncated/);
  });

  it('refuses a master key that is not 32 bytes', () => {
    expect(() => sealPrivateKey(Buffer.alloc(16), secret, 'kid-1')).toThrow(/32 bytes/);
    expect(() => openPrivateKey(Buffer.alloc(31), Buffer.alloc(40), 'kid-1')).toThrow(/32 bytes/);
  });
});

describe('loadOrCreateDevMasterKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'jit-master-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a 32-byte key in <dataDir>/master.key, mode 0600, with a loud warning that never shows the key', async () => {
    const dataDir = path.join(dir, 'data');
    const { logger, lines, text } = captureLogger();
    const key = await loadOrCreateDevMasterKey(dataDir, logger);
    expect(key.length).toBe(32);
    const file = path.join(dataDir, 'master.key');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(decodeMasterKey(await readFile(file, 'utf8'))).toEqual(key);

    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/development master key/i);
    expect(warnings[0]!.msg).toMatch(/Production must set BROKER_MASTER_KEY/);
    expect(text()).not.toContain(key.toString('base64'));
    expect(text()).not.toContain(key.toString('hex'));
  });

  it('returns the same key on the next start, and still warns', async () => {
    const first = await loadOrCreateDevMasterKey(dir, captureLogger().logger);
    const { logger, text } = captureLogger();
    expect(await loadOrCreateDevMasterKey(dir, logger)).toEqual(first);
    expect(text()).toMatch(/BROKER_MASTER_KEY/);
  });

  it('creates one key when two processes start together', async () => {
    const { logger } = captureLogger();
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateDevMasterKey(dir, logger)));
    for (const k of keys) expect(k).toEqual(keys[0]);
  });

  it('refuses a damaged key file rather than replacing it', async () => {
    await writeFile(path.join(dir, 'master.key'), 'not a key\n', { mode: 0o600 });
    await expect(loadOrCreateDevMasterKey(dir, captureLogger().logger)).rejects.toThrow(
      /does not hold a 32-byte/,
    );
  });
});
