// A whole broker for integration tests: a fresh database, a real workload issuer and staff
// issuer (really signed tokens), a policy directory, real providers, the real app, a moved-by-hand
// clock, and every log line captured so tests can prove no secret was logged.
import { Writable } from 'node:stream';
import { type Broker, createBroker } from '../../src/broker.js';
import { ManualClock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { PolicyStore } from '../../src/policy/policy-store.js';
import { policyChecks } from '../../src/policy-checks.js';
import type { StaffConfig } from '../../src/policy-config/broker-yaml.js';
import { createJwtProvider } from '../../src/providers/jwt/jwt-provider.js';
import { KeyStore } from '../../src/providers/jwt/key-store.js';
import type { ProviderRegistry } from '../../src/providers/types.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { createTestIssuer, issuerConfig, staffConfig, type TestIssuer } from './issuer.js';
import { DEFAULT_SCHEMA, writePolicyDir } from './policy-dir.js';

export const TEST_MASTER_KEY = Buffer.alloc(32, 7);
export const TEST_WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
export const STAFF_AUDIENCE = 'jit-broker-console';

export const TEST_TEMPLATES = {
  'reports-api': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:read', 'reports:export'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
  'reports-admin': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:admin'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
};

export const TEST_POLICIES: Record<string, string> = {
  'reports.cedar': `// Agents in namespace "reports" may use the reports API, for at most 10 minutes at a time.
@id("reports-agents-use-reports-api")
@max_ttl("600")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-api")
when { principal has namespace && principal.namespace == "reports" };

// Administrative scopes need a human from security-oncall to approve.
@id("reports-admin-needs-approval")
@step_up("security-oncall")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-admin")
when { principal has namespace && principal.namespace == "reports" };
`,
  'guardrails.cedar': `// Exports only when a human is accountable for them.
@id("forbid-unattended-export")
forbid (principal, action, resource)
when { context.intent.actions.contains("reports:export") && !(context has on_behalf_of) };
`,
};

export interface TestBrokerOptions {
  templates?: Record<string, object>;
  /** broker.yaml `limits:` (default: the broker's defaults). */
  limits?: object;
  policies?: Record<string, string>;
  schema?: string;
  /** Extra providers (postgres, aws_sts) beside the JWT provider. */
  providers?: ProviderRegistry;
  env?: Record<string, string>;
  /** Share a database with another test broker (two replicas). */
  database?: TestDatabase;
  /** Share the workload and staff issuers with another test broker (replicas trust the same IdPs). */
  issuers?: { workload: TestIssuer; staff: TestIssuer };
  clock?: ManualClock;
  /** Over the `staff:` section (e.g. a real OIDC provider as the staff IdP: issuer, jwks_uri, jwks_file: undefined). */
  staff?: Partial<StaffConfig>;
  /** `resource_servers:` of broker.yaml (RFC 7662 callers). */
  resourceServers?: object[];
  /** Extra files in the policy directory (a resource server's jwks_file). */
  files?: Record<string, string>;
}

export interface TestBroker {
  broker: Broker;
  config: Config;
  database: TestDatabase;
  clock: ManualClock;
  issuer: TestIssuer;
  staffIssuer: TestIssuer;
  keyStore: KeyStore;
  policies: PolicyStore;
  policyDir: string;
  logs: string[];
  agentToken(sub?: string, claims?: Record<string, unknown>): Promise<string>;
  staffToken(sub: string, groups?: string[], claims?: Record<string, unknown>): Promise<string>;
  request(
    method: string,
    path: string,
    init?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field in tests
  body: any;
  text: string;
}

export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const clock = options.clock ?? new ManualClock(new Date());
  const database = options.database ?? (await createTestDatabase());
  const ownsDatabase = options.database === undefined;
  const ownsIssuers = options.issuers === undefined;
  const issuer = options.issuers?.workload ?? (await createTestIssuer({ alg: 'ES256', jwks: 'file', clock }));
  const staffIssuer =
    options.issuers?.staff ??
    (await createTestIssuer({ alg: 'ES256', jwks: 'file', issuer: 'https://sso.test.local', clock }));
  const policyDir = await writePolicyDir({
    issuers: [
      issuerConfig(issuer, {
        name: 'test',
        attributes: {
          namespace: ['kubernetes.io', 'namespace'],
          service_account: ['kubernetes.io', 'serviceaccount', 'name'],
        },
      }),
    ],
    staff: staffConfig(staffIssuer, {
      audience: STAFF_AUDIENCE,
      client_id: 'jit-broker-console',
      ...options.staff,
    }),
    templates: options.templates ?? TEST_TEMPLATES,
    limits: options.limits,
    schema: options.schema ?? DEFAULT_SCHEMA,
    policies: options.policies ?? TEST_POLICIES,
    ...(options.resourceServers ? { resourceServers: options.resourceServers } : {}),
    ...(options.files ? { files: options.files } : {}),
  });
  const config = loadConfig({
    DATABASE_URL: database.url,
    POLICY_DIR: policyDir,
    BROKER_ISSUER: 'https://broker.test.local',
    PUBLIC_URL: 'https://broker.test.local',
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    LOG_LEVEL: 'debug',
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const keyStore = await KeyStore.open({ database, masterKey: TEST_MASTER_KEY, clock, logger });
  const providers: ProviderRegistry = {
    jwt: createJwtProvider({
      keyStore,
      issuer: config.brokerIssuer,
      txnTokenAudience: config.txnTokenAudience,
    }) as ProviderRegistry['jwt'],
    ...options.providers,
  };
  const policies = await PolicyStore.open(policyDir, {
    ...policyChecks(providers),
    decisionCacheSize: config.decisionCacheSize,
  });
  const broker = await createBroker({
    config,
    database,
    clock,
    logger,
    policies,
    keyStore,
    providers,
    masterKey: TEST_MASTER_KEY,
  });

  const request: TestBroker['request'] = async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await broker.app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };

  return {
    broker,
    config,
    database,
    clock,
    issuer,
    staffIssuer,
    keyStore,
    policies,
    policyDir,
    logs,
    agentToken: (sub = 'agent-reports', claims = {}) =>
      issuer.sign({
        sub,
        'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent' } },
        ...claims,
      }),
    staffToken: (sub, groups = ['security-oncall'], claims = {}) =>
      staffIssuer.sign({ sub, aud: STAFF_AUDIENCE, groups, ...claims }),
    request,
    close: async () => {
      await broker.sweeper.stop();
      await broker.instance.release();
      if (ownsIssuers) {
        await issuer.close();
        await staffIssuer.close();
      }
      if (ownsDatabase) await database.drop();
    },
  };
}

/** A valid credential request body for the default test templates. */
export function credentialRequest(
  overrides: Record<string, unknown> = {},
  intent: Record<string, unknown> = {},
) {
  return {
    template: 'reports-api',
    intent: {
      task_id: 't-42',
      purpose: 'monthly report',
      actions: ['reports:read'],
      resources: [],
      ...intent,
    },
    ...overrides,
  };
}

/**
 * The environment of a `bin/jit-broker` process that is a replica of `t`: the same database,
 * policy directory, issuer, keys and webhook secret, plus `env` (DATA_DIR, targets, the sweep).
 */
export function replicaEnv(t: TestBroker, env: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: t.database.url,
    POLICY_DIR: t.policyDir,
    BROKER_ISSUER: t.config.brokerIssuer,
    PUBLIC_URL: t.config.publicUrl,
    BROKER_MASTER_KEY: TEST_MASTER_KEY.toString('hex'),
    WEBHOOK_SECRET: TEST_WEBHOOK_SECRET,
    LOG_LEVEL: 'info',
    ...env,
  };
}
