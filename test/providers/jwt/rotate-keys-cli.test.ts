import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isNull } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  checkTokenLifetime,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  describeRotation,
  parseRotateKeysArgs,
  rotateKeys,
} from '../../../src/cli/rotate-keys.js';
import { ManualClock } from '../../../src/clock.js';
import { loadConfig } from '../../../src/config.js';
import { signingKeys } from '../../../src/db/schema/index.js';
import { KeyStore } from '../../../src/providers/jwt/key-store.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { captureLogger, newMasterKey } from './fixtures.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const T0 = new Date('2030-01-01T00:00:00Z');

let database: TestDatabase;
let masterKey: Buffer;
let dataDir: string;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});
beforeEach(async () => {
  await database.db.delete(signingKeys);
  masterKey = newMasterKey();
  dataDir = await mkdtemp(path.join(tmpdir(), 'jit-rotate-'));
  return () => rm(dataDir, { recursive: true, force: true });
});

describe('parseRotateKeysArgs', () => {
  it('defaults to 24 h and EdDSA', () => {
    expect(parseRotateKeysArgs([])).toEqual({ maxTokenLifetimeSeconds: 86_400, alg: 'EdDSA' });
    expect(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS).toBe(86_400);
  });

  it('reads --max-token-lifetime and --alg', () => {
    expect(parseRotateKeysArgs(['--max-token-lifetime', '900', '--alg', 'ES256'])).toEqual({
      maxTokenLifetimeSeconds: 900,
      alg: 'ES256',
    });
  });

  it('refuses a bad lifetime, a bad algorithm and unknown options', () => {
    for (const v of ['0', '-5', '1.5', '15m', '']) {
      expect(() => parseRotateKeysArgs(['--max-token-lifetime', v])).toThrow(/--max-token-lifetime/);
    }
    expect(() => parseRotateKeysArgs(['--alg', 'HS256'])).toThrow(/--alg must be one of EdDSA, ES256/);
    expect(() => parseRotateKeysArgs(['--force'])).toThrow(/usage/);
  });
});

describe('checkTokenLifetime', () => {
  const policies = path.join(ROOT, 'policies'); // jwt templates with max_ttl 15m

  it('refuses a lifetime shorter than the longest jwt template max_ttl, naming the template', async () => {
    await expect(
      checkTokenLifetime(parseRotateKeysArgs(['--max-token-lifetime', '899']), policies),
    ).rejects.toThrow(
      /--max-token-lifetime 899 is shorter than the max_ttl of jwt template "[a-z-]+" \(900 s\).*--allow-early-expiry/s,
    );
    await expect(
      checkTokenLifetime(parseRotateKeysArgs(['--max-token-lifetime', '900']), policies),
    ).resolves.toBeUndefined();
  });

  it('lets --allow-early-expiry through (a compromised key must stop verifying at once)', async () => {
    const args = parseRotateKeysArgs(['--max-token-lifetime', '60', '--allow-early-expiry']);
    expect(args.allowEarlyExpiry).toBe(true);
    await expect(checkTokenLifetime(args, policies)).resolves.toBeUndefined();
  });

  it('only warns when broker.yaml cannot be read', async () => {
    const warning = await checkTokenLifetime(parseRotateKeysArgs(['--max-token-lifetime', '60']), dataDir);
    expect(warning).toMatch(/^warning: .*broker\.yaml could not be read .*not checked/);
  });
});

describe('rotateKeys', () => {
  it('rotates the keys of the configured database and says until when the previous key is published', async () => {
    const clock = new ManualClock(T0);
    const { logger } = captureLogger();
    const store = await KeyStore.open({ database, masterKey, clock, logger });
    const oldKid = store.currentKey().kid;

    const config = loadConfig({
      DATABASE_URL: database.url,
      BROKER_MASTER_KEY: masterKey.toString('base64'),
      DATA_DIR: dataDir,
    });
    const result = await rotateKeys(
      { maxTokenLifetimeSeconds: 900, alg: 'EdDSA' },
      { config, logger, clock },
    );
    expect(result).toEqual({
      kid: expect.any(String),
      alg: 'EdDSA',
      previous: [{ kid: oldKid, publishUntil: new Date(T0.getTime() + 900_000) }],
    });
    expect(describeRotation(result)).toBe(
      `new signing key ${result.kid} (EdDSA) is now current\n` +
        `previous key ${oldKid} stays published until 2030-01-01T00:15:00.000Z\n` +
        'running brokers sign with the new key once they re-read the signing keys\n',
    );

    await store.refresh();
    expect(store.currentKey().kid).toBe(result.kid);
    await expect(stat(path.join(dataDir, 'master.key'))).rejects.toThrow(); // BROKER_MASTER_KEY was set
  });

  it('uses the development master key from the data directory when BROKER_MASTER_KEY is unset', async () => {
    const { logger, text } = captureLogger();
    const config = loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir });
    const first = await rotateKeys({ maxTokenLifetimeSeconds: 60, alg: 'EdDSA' }, { config, logger });
    const second = await rotateKeys({ maxTokenLifetimeSeconds: 60, alg: 'EdDSA' }, { config, logger });
    expect(second.previous.map((p) => p.kid)).toEqual([first.kid]);
    expect((await stat(path.join(dataDir, 'master.key'))).mode & 0o777).toBe(0o600);
    expect(text()).toMatch(/DEVELOPMENT master key/);
  });

  it('runs as npm run keys:rotate: prints the new kid on stdout', async () => {
    const env = {
      PATH: process.env.PATH,
      DATABASE_URL: database.url,
      BROKER_MASTER_KEY: masterKey.toString('hex'),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
    const { stdout } = await run(TSX, ['src/cli/rotate-keys.ts', '--max-token-lifetime', '900'], {
      cwd: ROOT,
      env,
    });
    const [current] = await database.db.select().from(signingKeys).where(isNull(signingKeys.retiredAt));
    expect(stdout).toContain(`new signing key ${current!.kid} (EdDSA) is now current`);
    expect(stdout).toMatch(/stays published until \d{4}-\d\d-\d\dT/);
  });

  it('exits with 2, rotating nothing, when the lifetime is shorter than a jwt template max_ttl', async () => {
    const before = await database.db.select().from(signingKeys);
    const env = {
      PATH: process.env.PATH,
      DATABASE_URL: database.url,
      BROKER_MASTER_KEY: masterKey.toString('hex'),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    };
    const short = run(TSX, ['src/cli/rotate-keys.ts', '--max-token-lifetime', '60'], { cwd: ROOT, env });
    await expect(short).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/shorter than the max_ttl/),
    });
    expect(await database.db.select().from(signingKeys)).toEqual(before);
  });

  it('exits with 2 and the usage on bad arguments or configuration', async () => {
    const env = { PATH: process.env.PATH, DATABASE_URL: database.url, BROKER_MASTER_KEY: 'short' };
    const bad = run(TSX, ['src/cli/rotate-keys.ts', '--max-token-lifetime', 'soon'], { cwd: ROOT, env });
    await expect(bad).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/usage: jit-broker keys rotate/),
    });
    const badConfig = run(TSX, ['src/cli/rotate-keys.ts'], { cwd: ROOT, env });
    await expect(badConfig).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/BROKER_MASTER_KEY: must be 32 bytes/),
    });
  });
});
