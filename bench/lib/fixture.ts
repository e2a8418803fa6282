// What the broker under test trusts: a bench workload issuer and a bench staff IdP (real ES256 key
// pairs whose public JWKS are files in the policy directory), and a copy of the example policies
// with those issuers. Tokens are pre-signed here, in the runner, never by the broker under load.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { parse, stringify } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLE_POLICY_DIR = path.join(ROOT, 'policies');

export const BENCH_ISSUER = 'https://bench-issuer.jit-broker.local';
export const BENCH_AUDIENCE = 'jit-broker';
export const BENCH_STAFF_ISSUER = 'https://bench-sso.jit-broker.local';
export const BENCH_STAFF_AUDIENCE = 'jit-broker-console';

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwks: string;
}

async function newSigner(): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, jwks: JSON.stringify({ keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] }) };
}

export interface BenchFixture {
  /** Root of the temporary files (policy dir, data dirs, logs); removed by close(). */
  dir: string;
  policyDir: string;
  /** A workload token of agent `bench-agent-<index>` (namespace reports), valid for two hours. */
  agentToken(index: number): Promise<string>;
  /** A staff token of `bench-staff` in group security-oncall. */
  staffToken(): Promise<string>;
  close(): Promise<void>;
}

export async function createFixture(): Promise<BenchFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jit-bench-'));
  const policyDir = path.join(dir, 'policies');
  await cp(EXAMPLE_POLICY_DIR, policyDir, { recursive: true });
  const workload = await newSigner();
  const staff = await newSigner();
  await writeFile(path.join(policyDir, 'bench-workload.jwks.json'), workload.jwks);
  await writeFile(path.join(policyDir, 'bench-staff.jwks.json'), staff.jwks);

  // The example templates and Cedar policies, trusting the bench issuers instead of the dev ones.
  const yaml = parse(await readFile(path.join(policyDir, 'broker.yaml'), 'utf8')) as Record<string, unknown>;
  yaml.issuers = [
    {
      name: 'bench',
      issuer: BENCH_ISSUER,
      audience: BENCH_AUDIENCE,
      jwks_file: './bench-workload.jwks.json',
      algorithms: ['ES256'],
      attributes: {
        namespace: ['kubernetes.io', 'namespace'],
        service_account: ['kubernetes.io', 'serviceaccount', 'name'],
      },
    },
  ];
  yaml.staff = {
    ...(yaml.staff as object),
    issuer: BENCH_STAFF_ISSUER,
    audience: BENCH_STAFF_AUDIENCE,
    jwks_file: './bench-staff.jwks.json',
    algorithms: ['ES256'],
  };
  // A second template of each kind the load uses, so requests spread over templates as real
  // traffic does (a second privilege group on the target, a second audience).
  yaml.templates = {
    ...(yaml.templates as object),
    'bench-reports-eu': {
      provider: 'jwt',
      audience: 'https://reports-eu.internal',
      scopes: ['reports:read'],
      default_ttl: '5m',
      max_ttl: '15m',
    },
    'bench-customers-read': {
      provider: 'postgres',
      target: 'orders',
      privileges: { SELECT: ['public.customers'] },
      default_ttl: '5m',
      max_ttl: '30m',
    },
  };
  // Eight agents hold a whole run's leases (tens of thousands each, with long TTLs): far past the
  // default cap of 10,000 live leases per agent, which is there to stop one runaway agent.
  yaml.limits = { live_leases_per_agent: 1_000_000 };
  await writeFile(path.join(policyDir, 'broker.yaml'), stringify(yaml));
  await writeFile(
    path.join(policyDir, 'bench.cedar'),
    `@id("bench-reports-agents-eu")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"bench-reports-eu")
when { principal has namespace && principal.namespace == "reports" };

@id("bench-reports-agents-customers")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"bench-customers-read")
when { principal has namespace && principal.namespace == "reports" };
`,
  );

  const sign = (signer: Signer, claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iat: now, exp: now + 7200, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: 'JWT' })
      .sign(signer.privateKey);
  };

  return {
    dir,
    policyDir,
    agentToken: (index) =>
      sign(workload, {
        iss: BENCH_ISSUER,
        aud: BENCH_AUDIENCE,
        sub: `bench-agent-${index}`,
        'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent' } },
      }),
    staffToken: () =>
      sign(staff, {
        iss: BENCH_STAFF_ISSUER,
        aud: BENCH_STAFF_AUDIENCE,
        sub: 'bench-staff',
        groups: ['security-oncall'],
      }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
