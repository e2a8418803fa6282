// The *.cedar files of a policy directory: each policy named by its @id, its annotations read
// as obligations, its template references and schema conformance checked, every problem located
// as `file:line: problem`.
import {
  checkParsePolicySet,
  type PolicyJson,
  policySetTextToParts,
  policyToJson,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { Template } from '../providers/templates.js';
import type { ParsedSchema } from './cedar-schema.js';
import { type SourceFile, splitPolicies } from './cedar-source.js';
import { type Annotations, type PermitObligations, readObligations } from './obligations.js';

/** Ids appear in 403 bodies, the audit log and metrics labels: keep them plain. */
const POLICY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export interface LoadedPolicy {
  id: string;
  file: SourceFile;
  /** Character offset of the policy's first token in its file; Cedar's offsets are relative to it. */
  start: number;
  line: number;
  /** The policy's own text, handed to Cedar under its id. */
  text: string;
  effect: 'permit' | 'forbid';
  reason: string | null | undefined;
  obligations: PermitObligations | undefined;
}

/** Reads one file's policies into `into` (load order), reporting problems into `problems`. */
export function readPolicies(
  file: SourceFile,
  into: LoadedPolicy[],
  templates: ReadonlyMap<string, Template> | undefined,
  problems: string[],
): void {
  const parsed = checkParsePolicySet({ staticPolicies: file.text });
  if (parsed.type === 'failure') {
    problems.push(...parsed.errors.map((e) => file.describe(e)));
    return;
  }
  const parts = policySetTextToParts(file.text);
  if (parts.type === 'failure' || parts.policy_templates.length > 0) {
    problems.push(`${file.label}: policy templates (with ?principal or ?resource slots) are not supported`);
    return;
  }
  const spans = splitPolicies(file);
  if (spans.length !== parts.policies.length) {
    problems.push(`${file.label}: could not split the file into its ${parts.policies.length} policies`);
    return;
  }
  for (const span of spans) {
    const at = `${file.label}:${span.line}: `;
    const text = file.text.slice(span.start, span.end);
    const json = policyToJson(text);
    if (json.type === 'failure') {
      problems.push(...json.errors.map((e) => file.describe(e, span.start, span.line)));
      continue;
    }
    const annotations: Annotations = json.json.annotations ?? {};
    const id = annotations.id;
    if (id === undefined || id === null || id === '') {
      problems.push(`${at}policy has no @id("...") annotation (every policy needs a unique id)`);
      continue;
    }
    if (!POLICY_ID.test(id))
      problems.push(`${at}@id("${id}") must be letters, digits, _ . : - (at most 128)`);
    const first = into.find((p) => p.id === id);
    if (first)
      problems.push(`${at}duplicate @id("${id}") (first defined at ${first.file.label}:${first.line})`);
    const { effect } = json.json;
    const read = readObligations(effect, annotations, into.length);
    problems.push(...read.problems.map((p) => at + p));
    for (const ref of templates ? templateRefs(json.json) : []) {
      if (!templates?.has(ref)) problems.push(`${at}Template::"${ref}" is not a template in broker.yaml`);
    }
    if (first) continue;
    const { start, line } = span;
    into.push({
      id,
      file,
      start,
      line,
      text,
      effect,
      reason: annotations.reason,
      obligations: read.obligations,
    });
  }
}

/** Strict Cedar validation of the whole set against the schema. */
export function validatePolicies(
  schema: ParsedSchema,
  staticPolicies: Record<string, string>,
  policies: LoadedPolicy[],
): string[] {
  const answer = validate({ schema: schema.text, policies: { staticPolicies } });
  if (answer.type === 'failure') return answer.errors.map((e) => `${schema.label}: ${e.message}`);
  // Warnings are refused too: Cedar warns about policies that can never match (a misspelt
  // attribute behind `has`, which would make a forbid silently inert) and about confusable or
  // bidirectional characters that make a policy read differently from how it evaluates.
  const found = [...answer.validationErrors, ...answer.validationWarnings].map(({ policyId, error }) => {
    const order = policies.findIndex((p) => p.id === policyId);
    const policy = policies[order];
    // Offsets of a validation error are relative to the policy's own text.
    const text = policy
      ? policy.file.describe(error, policy.start, policy.line)
      : `${policyId}: ${error.message}`;
    return { order, text };
  });
  // Cedar reports in no particular order; operators read files top to bottom.
  return found.sort((a, b) => a.order - b.order).map((f) => f.text);
}

/** Every `Template::"<name>"` a policy mentions, so a misspelt name fails at load, not silently. */
function templateRefs(json: PolicyJson): string[] {
  const refs: string[] = [];
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    const record = node as Record<string, unknown>;
    if (record.type === 'Template' && typeof record.id === 'string') refs.push(record.id);
    for (const value of Object.values(record)) walk(value);
  };
  walk(json.principal);
  walk(json.resource);
  walk(json.conditions);
  return refs;
}
