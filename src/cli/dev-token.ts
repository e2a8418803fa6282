// `jit-broker dev token` (`npm run dev:token`): prints a token from the local development issuers
// (workload by default, staff with --staff) so the quick start can call the broker. Only the token
// goes to stdout.
// Keys from DATA_DIR (the broker's banner prints the DATA_DIR whose keys its policies trust).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../config.js';
import { type DevIssuerKind, signDevToken } from '../identity/dev-issuers.js';
import { devStaffIdpPort } from '../identity/dev-staff-idp/dev-staff-idp.js';
import { readBrokerYaml } from '../policy/read-broker-yaml.js';

export const DEV_TOKEN_USAGE = `usage: jit-broker dev token [--staff] [--sub <subject>] [--groups a,b] [--ttl <seconds>] [--claim key=value]...
  workload token (default): sub agent-reports, claim kubernetes.io = {namespace: reports, serviceaccount: {name: reports-agent}}
  --staff: staff token, sub alice@example.com, groups security-oncall
  --claim: repeatable; the value is parsed as JSON when it parses (--claim 'kubernetes.io={"namespace":"billing"}')`;

const RESERVED_CLAIMS = new Set(['iss', 'aud', 'sub', 'iat', 'exp', 'nbf', 'jti']);

interface DevTokenRequest {
  kind: DevIssuerKind;
  sub: string;
  ttlSeconds: number;
  claims: Record<string, unknown>;
}

class UsageError extends Error {}

function parseDevTokenArgs(argv: readonly string[]): DevTokenRequest | 'help' {
  try {
    return parseOrThrow(argv);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseOrThrow(argv: readonly string[]): DevTokenRequest | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      staff: { type: 'boolean', default: false },
      sub: { type: 'string' },
      groups: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      claim: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (!/^\d+$/.test(values.ttl) || Number(values.ttl) <= 0) {
    throw new Error('--ttl must be a positive number of seconds');
  }
  if (values.groups !== undefined && !values.staff) {
    throw new Error('--groups applies to staff tokens; add --staff');
  }

  const defaults: Record<string, unknown> = values.staff
    ? {
        groups: (values.groups ?? 'security-oncall')
          .split(',')
          .map((g) => g.trim())
          .filter(Boolean),
      }
    : { 'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent' } } };
  // fromEntries defines own properties: a `__proto__=…` claim stays a claim.
  const claims = Object.fromEntries([...Object.entries(defaults), ...values.claim.map(splitClaim)]);
  const sub = values.sub ?? (values.staff ? 'alice@example.com' : 'agent-reports');
  if (values.staff && sub.includes('@') && claims.email === undefined) claims.email = sub;
  return { kind: values.staff ? 'staff' : 'workload', sub, ttlSeconds: Number(values.ttl), claims };
}

function splitClaim(pair: string): [string, unknown] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new Error(`--claim ${pair}: expected key=value`);
  const key = pair.slice(0, at);
  if (RESERVED_CLAIMS.has(key)) throw new Error(`--claim ${key}: set by the dev issuer (use --sub or --ttl)`);
  const raw = pair.slice(at + 1);
  try {
    return [key, JSON.parse(raw)];
  } catch {
    return [key, raw];
  }
}

/** The whole command; returns the exit code. */
export async function runDevToken(argv: readonly string[]): Promise<number> {
  try {
    const request = parseDevTokenArgs(argv);
    if (request === 'help') {
      process.stderr.write(`${DEV_TOKEN_USAGE}\n`);
      return 0;
    }
    const source = await devTokenSource(loadConfig(), request.kind);
    const token = await signDevToken({ ...source, ...request });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `dev-token: ${message}\n${error instanceof UsageError ? `${DEV_TOKEN_USAGE}\n` : ''}`,
    );
    return 1;
  }
}

/**
 * DATA_DIR's key; for a staff token, the issuer of POLICY_DIR's development staff IdP when
 * broker.yaml names one (its port may differ from the example's).
 */
async function devTokenSource(
  config: Config,
  kind: DevIssuerKind,
): Promise<{ dataDir: string; issuer?: string }> {
  if (kind !== 'staff') return { dataDir: config.dataDir };
  const file = path.join(config.policyDir, 'broker.yaml');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const issuer = text === undefined ? undefined : readBrokerYaml(file, text).config?.staff?.issuer;
  return issuer !== undefined && devStaffIdpPort(issuer) !== undefined
    ? { dataDir: config.dataDir, issuer }
    : { dataDir: config.dataDir };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await runDevToken(process.argv.slice(2));
}
