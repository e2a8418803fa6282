// Shared by the decision cache tests: policy sets that each read a different part of the request,
// and a way to build evaluation inputs from a few plain fields.
import type { AttributeValue } from '../../src/identity/types.js';
import { type LoadPolicyDirOptions, loadPolicyDir } from '../../src/policy/load-policy-dir.js';
import type { EvaluationInput, PolicyAction, PolicySet } from '../../src/policy/policy-set.js';
import { DEFAULT_ISSUER, DEFAULT_TEMPLATES, writePolicyDir } from './policy-dir.js';

const SCHEMA = `
entity Agent = { issuer: String, namespace?: String, service_account?: String, level?: Long };
entity Template = { provider: String };
type Intent = { task_id: String, purpose: String, actions: Set<String>, resources: Set<String>, ttl_seconds: Long };
type RequestContext = { intent: Intent, on_behalf_of?: { sub: String, issuer: String }, approved: Bool };
action mint, renew appliesTo { principal: Agent, resource: Template, context: RequestContext };
`;

/** Each set reads something else; `principal` reads neither the task id nor the purpose. */
export const POLICY_SETS = {
  purpose: `
@id("deploys") @max_ttl("600")
permit (principal, action, resource == Template::"test-api") when { context.intent.purpose == "deploy" };
@id("no-drops") @reason("nothing is dropped")
forbid (principal, action, resource) when { context.intent.purpose like "*drop*" };
`,
  taskId: `
@id("jira-tasks")
permit (principal, action == Action::"mint", resource) when { context.intent.task_id like "JIRA-*" };
@id("ops-needs-approval") @step_up("oncall")
permit (principal, action, resource) when { context.intent.task_id like "OPS-*" };
`,
  wholeIntent: `
@id("the-one-intent")
permit (principal, action, resource)
when { context.intent == { task_id: "JIRA-1", purpose: "deploy", actions: ["test:read"], resources: ["db"], ttl_seconds: 300 } };
`,
  principal: `
@id("test-namespace-for-humans")
permit (principal, action, resource)
when { principal has namespace && principal.namespace == "test" && context has on_behalf_of };
@id("senior-agents") @step_up("leads") @approvals("2")
permit (principal, action == Action::"mint", resource == Template::"admin-api")
when { principal has level && principal.level >= 3 };
@id("no-unapproved-deployer")
forbid (principal, action, resource)
when { principal has service_account && principal.service_account == "deployer" } unless { context.approved };
`,
  ttl: `
@id("short") @max_ttl("600")
permit (principal, action, resource) when { context.intent.ttl_seconds <= 600 };
@id("issuer-test") @max_ttl("3600")
permit (principal, action, resource) when { principal.issuer == "test" };
@id("too-long")
forbid (principal, action, resource) when { context.intent.ttl_seconds > 3600 };
// Errors (Long overflow) above 3000 s: a forbid that errors denies, naming the values.
@id("overflows")
forbid (principal, action, resource)
when { context.intent.ttl_seconds > 3000 && context.intent.ttl_seconds * 4611686018427387904 == 0 };
`,
  entityLiteral: `
@id("bob-in-test")
permit (principal, action, resource) when { Agent::"bob" has namespace && Agent::"bob".namespace == "test" };
`,
} as const;

export type PolicySetName = keyof typeof POLICY_SETS;

const dirs = new Map<PolicySetName, Promise<string>>();

/** Loads one of POLICY_SETS (its directory is written once per test file). */
export function loadSet(name: PolicySetName, opts: LoadPolicyDirOptions = {}): Promise<PolicySet> {
  let dir = dirs.get(name);
  if (dir === undefined) {
    dir = writePolicyDir({
      issuers: [{ ...DEFAULT_ISSUER, attributes: { ...DEFAULT_ISSUER.attributes, level: 'level' } }],
      templates: {
        ...DEFAULT_TEMPLATES,
        'admin-api': { ...DEFAULT_TEMPLATES['test-api'], audience: 'https://admin.internal' },
      },
      schema: SCHEMA,
      policies: { 'policies.cedar': POLICY_SETS[name] },
    });
    dirs.set(name, dir);
  }
  return dir.then((d) => loadPolicyDir(d, opts));
}

export interface RequestFields {
  subject?: string;
  issuer?: string;
  attributes?: Record<string, AttributeValue>;
  action?: PolicyAction;
  template?: string;
  taskId?: string;
  purpose?: string;
  actions?: string[];
  resources?: string[];
  ttlSeconds?: number;
  approved?: boolean;
  onBehalfOf?: { sub: string; issuer: string } | undefined;
}

export function requestFor(set: PolicySet, fields: RequestFields = {}): EvaluationInput {
  return {
    action: fields.action ?? 'mint',
    identity: {
      subject: fields.subject ?? 'alice',
      issuer: fields.issuer ?? 'test',
      attributes: fields.attributes ?? { namespace: 'test' },
      expiresAt: new Date(0),
    },
    // A name the set does not configure keeps the test-api body (the evaluator refuses it by name).
    template: set.templates.get(fields.template ?? 'test-api') ?? {
      ...set.templates.get('test-api')!,
      name: fields.template!,
    },
    intent: {
      taskId: fields.taskId ?? 'JIRA-1',
      purpose: fields.purpose ?? 'deploy',
      actions: fields.actions ?? ['test:read'],
      resources: fields.resources ?? ['db'],
    },
    ttlSeconds: fields.ttlSeconds ?? 300,
    onBehalfOf: fields.onBehalfOf,
    approved: fields.approved ?? false,
  };
}
