// Process configuration: the only module that reads process.env. Every value is validated with
// zod, and an invalid environment stops start-up with one line per problem.
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function urlWith(protocols: readonly string[], message: string) {
  return z.string().refine((v) => URL.canParse(v) && protocols.includes(new URL(v).protocol), { message });
}

const httpUrl = urlWith(['http:', 'https:'], 'must be an absolute http:// or https:// URL');
const postgresUrl = urlWith(['postgres:', 'postgresql:'], 'must be a postgres:// URL');

/**
 * Digits only: z.coerce.number() would read '' as 0 (PORT= would listen on a random port) and
 * accept '0x50' or '1e3'.
 */
function integerString(min: number, max: number, fallback: number) {
  const message = `must be an integer from ${min} to ${max}`;
  const digits = Math.max(6, String(max).length);
  return z
    .string()
    .regex(new RegExp(`^[0-9]{1,${digits}}$`), message)
    .transform(Number)
    .refine((n) => n >= min && n <= max, message)
    .default(fallback);
}

const nonEmpty = z.string().min(1, 'must not be empty');

const envSchema = z.object({
  PORT: integerString(0, 65535, 8080),
  HOST: nonEmpty.default('0.0.0.0'),
  DATABASE_URL: postgresUrl.optional(),
  POLICY_DIR: nonEmpty.default('./policies'),
  DATA_DIR: nonEmpty.default('./.data'),
  BROKER_ISSUER: httpUrl.optional(),
  BROKER_MASTER_KEY: z
    .string()
    .refine((v) => decodeMasterKey(v) !== undefined, {
      message: 'must be 32 bytes, base64 or hex encoded (generate with: openssl rand -base64 32)',
    })
    .optional(),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  SWEEP_INTERVAL_SECONDS: integerString(1, 3600, 5),
  DATABASE_CONNECT_TIMEOUT_MS: integerString(100, 30_000, 1000),
  SHUTDOWN_TIMEOUT_SECONDS: integerString(1, 600, 10),
  REVOKE_MAX_ATTEMPTS: integerString(1, 1000, 10),
  LEASE_RETENTION_DAYS: integerString(1, 36_500, 30),
  // Never under twice the signature window (300 s): an id must outlive every replay of it.
  WEBHOOK_DELIVERY_RETENTION_SECONDS: integerString(600, 604_800, 600),
  DECISION_CACHE_SIZE: integerString(0, 1_000_000, 10_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  STAFF_CLIENT_SECRET: nonEmpty.optional(),
  APPROVAL_WEBHOOK_URL: httpUrl.optional(),
  AWS_ENDPOINT_URL_STS: httpUrl.optional(),
  PUBLIC_URL: httpUrl.optional(),
  TXN_TOKEN_AUDIENCE: nonEmpty.optional(),
});

export interface Config {
  port: number;
  host: string;
  /** Unset: main.ts starts an embedded PostgreSQL. */
  databaseUrl: string | undefined;
  policyDir: string;
  dataDir: string;
  /** `iss` of minted JWTs; defaults to the public URL of the broker. */
  brokerIssuer: string;
  /** Where this broker is reachable (links in the console and approval notifications). */
  publicUrl: string;
  /** 32 bytes; undefined means main.ts derives a development key in dataDir. */
  masterKey: Buffer | undefined;
  webhookSecret: string | undefined;
  sweepIntervalSeconds: number;
  /** Longest wait for a database connection before a request is answered 503. */
  databaseConnectTimeoutMs: number;
  /** SIGTERM: in-flight requests get this long to finish before the process exits anyway. */
  shutdownTimeoutSeconds: number;
  /** Failed provider revocations after which a lease is `revoke_failed` (and reported). */
  revokeMaxAttempts: number;
  /** Finished leases (revoked, expired, denied, issue_failed) are deleted this long after they ended. */
  leaseRetentionDays: number;
  /** Accepted webhook delivery ids are kept this long (replay protection). */
  webhookDeliveryRetentionSeconds: number;
  /** Most Cedar decisions each policy set caches; 0 turns the cache off. */
  decisionCacheSize: number;
  logLevel: (typeof LOG_LEVELS)[number];
  staffClientSecret: string | undefined;
  approvalWebhookUrl: string | undefined;
  awsEndpointUrlSts: string | undefined;
  /** The trust domain: `aud` of transaction tokens. Unset, the token endpoint mints none. */
  txnTokenAudience: string | undefined;
  /** TARGET_<NAME>_URL, keyed by the lower-cased NAME (`orders` for TARGET_ORDERS_URL). */
  targetUrls: Record<string, string>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function decodeMasterKey(value: string): Buffer | undefined {
  const trimmed = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  const b64 = Buffer.from(trimmed, 'base64');
  return b64.length === 32 ? b64 : undefined;
}

/** Parse an environment (process.env in production, a literal object in tests). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  const targetUrls: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    const match = /^TARGET_([A-Z0-9_]+)_URL$/.exec(key);
    if (!match || value === undefined) continue;
    if (!postgresUrl.safeParse(value).success) {
      problems.push(`${key}: must be a postgres:// URL`);
      continue;
    }
    targetUrls[match[1]!.toLowerCase()] = value;
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/$/, '');
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    policyDir: e.POLICY_DIR,
    dataDir: e.DATA_DIR,
    brokerIssuer: e.BROKER_ISSUER ?? publicUrl,
    publicUrl,
    masterKey: e.BROKER_MASTER_KEY === undefined ? undefined : decodeMasterKey(e.BROKER_MASTER_KEY),
    webhookSecret: e.WEBHOOK_SECRET,
    sweepIntervalSeconds: e.SWEEP_INTERVAL_SECONDS,
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
    revokeMaxAttempts: e.REVOKE_MAX_ATTEMPTS,
    leaseRetentionDays: e.LEASE_RETENTION_DAYS,
    webhookDeliveryRetentionSeconds: e.WEBHOOK_DELIVERY_RETENTION_SECONDS,
    decisionCacheSize: e.DECISION_CACHE_SIZE,
    logLevel: e.LOG_LEVEL,
    staffClientSecret: e.STAFF_CLIENT_SECRET,
    approvalWebhookUrl: e.APPROVAL_WEBHOOK_URL,
    awsEndpointUrlSts: e.AWS_ENDPOINT_URL_STS,
    txnTokenAudience: e.TXN_TOKEN_AUDIENCE,
    targetUrls,
  };
}
