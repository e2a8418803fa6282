// Loads POLICY_DIR (broker.yaml, schema.cedarschema, *.cedar) into a PolicySet, or refuses it with
// every problem found, each naming the file (and line or path inside it). Used at start-up and by
// PolicyStore.reload(); nothing is half-loaded: a set is either complete and validated or absent.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { preparsePolicySet } from '@cedar-policy/cedar-wasm/nodejs';
import { type Clock, systemClock } from '../clock.js';
import type { BrokerYaml } from '../policy-config/broker-yaml.js';
import type { Template } from '../providers/templates.js';
import { createEvaluator } from './cedar-evaluator.js';
import { checkMappedAttributes, type ParsedSchema, parseSchema } from './cedar-schema.js';
import { SourceFile } from './cedar-source.js';
import type { PermitObligations } from './obligations.js';
import { policyReads } from './policy-reads.js';
import type { PolicySet } from './policy-set.js';
import { readBrokerYaml } from './read-broker-yaml.js';
import { type LoadedPolicy, readPolicies, validatePolicies } from './read-cedar-policies.js';

export const BROKER_YAML = 'broker.yaml';
export const SCHEMA_FILE = 'schema.cedarschema';

export interface LoadPolicyDirOptions {
  /** Provider checks per template (e.g. TARGET_<NAME>_URL is set); problems name the template. */
  checkTemplate?: (template: Template) => string[];
  /** Checks that need the whole set (e.g. that jwks_file files exist); run last. */
  extraChecks?: (set: PolicySet) => Promise<string[]>;
  clock?: Clock;
  /** Most Cedar decisions the set caches (DECISION_CACHE_SIZE); default 0, no cache. */
  decisionCacheSize?: number;
  /** Told of every decision cache lookup, whether it hit. */
  onDecisionCacheLookup?: (hit: boolean) => void;
}

export class PolicyLoadError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyLoadError';
    this.problems = problems;
  }
}

export async function loadPolicyDir(dir: string, opts: LoadPolicyDirOptions = {}): Promise<PolicySet> {
  const absDir = path.resolve(dir);
  const label = displayPath(absDir);
  const files = await readPolicyFiles(absDir, label);
  const textOf = (name: string) =>
    files
      .get(name)
      ?.toString('utf8')
      .replace(/^\uFEFF/, '');
  const problems: string[] = [];
  const fileLabel = (name: string) => path.join(label, name);

  const yamlLabel = fileLabel(BROKER_YAML);
  const yamlText = textOf(BROKER_YAML);
  const { config, problems: yamlProblems } =
    yamlText === undefined
      ? { config: undefined, problems: [`${yamlLabel}: missing`] }
      : readBrokerYaml(yamlLabel, yamlText);
  problems.push(...yamlProblems);
  const templates = new Map<string, Template>();
  for (const [name, body] of Object.entries(config?.templates ?? {})) templates.set(name, { ...body, name });
  if (opts.checkTemplate) {
    for (const t of templates.values()) {
      for (const p of opts.checkTemplate(t)) problems.push(`${yamlLabel}: templates.${t.name}: ${p}`);
    }
  }

  const schemaText = textOf(SCHEMA_FILE);
  let schema: ParsedSchema | undefined;
  if (schemaText === undefined) problems.push(`${fileLabel(SCHEMA_FILE)}: missing`);
  else {
    const parsed = parseSchema(new SourceFile(fileLabel(SCHEMA_FILE), schemaText));
    schema = parsed.schema;
    problems.push(...parsed.problems);
  }
  if (schema && config) problems.push(...checkMappedAttributes(schema, config.issuers, yamlLabel));

  const cedarNames = [...files.keys()].filter((n) => n.endsWith('.cedar')).sort();
  const policies: LoadedPolicy[] = [];
  for (const name of cedarNames) {
    const file = new SourceFile(fileLabel(name), textOf(name)!);
    readPolicies(file, policies, config && templates, problems);
  }
  if (cedarNames.length === 0) problems.push(`${label}: no *.cedar policy files`);

  const staticPolicies: Record<string, string> = {};
  for (const p of policies) staticPolicies[p.id] = p.text;
  if (schema && policies.length > 0) problems.push(...validatePolicies(schema, staticPolicies, policies));
  if (problems.length > 0 || !config || !schema) throw new PolicyLoadError(problems);

  const version = versionOf(files);
  // The version names the preparsed set: identical files always preparse to identical policies,
  // so a reload of unchanged files may reuse (overwrite) the same cache entry safely.
  const preparsed = preparsePolicySet(version, { staticPolicies });
  if (preparsed.type === 'failure')
    throw new PolicyLoadError(preparsed.errors.map((e) => `${label}: ${e.message}`));

  const set = buildSet({
    absDir,
    version,
    config,
    templates,
    schema,
    policies,
    clock: opts.clock ?? systemClock,
    decisionCacheSize: opts.decisionCacheSize ?? 0,
    onDecisionCacheLookup: opts.onDecisionCacheLookup,
  });
  if (opts.extraChecks) {
    const extra = await opts
      .extraChecks(set)
      .catch((error: unknown) => [`${label}: ${error instanceof Error ? error.message : String(error)}`]);
    if (extra.length > 0) throw new PolicyLoadError(extra);
  }
  return set;
}

