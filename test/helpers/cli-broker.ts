// A real broker process for the client tests (the CLI and the SDK): real clock, real port, a
// fresh database, workload and staff issuers with real keys, a jwt template with a TTL of a few
// seconds (so renewals happen while a test runs), a step-up template, a postgres target and an
// STS-compatible endpoint. runCli() runs `bin/jit-broker` itself as a subprocess.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import postgres from 'postgres';
import { BROKER_LAUNCHER, type BrokerProcess, REPO_ROOT, spawnBroker } from './broker-process.js';
import { createEmptyDatabase } from './db.js';
import { type FakeSts, startFakeSts } from './fake-sts.js';
import { createTestIssuer, issuerConfig, staffConfig, type TestIssuer } from './issuer.js';
import { ORDERS_POLICY, ORDERS_TEMPLATE } from './orders.js';
import { DEFAULT_SCHEMA, writePolicyDir } from './policy-dir.js';
import { createTargetDatabase, type TargetDatabase } from './target-db.js';

export const STAFF_AUDIENCE = 'jit-broker-console';
export const ROLE_ARN = 'arn:aws:iam::123456789012:role/agent-reports';

const TEMPLATES = {
  'reports-api': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:read', 'reports:export'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
  // Seconds-long leases: a child that runs a few seconds sees several renewals.
  'short-api': {
    provider: 'jwt',
    audience: 'https://short.internal',
    scopes: ['short:read'],
    default_ttl: '3s',
    max_ttl: '10m',
  },
  'reports-admin': {
    provider: 'jwt',
    audience: 'https://reports.internal',
    scopes: ['reports:admin'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
  'orders-db': ORDERS_TEMPLATE,
  's3-reports': {
    provider: 'aws_sts',
    role_arn: ROLE_ARN,
    region: 'eu-west-1',
    actions: ['s3:GetObject', 's3:ListBucket'],
    resources: ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'],
    default_ttl: '15m',
    max_ttl: '1h',
  },
};

const POLICIES = {
  'reports.cedar': `@id("reports-agents-use-reports-api")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-api")
when { principal has namespace && principal.namespace == "reports" };

@id("reports-agents-use-short-api")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"short-api")
when { principal has namespace && principal.namespace == "reports" };

@id("reports-agents-read-s3-reports")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"s3-reports")
when { principal has namespace && principal.namespace == "reports" };

@id("reports-admin-needs-approval")
@step_up("security-oncall")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"reports-admin")
when { principal has namespace && principal.namespace == "reports" };

@id("no-renewal-for-blocked")
forbid (principal, action == Action::"renew", resource)
when { principal has service_account && principal.service_account == "blocked-on-renew" };
`,
  'orders.cedar': ORDERS_POLICY,
  'guardrails.cedar': `@id("forbid-unattended-export")
forbid (principal, action, resource)
when { context.intent.actions.contains("reports:export") && !(context has on_behalf_of) };
`,
};

export interface CliBroker {
  url: string;
  process: BrokerProcess;
  issuer: TestIssuer;
  staffIssuer: TestIssuer;
  sts: FakeSts;
  target: TargetDatabase;
  /** The broker's own database, for assertions (leases, audit). */
  sql: postgres.Sql;
  /** A scratch directory for token files and the like, removed on close. */
  dir: string;
  agentToken(sub?: string, claims?: Record<string, unknown>): Promise<string>;
  staffToken(sub?: string, groups?: string[]): Promise<string>;
  /** Writes a fresh agent token to a file in `dir`; returns the path. */
  tokenFile(sub?: string, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startCliBroker(): Promise<CliBroker> {
  const database = await createEmptyDatabase();
  const issuer = await createTestIssuer({ alg: 'ES256', jwks: 'file' });
  const staffIssuer = await createTestIssuer({ alg: 'ES256', jwks: 'file', issuer: 'https://sso.cli.test' });
  const sts = await startFakeSts();
  const target = await createTargetDatabase();
  const dir = await mkdtemp(path.join(tmpdir(), 'jit-cli-'));
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
    staff: staffConfig(staffIssuer, { audience: STAFF_AUDIENCE, client_id: 'jit-broker-console' }),
    templates: TEMPLATES,
    schema: DEFAULT_SCHEMA,
    policies: POLICIES,
  });
  const broker = await spawnBroker({
    DATABASE_URL: database.url,
    POLICY_DIR: policyDir,
    DATA_DIR: path.join(dir, '.data'),
    BROKER_MASTER_KEY: randomBytes(32).toString('base64'),
    BROKER_ISSUER: 'https://broker.cli.test',
    TARGET_ORDERS_URL: target.url,
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_ACCESS_KEY_ID: 'AKIABROKERTESTKEY000',
    AWS_SECRET_ACCESS_KEY: 'broker-test-secret',
    AWS_REGION: 'eu-west-1',
    SWEEP_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'info',
  });
  await broker.waitForLog((l) => l.msg === 'jit-broker is ready');
  const sql = postgres(database.url, { max: 2, onnotice: () => {} });
  let files = 0;
  const agentToken = (sub = 'agent-reports', claims: Record<string, unknown> = {}) =>
    issuer.sign({
      sub,
      'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent' } },
      ...claims,
    });
  return {
    url: broker.url,
    process: broker,
    issuer,
    staffIssuer,
    sts,
    target,
    sql,
    dir,
    agentToken,
    staffToken: (sub = 'alice@example.com', groups = ['security-oncall']) =>
      staffIssuer.sign({ sub, aud: STAFF_AUDIENCE, groups }),
    tokenFile: async (sub, claims) => {
      const file = path.join(dir, `token-${files++}`);
      await writeFile(file, `${await agentToken(sub, claims)}\n`);
      return file;
    },
    close: async () => {
      await broker.stop();
      await sql.end({ timeout: 5 });
      await sts.close();
      await target.drop();
      await issuer.close();
      await staffIssuer.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
      await rm(policyDir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** The first stderr (or stdout) line matching, already written or yet to come. */
  waitFor(pattern: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number): Promise<string>;
  /** Exit code (128+signal when a signal ended it) and the whole output. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Runs `bin/jit-broker ARGS` with exactly PATH, HOME and `env`. */
export function startCli(args: string[], env: Record<string, string>): CliRun {
  const child = spawn(BROKER_LAUNCHER, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: env.HOME ?? process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  const waiters: { pattern: RegExp; stream: 'stdout' | 'stderr'; resolve: (line: string) => void }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    createInterface({ input: child[stream]! }).on('line', (line) => {
      lines[stream].push(line);
      for (const w of [...waiters]) {
        if (w.stream === stream && w.pattern.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
  }
  const closed = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) =>
      resolve({
        code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15),
        stdout: lines.stdout.join('\n'),
        stderr: lines.stderr.join('\n'),
      }),
    );
  });
  return {
    child,
    ...lines,
    done: closed,
    waitFor: (pattern, stream = 'stderr', timeoutMs = 30_000) => {
      const found = lines[stream].find((l) => pattern.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${stream} line matching ${pattern}\n${lines.stderr.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          stream,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void closed.then(() => {
          clearTimeout(timer);
          reject(
            new Error(`exited without a ${stream} line matching ${pattern}\n${lines.stderr.join('\n')}`),
          );
        });
      });
    },
  };
}

export function runCli(args: string[], env: Record<string, string>) {
  return startCli(args, env).done;
}

/** The lease row as the broker's database has it. */
export async function leaseRow(t: CliBroker, leaseId: string) {
  const [row] = await t.sql<
    { state: string; expires_at: Date }[]
  >`select state, expires_at from leases where id = ${leaseId}`;
  return row;
}

/** RFC 7662 at the broker, as a resource server would ask. */
export async function introspect(
  t: CliBroker,
  token: string,
): Promise<{ active: boolean; [k: string]: unknown }> {
  const res = await fetch(`${t.url}/v1/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  return (await res.json()) as { active: boolean };
}
