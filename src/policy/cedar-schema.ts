// schema.cedarschema: parsed at load, checked against what the broker sends to Cedar (the Agent
// and Template entities, the request context), and compiled into the cheap per-request checks
// that let evaluation run without the schema (see cedar-evaluator.ts for why).
import {
  type Context,
  type EntityJson,
  isAuthorized,
  type SchemaJson,
  schemaToJsonWithResolvedTypes,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { AttributeValue } from '../identity/types.js';
import type { IssuerConfig } from '../policy-config/broker-yaml.js';
import type { SourceFile } from './cedar-source.js';

/** A schema type reduced to what a claim can carry. */
export type ClaimType =
  | { kind: 'String' | 'Long' | 'Bool' }
  | { kind: 'Set'; element: ClaimType }
  | { kind: 'Record'; attributes: Map<string, { type: ClaimType; required: boolean }> };

export interface ParsedSchema {
  /** The file as problems name it. */
  label: string;
  text: string;
  /** Optional Agent attributes by name (every attribute but `issuer`). */
  agentAttributes: Map<string, ClaimType>;
  /** Action entities with their groups; empty when the schema declares no action groups. */
  actionEntities: EntityJson[];
  /**
   * Whether the request context may carry `delegation` (a delegated token exchange). A schema
   * without it still loads; a delegated request evaluated against it is denied, with that reason.
   */
  acceptsDelegation: boolean;
}

type RawType = {
  type: string;
  element?: RawType;
  attributes?: Record<string, RawType & { required?: boolean }>;
};
type Namespace = SchemaJson<string>[string];

export function parseSchema(file: SourceFile): { schema: ParsedSchema | undefined; problems: string[] } {
  // validate() with no policies reports schema errors with usable source offsets (schemaToJson's
  // offsets are not always relative to the file).
  const checked = validate({ schema: file.text, policies: { staticPolicies: {} } });
  if (checked.type === 'failure')
    return { schema: undefined, problems: checked.errors.map((e) => file.describe(e)) };
  const resolved = schemaToJsonWithResolvedTypes(file.text);
  if (resolved.type === 'failure')
    return { schema: undefined, problems: resolved.errors.map((e) => file.describe(e)) };

  const problems: string[] = [];
  const ns = resolved.json[''];
  const at = (what: string) => `${file.label}: ${what}`;
  if (ns === undefined)
    return {
      schema: undefined,
      problems: [at('declare Agent, Template, mint and renew outside any namespace')],
    };

  const agent = shapeOf(ns, 'Agent');
  const template = shapeOf(ns, 'Template');
  if (agent === undefined) problems.push(at('entity Agent is missing (the principal of every request)'));
  if (template === undefined) problems.push(at('entity Template is missing (the resource of every request)'));
  for (const action of ['mint', 'renew'])
    if (!(action in ns.actions)) problems.push(at(`action ${action} is missing`));

  const agentAttributes = new Map<string, ClaimType>();
  for (const [name, raw] of Object.entries(agent?.attributes ?? {})) {
    if (name === 'issuer') {
      if (resolve(ns, raw)?.kind !== 'String' || raw.required === false) {
        problems.push(at('Agent.issuer must be a required String (the configured issuer name)'));
      }
      continue;
    }
    const type = resolve(ns, raw);
    if (type === undefined)
      problems.push(at(`Agent.${name}: only String, Long, Bool, Set and record types can come from claims`));
    else if (raw.required !== false)
      problems.push(at(`Agent.${name} must be optional (${name}?: ...): not every token carries it`));
    else agentAttributes.set(name, type);
  }
  if (agent !== undefined && !('issuer' in (agent.attributes ?? {})))
    problems.push(at('Agent needs the attribute issuer: String'));
  if (
    template !== undefined &&
    resolve(ns, template.attributes?.provider ?? { type: '' })?.kind !== 'String'
  ) {
    problems.push(at('Template needs the attribute provider: String'));
  }
  if (problems.length > 0) return { schema: undefined, problems };

  const schema: ParsedSchema = {
    label: file.label,
    text: file.text,
    agentAttributes,
    actionEntities: actionEntitiesOf(ns),
    acceptsDelegation: false,
  };
  problems.push(...probeRequestShape(schema, BASE_CONTEXTS).map(at));
  schema.acceptsDelegation = probeRequestShape(schema, [DELEGATED_CONTEXT]).length === 0;
  return { schema: problems.length > 0 ? undefined : schema, problems };
}

/** Every attribute an issuer maps must be declared on Agent, or policies could never see it. */
export function checkMappedAttributes(
  schema: ParsedSchema,
  issuers: readonly IssuerConfig[],
  yamlLabel: string,
): string[] {
  const problems: string[] = [];
  issuers.forEach((issuer, index) => {
    for (const name of Object.keys(issuer.attributes)) {
      if (!schema.agentAttributes.has(name)) {
        problems.push(
          `${yamlLabel}: issuers.${index}.attributes.${name}: not declared on entity Agent in schema.cedarschema`,
        );
      }
    }
  });
  return problems;
}

function shapeOf(ns: Namespace, name: string): RawType | undefined {
  const entity = ns.entityTypes[name] as { shape?: RawType } | undefined;
  if (entity === undefined) return undefined;
  return entity.shape ?? { type: 'Record', attributes: {} };
}

function resolve(ns: Namespace, raw: RawType, depth = 0): ClaimType | undefined {
  if (depth > 32) return undefined;
  const name = raw.type.replace(/^__cedar::/, '');
  switch (name) {
    case 'String':
    case 'Long':
    case 'Bool':
      return { kind: name };
    case 'Boolean':
      return { kind: 'Bool' };
    case 'Set': {
      const element = raw.element && resolve(ns, raw.element, depth + 1);
      return element && { kind: 'Set', element };
    }
    case 'Record': {
      const attributes = new Map<string, { type: ClaimType; required: boolean }>();
      for (const [key, value] of Object.entries(raw.attributes ?? {})) {
        const type = resolve(ns, value, depth + 1);
        if (type === undefined) return undefined;
        attributes.set(key, { type, required: value.required !== false });
      }
      return { kind: 'Record', attributes };
    }
    default: {
      const common = ns.commonTypes?.[name] as RawType | undefined;
      return common && resolve(ns, common, depth + 1);
    }
  }
}

function actionEntitiesOf(ns: Namespace): EntityJson[] {
  const actions = Object.entries(ns.actions);
  if (actions.every(([, a]) => (a.memberOf ?? []).length === 0)) return [];
  return actions.map(([id, a]) => ({
    uid: { type: 'Action', id },
    attrs: {},
    parents: (a.memberOf ?? []).map((p) => ({ type: p.type ?? 'Action', id: p.id })),
  }));
}

/**
 * Asks Cedar, with the schema, whether it accepts the exact request shape the evaluator sends, so
 * a schema whose context or entities do not match fails at load rather than denying every request.
 */
const PROBE_INTENT = { task_id: 't', purpose: 'p', actions: ['a'], resources: ['r'], ttl_seconds: 60 };
const BASE_CONTEXTS: Context[] = [
  { intent: PROBE_INTENT, approved: false },
  { intent: PROBE_INTENT, approved: true, on_behalf_of: { sub: 'human', issuer: 'https://idp' } },
];
const DELEGATED_CONTEXT: Context = {
  intent: PROBE_INTENT,
  approved: false,
  delegation: { depth: 1, chain: ['parent', 'probe'], parent_lease: '00000000-0000-0000-0000-000000000000' },
};

function probeRequestShape(schema: ParsedSchema, contexts: Context[]): string[] {
  const problems = new Set<string>();
  for (const action of ['mint', 'renew']) {
    for (const context of contexts) {
      const answer = isAuthorized({
        principal: { type: 'Agent', id: 'probe' },
        action: { type: 'Action', id: action },
        resource: { type: 'Template', id: 'probe' },
        context,
        schema: schema.text,
        validateRequest: true,
        policies: { staticPolicies: {} },
        entities: [
          { uid: { type: 'Agent', id: 'probe' }, attrs: { issuer: 'probe' }, parents: [] },
          { uid: { type: 'Template', id: 'probe' }, attrs: { provider: 'jwt' }, parents: [] },
        ],
      });
      if (answer.type === 'failure') {
        for (const e of answer.errors)
          problems.add(`action ${action} does not accept the broker's request: ${e.message}`);
      }
    }
  }
  return [...problems];
}

const ESCAPE_KEYS = ['__entity', '__extn', '__expr'];

/**
 * Checks a claim-mapped value against its declared type and returns what Cedar should see:
 * the value itself when it conforms (no copy), a record reduced to its declared attributes, or
 * `undefined` when it does not conform. Records lose undeclared fields because Cedar's JSON reads
 * `__entity`/`__extn` keys as escapes and rejects `null` and fractions anywhere in a value.
 */
export function conform(value: AttributeValue, type: ClaimType): AttributeValue | undefined {
  switch (type.kind) {
    case 'String':
      return typeof value === 'string' ? value : undefined;
    case 'Bool':
      return typeof value === 'boolean' ? value : undefined;
    case 'Long':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
    case 'Set': {
      if (!Array.isArray(value)) return undefined;
      let out: AttributeValue[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const element = conform(value[i]!, type.element);
        if (element === undefined) return undefined;
        if (element !== value[i]) out ??= value.slice(0, i);
        out?.push(element);
      }
      return out ?? value;
    }
    case 'Record': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      if (ESCAPE_KEYS.some((k) => k in value)) return undefined;
      const out: Record<string, AttributeValue> = {};
      for (const [key, attr] of type.attributes) {
        const field = value[key];
        if (field === undefined || field === null) {
          if (attr.required) return undefined;
          continue;
        }
        const conformed = conform(field, attr.type);
        if (conformed === undefined) return undefined;
        out[key] = conformed;
      }
      return out;
    }
  }
}