/** Reads broker.yaml, the schema and every *.cedar file (dotfiles, e.g. editor swap files, skipped). */
async function readPolicyFiles(absDir: string, label: string): Promise<Map<string, Buffer>> {
  let names: string[];
  try {
    names = await readdir(absDir);
  } catch (error) {
    throw new PolicyLoadError([`${label}: cannot read the policy directory (${errorCode(error)})`]);
  }
  const wanted = names.filter(
    (n) => n === BROKER_YAML || n === SCHEMA_FILE || (n.endsWith('.cedar') && !n.startsWith('.')),
  );
  const files = new Map<string, Buffer>();
  const problems: string[] = [];
  for (const name of wanted.sort()) {
    try {
      files.set(name, await readFile(path.join(absDir, name)));
    } catch (error) {
      problems.push(`${path.join(label, name)}: cannot read (${errorCode(error)})`);
    }
  }
  if (problems.length > 0) throw new PolicyLoadError(problems);
  return files;
}

function buildSet(input: {
  absDir: string;
  version: string;
  config: BrokerYaml;
  templates: Map<string, Template>;
  schema: ParsedSchema;
  policies: LoadedPolicy[];
  clock: Clock;
  decisionCacheSize: number;
  onDecisionCacheLookup: ((hit: boolean) => void) | undefined;
}): PolicySet {
  const { config, templates, policies, version } = input;
  const permits = new Map<string, PermitObligations>();
  const forbids = new Map<string, string>();
  for (const p of policies) {
    if (p.effect === 'permit' && p.obligations) permits.set(p.id, p.obligations);
    if (p.effect === 'forbid')
      forbids.set(p.id, `forbidden by policy "${p.id}"${p.reason ? `: ${p.reason}` : ''}`);
  }
  const evaluator = createEvaluator({
    version,
    permits,
    forbids,
    templates,
    issuers: config.issuers,
    schema: input.schema,
    reads: policyReads(policies.map((p) => p.text)),
    cacheSize: input.decisionCacheSize,
    onCacheLookup: input.onDecisionCacheLookup,
  });
  return Object.freeze({
    version,
    dir: input.absDir,
    loadedAt: input.clock.now(),
    config,
    issuers: config.issuers,
    staff: config.staff,
    templates,
    policyIds: Object.freeze(policies.map((p) => p.id)),
    evaluate: evaluator.evaluate,
    decisionCache: evaluator.cache,
  });
}

/** sha256 over the files the set is made of: name and content, length-prefixed, in name order. */
export function versionOf(files: ReadonlyMap<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const name of [...files.keys()].sort()) {
    const bytes = files.get(name)!;
    hash.update(`${Buffer.byteLength(name)}:${name}\0${bytes.length}:`).update(bytes);
  }
  return hash.digest('hex');
}

function displayPath(absDir: string): string {
  const relative = path.relative(process.cwd(), absDir);
  if (relative === '') return '.';
  return relative.startsWith('..') || path.isAbsolute(relative) ? absDir : relative;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
