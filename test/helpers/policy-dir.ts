// Policy directories for tests: a minimal valid set (overridable piece by piece) or a copy of the
// example policies/ directory, each in a fresh temp directory.
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const EXAMPLE_POLICY_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

/** The issuer of the default broker.yaml; its JWKS is `jwks.json` in the policy dir. */
export const DEFAULT_ISSUER = {
  name: 'test',
  issuer: 'https://issuer.test.local',
  audience: 'jit-broker',
  jwks_file: './jwks.json',
  algorithms: ['ES256', 'EdDSA', 'RS256'],
  attributes: {
    namespace: ['kubernetes.io', 'namespace'],
    service_account: ['kubernetes.io', 'serviceaccount', 'name'],
  },
};

export const DEFAULT_TEMPLATES = {
  'test-api': {
    provider: 'jwt',
    audience: 'https://test-api.internal',
    scopes: ['test:read', 'test:write'],
    default_ttl: '5m',
    max_ttl: '15m',
  },
};

export const DEFAULT_SCHEMA = `
entity Agent = {
  issuer: String,
  namespace?: String,
  service_account?: String,
};
entity Template = { provider: String };
type Intent = {
  task_id: String,
  purpose: String,
  actions: Set<String>,
  resources: Set<String>,
  ttl_seconds: Long,
};
type RequestContext = {
  intent: Intent,
  on_behalf_of?: { sub: String, issuer: String },
  approved: Bool,
};
action mint, renew appliesTo { principal: Agent, resource: Template, context: RequestContext };
`;

export const DEFAULT_POLICIES: Record<string, string> = {
  'test.cedar': `// Agents in namespace "test" may use the test API.
@id("test-agents-use-test-api")
permit (principal, action in [Action::"mint", Action::"renew"], resource == Template::"test-api")
when { principal has namespace && principal.namespace == "test" };
`,
};

export interface PolicyDirOptions {
  /** The whole broker.yaml, as an object (serialized to YAML) or raw text. Overrides the parts below. */
  yaml?: object | string;
  /** Issuers of the default broker.yaml (default: [DEFAULT_ISSUER]). */
  issuers?: object[];
  /** `staff:` of the default broker.yaml (default: none). */
  staff?: object;
  /** `resource_servers:` of the default broker.yaml (default: none). */
  resourceServers?: object[];
  /** Templates of the default broker.yaml (default: DEFAULT_TEMPLATES). */
  templates?: Record<string, object>;
  /** `limits:` of the default broker.yaml (default: none, i.e. the broker's defaults). */
  limits?: object;
  schema?: string;
  /** File name → Cedar text (default: DEFAULT_POLICIES). */
  policies?: Record<string, string>;
  /** Other files written as given, e.g. a JWKS a jwks_file points at (default: an empty jwks.json). */
  files?: Record<string, string>;
}

/** Writes a policy directory into a fresh temp dir and returns its path. */
export async function writePolicyDir(opts: PolicyDirOptions = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jit-policies-'));
  await rewritePolicyDir(dir, opts);
  return dir;
}

/** Rewrites the files of an existing policy directory (for reload tests); other files are kept. */
export async function rewritePolicyDir(dir: string, opts: PolicyDirOptions = {}): Promise<void> {
  const yaml =
    opts.yaml ??
    ({
      issuers: opts.issuers ?? [DEFAULT_ISSUER],
      ...(opts.staff ? { staff: opts.staff } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.resourceServers ? { resource_servers: opts.resourceServers } : {}),
      templates: opts.templates ?? DEFAULT_TEMPLATES,
    } as object);
  const files: Record<string, string> = {
    'jwks.json': JSON.stringify({ keys: [] }),
    ...opts.files,
    'broker.yaml': typeof yaml === 'string' ? yaml : stringify(yaml),
    'schema.cedarschema': opts.schema ?? DEFAULT_SCHEMA,
    ...(opts.policies ?? DEFAULT_POLICIES),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
}

/**
 * Copies the example policies/ into `<tmp>/policies` and returns that path. The JWKS files its
 * jwks_file entries name (`../.data/dev-issuers/{workload,staff}.jwks.json`) are written too,
 * with no keys unless given; `devIssuersDir(dir)` is where they are.
 */
export async function copyExamplePolicies(jwks: { workload?: object; staff?: object } = {}): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'jit-example-'));
  const dir = path.join(root, 'policies');
  await cp(EXAMPLE_POLICY_DIR, dir, { recursive: true });
  await mkdir(devIssuersDir(dir), { recursive: true });
  await writeFile(
    path.join(devIssuersDir(dir), 'workload.jwks.json'),
    JSON.stringify(jwks.workload ?? { keys: [] }),
  );
  await writeFile(
    path.join(devIssuersDir(dir), 'staff.jwks.json'),
    JSON.stringify(jwks.staff ?? { keys: [] }),
  );
  return dir;
}

/** Where the example broker.yaml's jwks_file entries point, for a copy made by copyExamplePolicies. */
export function devIssuersDir(policyDir: string): string {
  return path.join(policyDir, '..', '.data', 'dev-issuers');
}
