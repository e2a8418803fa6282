// The environment parser: every invalid value is refused with one line that names the variable
// and says what would be valid, never echoing a secret; valid values and defaults come through.
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const KEY_HEX = 'ab'.repeat(32);
const KEY_B64 = Buffer.alloc(32, 9).toString('base64');

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig refuses each invalid value with one line naming the variable', () => {
  const cases: [string, string, string][] = [
    ['PORT', 'abc', 'PORT: must be an integer from 0 to 65535'],
    ['PORT', '70000', 'PORT: must be an integer from 0 to 65535'],
    ['PORT', '-1', 'PORT: must be an integer from 0 to 65535'],
    ['PORT', '80.5', 'PORT: must be an integer from 0 to 65535'],
    // z.coerce.number() read these as 0 (a random port), 80 and 1000.
    ['PORT', '', 'PORT: must be an integer from 0 to 65535'],
    ['PORT', '0x50', 'PORT: must be an integer from 0 to 65535'],
    ['PORT', '1e3', 'PORT: must be an integer from 0 to 65535'],
    ['HOST', '', 'HOST: must not be empty'],
    ['DATABASE_URL', 'not a url', 'DATABASE_URL: must be a postgres:// URL'],
    ['DATABASE_URL', 'mysql://db.internal/broker', 'DATABASE_URL: must be a postgres:// URL'],
    // Empty is not "unset": an empty DATABASE_URL must not silently start the embedded database.
    ['DATABASE_URL', '', 'DATABASE_URL: must be a postgres:// URL'],
    ['POLICY_DIR', '', 'POLICY_DIR: must not be empty'],
    ['DATA_DIR', '', 'DATA_DIR: must not be empty'],
    ['BROKER_ISSUER', 'broker', 'BROKER_ISSUER: must be an absolute http:// or https:// URL'],
    ['BROKER_ISSUER', 'javascript:alert(1)', 'BROKER_ISSUER: must be an absolute http:// or https:// URL'],
    [
      'BROKER_MASTER_KEY',
      'too-short',
      'BROKER_MASTER_KEY: must be 32 bytes, base64 or hex encoded (generate with: openssl rand -base64 32)',
    ],
    [
      'BROKER_MASTER_KEY',
      'ab'.repeat(31),
      'BROKER_MASTER_KEY: must be 32 bytes, base64 or hex encoded (generate with: openssl rand -base64 32)',
    ],
    [
      'BROKER_MASTER_KEY',
      Buffer.alloc(31).toString('base64'),
      'BROKER_MASTER_KEY: must be 32 bytes, base64 or hex encoded (generate with: openssl rand -base64 32)',
    ],
    ['WEBHOOK_SECRET', 'short', 'WEBHOOK_SECRET: must be at least 16 characters'],
    ['WEBHOOK_SECRET', '', 'WEBHOOK_SECRET: must be at least 16 characters'],
    ['SWEEP_INTERVAL_SECONDS', '0', 'SWEEP_INTERVAL_SECONDS: must be an integer from 1 to 3600'],
    ['SWEEP_INTERVAL_SECONDS', '3601', 'SWEEP_INTERVAL_SECONDS: must be an integer from 1 to 3600'],
    ['SWEEP_INTERVAL_SECONDS', 'five', 'SWEEP_INTERVAL_SECONDS: must be an integer from 1 to 3600'],
    ['SWEEP_INTERVAL_SECONDS', '', 'SWEEP_INTERVAL_SECONDS: must be an integer from 1 to 3600'],
    ['DECISION_CACHE_SIZE', '-1', 'DECISION_CACHE_SIZE: must be an integer from 0 to 1000000'],
    ['DECISION_CACHE_SIZE', '1000001', 'DECISION_CACHE_SIZE: must be an integer from 0 to 1000000'],
    ['DECISION_CACHE_SIZE', '10000000', 'DECISION_CACHE_SIZE: must be an integer from 0 to 1000000'],
    ['DECISION_CACHE_SIZE', '1e4', 'DECISION_CACHE_SIZE: must be an integer from 0 to 1000000'],
    ['DECISION_CACHE_SIZE', '', 'DECISION_CACHE_SIZE: must be an integer from 0 to 1000000'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
    ['LOG_LEVEL', '', 'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
    ['STAFF_CLIENT_SECRET', '', 'STAFF_CLIENT_SECRET: must not be empty'],
    [
      'APPROVAL_WEBHOOK_URL',
      'hooks.example.com/approvals',
      'APPROVAL_WEBHOOK_URL: must be an absolute http:// or https:// URL',
    ],
    [
      'APPROVAL_WEBHOOK_URL',
      'ftp://hooks.example.com/',
      'APPROVAL_WEBHOOK_URL: must be an absolute http:// or https:// URL',
    ],
    [
      'AWS_ENDPOINT_URL_STS',
      'localstack:4566',
      'AWS_ENDPOINT_URL_STS: must be an absolute http:// or https:// URL',
    ],
    ['PUBLIC_URL', '/broker', 'PUBLIC_URL: must be an absolute http:// or https:// URL'],
    ['TARGET_ORDERS_URL', 'https://orders.internal', 'TARGET_ORDERS_URL: must be a postgres:// URL'],
    ['TARGET_ORDERS_URL', 'orders', 'TARGET_ORDERS_URL: must be a postgres:// URL'],
  ];

  test.each(cases)('%s=%j', (name, value, line) => {
    expect(problemsOf({ [name]: value })).toEqual([line]);
  });

  test('every problem is one line, and the error message lists them all', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud', TARGET_BILLING_URL: 'nope' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toEqual([
      'PORT: must be an integer from 0 to 65535',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'TARGET_BILLING_URL: must be a postgres:// URL',
    ]);
    for (const p of problems) expect(p).not.toContain('\n');
    expect(message.split('\n')).toEqual(['invalid configuration:', ...problems.map((p) => `  ${p}`)]);
  });

  test('a refused value that holds a secret is never echoed', () => {
    const secrets = {
      BROKER_MASTER_KEY: 'not-a-key-but-still-secret-7f3a9',
      WEBHOOK_SECRET: 'hunter2hunter2',
      DATABASE_URL: 'mysql://broker:s3cr3t-db-pass@db.internal/broker',
      TARGET_ORDERS_URL: 'https://admin:s3cr3t-target@orders.internal',
    };
    const text = problemsOf(secrets).join('\n');
    expect(text).not.toMatch(/7f3a9|hunter2|s3cr3t/);
    expect(problemsOf(secrets)).toHaveLength(4);
  });
});

describe('loadConfig accepts valid values', () => {
  test('an empty environment gives the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      port: 8080,
      host: '0.0.0.0',
      databaseUrl: undefined,
      policyDir: './policies',
      dataDir: './.data',
      brokerIssuer: 'http://localhost:8080',
      publicUrl: 'http://localhost:8080',
      masterKey: undefined,
      webhookSecret: undefined,
      sweepIntervalSeconds: 5,
      databaseConnectTimeoutMs: 1000,
      shutdownTimeoutSeconds: 10,
      revokeMaxAttempts: 10,
      leaseRetentionDays: 30,
      webhookDeliveryRetentionSeconds: 600,
      decisionCacheSize: 10_000,
      logLevel: 'info',
      staffClientSecret: undefined,
      approvalWebhookUrl: undefined,
      awsEndpointUrlSts: undefined,
      txnTokenAudience: undefined,
      targetUrls: {},
    });
  });

  test('the decision cache size: 0 turns it off, up to a million entries', () => {
    expect(loadConfig({ DECISION_CACHE_SIZE: '0' }).decisionCacheSize).toBe(0);
    expect(loadConfig({ DECISION_CACHE_SIZE: '1000000' }).decisionCacheSize).toBe(1_000_000);
    expect(loadConfig({ DECISION_CACHE_SIZE: '250' }).decisionCacheSize).toBe(250);
  });

  test('retention ages: finished leases kept 30 days, delivery ids never less than twice the signature window', () => {
    expect(loadConfig({ LEASE_RETENTION_DAYS: '7' }).leaseRetentionDays).toBe(7);
    expect(() => loadConfig({ LEASE_RETENTION_DAYS: '0' })).toThrow(/LEASE_RETENTION_DAYS/);
    expect(() => loadConfig({ WEBHOOK_DELIVERY_RETENTION_SECONDS: '599' })).toThrow(
      /WEBHOOK_DELIVERY_RETENTION_SECONDS/,
    );
  });

  test('every variable set to a valid value', () => {
    const config = loadConfig({
      PORT: '9090',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgresql://broker:pw@db.internal:5432/broker',
      POLICY_DIR: '/etc/jit-broker/policies',
      DATA_DIR: '/var/lib/jit-broker',
      BROKER_ISSUER: 'https://broker.example.com',
      PUBLIC_URL: 'https://broker.example.com/',
      BROKER_MASTER_KEY: KEY_HEX,
      WEBHOOK_SECRET: 'whsec-0123456789abcdef',
      SWEEP_INTERVAL_SECONDS: '3600',
      LOG_LEVEL: 'warn',
      STAFF_CLIENT_SECRET: 'console-secret',
      APPROVAL_WEBHOOK_URL: 'https://hooks.example.com/approvals',
      AWS_ENDPOINT_URL_STS: 'http://localstack:4566',
      TXN_TOKEN_AUDIENCE: 'https://trust-domain.example',
      TARGET_ORDERS_URL: 'postgres://admin:pw@orders.internal/orders',
      TARGET_BILLING_DB_URL: 'postgresql://admin:pw@billing.internal/billing',
    });
    expect(config).toMatchObject({
      port: 9090,
      host: '127.0.0.1',
      databaseUrl: 'postgresql://broker:pw@db.internal:5432/broker',
      brokerIssuer: 'https://broker.example.com',
      publicUrl: 'https://broker.example.com',
      webhookSecret: 'whsec-0123456789abcdef',
      sweepIntervalSeconds: 3600,
      logLevel: 'warn',
      awsEndpointUrlSts: 'http://localstack:4566',
      txnTokenAudience: 'https://trust-domain.example',
      targetUrls: {
        orders: 'postgres://admin:pw@orders.internal/orders',
        billing_db: 'postgresql://admin:pw@billing.internal/billing',
      },
    });
    expect(config.masterKey).toEqual(Buffer.from(KEY_HEX, 'hex'));
  });

  test('the master key may be base64, and PORT 0 (an ephemeral port) is allowed', () => {
    const config = loadConfig({ BROKER_MASTER_KEY: KEY_B64, PORT: '0' });
    expect(config.masterKey).toEqual(Buffer.alloc(32, 9));
    expect(config.port).toBe(0);
  });

  test('the issuer defaults to the public URL', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://jit.example.com' }).brokerIssuer).toBe(
      'https://jit.example.com',
    );
  });

  test('variables that only look like targets are ignored, not misread', () => {
    expect(
      loadConfig({ TARGET__URL: 'postgres://x/y', target_orders_url: 'nope', TARGET_ORDERS_URI: 'nope' })
        .targetUrls,
    ).toEqual({});
  });
});
