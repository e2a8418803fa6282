// Runs one request through the preparsed Cedar policy set and turns Cedar's answer into a
// Decision. This is on every request's path: entities that never change (templates, actions) are
// built once at load, answers are cached (decision-cache.ts), and nothing here throws; a failure
// is a deny with its reason.

import { type Context, type EntityJson, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { toIntentWire } from '../core/intent.js';
import type { AttributeValue } from '../identity/types.js';
import type { IssuerConfig } from '../policy-config/broker-yaml.js';
import type { Template } from '../providers/templates.js';
import { conform, type ParsedSchema } from './cedar-schema.js';
import type { Decision } from './decision.js';
import { DecisionCache, type DecisionCacheStats } from './decision-cache.js';
import { combineObligations, type PermitObligations } from './obligations.js';
import type { PolicyReads } from './policy-reads.js';
import type { EvaluationInput } from './policy-set.js';

export interface EvaluatorConfig {
  /** Id of the preparsed policy set (the policy version). */
  version: string;
  /** Permit ids with their obligations. */
  permits: ReadonlyMap<string, PermitObligations>;
  /** Forbid ids with the reason a deny names (`forbidden by policy "<id>"`, plus its `@reason`). */
  forbids: ReadonlyMap<string, string>;
  templates: ReadonlyMap<string, Template>;
  issuers: readonly IssuerConfig[];
  schema: ParsedSchema;
  /** What the policies read (policyReads() of every policy of the set): the cache key. */
  reads: PolicyReads;
  /** Most decisions cached; 0 turns the cache off. */
  cacheSize: number;
  /** Told of every cache lookup (metrics). */
  onCacheLookup?: ((hit: boolean) => void) | undefined;
}

export interface Evaluator {
  evaluate(input: EvaluationInput): Decision;
  readonly cache: DecisionCacheStats;
}

const NO_PERMIT = 'no permit policy matched';
export const DELEGATION_UNDECLARED =
  'delegated requests are refused: schema.cedarschema does not declare context.delegation';

/*
 * Why Cedar runs without the schema here (no preparsedSchemaName / validateRequest): every policy
 * was validated against the schema at load, and the loader proved (by a probe request) that the
 * schema accepts the exact context and entity shapes built below. What remains untyped are the
 * claim-mapped Agent attributes, and those are checked in JS against the declared types
 * (conform()), which is cheaper than Cedar's request validation (~25% of a call measured) and lets
 * an extra claim field in a record be dropped instead of failing the whole request. An agent
 * whose claim has the wrong type is denied with a reason; a forbid that errors at run time denies
 * (Cedar would skip it: fail-open for a guardrail is not acceptable).
 */
export function createEvaluator(config: EvaluatorConfig): Evaluator {
  const { version, permits, forbids, schema } = config;
  // One cache per evaluator, so per policy set: a reload starts with an empty one.
  const cache = new DecisionCache(config.cacheSize, config.reads, config.onCacheLookup);
  const caching = cache.capacity > 0;
  const issuerNames = new Set(config.issuers.map((i) => i.name));
  const templateEntities = new Map<string, EntityJson>();
  for (const [name, t] of config.templates) {
    templateEntities.set(name, {
      uid: { type: 'Template', id: name },
      attrs: { provider: t.provider },
      parents: [],
    });
  }
  const actionUids = {
    mint: { type: 'Action', id: 'mint' },
    renew: { type: 'Action', id: 'renew' },
  } as const;
  const deny = (policies: string[], reasons: string[]): Decision => ({
    outcome: 'deny',
    policies,
    reasons,
    policyVersion: version,
  });

  // The denies decided without Cedar (issuer, template, claim types, delegation) come before the
  // cache lookup, exactly as without a cache: only what Cedar answered is cached.
  const evaluate = (input: EvaluationInput): Decision => {
    if (!issuerNames.has(input.identity.issuer)) {
      return deny(
        [],
        [`issuer "${input.identity.issuer}" is not trusted by policy version ${version.slice(0, 12)}`],
      );
    }
    const templateEntity = templateEntities.get(input.template.name);
    if (templateEntity === undefined) {
      return deny(
        [],
        [`template "${input.template.name}" is not configured in policy version ${version.slice(0, 12)}`],
      );
    }

    const attrs: Record<string, AttributeValue> = { issuer: input.identity.issuer };
    const claimed = input.identity.attributes;
    for (const name in claimed) {
      const type = schema.agentAttributes.get(name);
      // Undeclared attributes cannot appear in a validated policy, so they are simply not sent.
      if (type === undefined || name === 'issuer') continue;
      const value = conform(claimed[name]!, type);
      if (value === undefined)
        return deny([], [`agent attribute "${name}" does not have the type schema.cedarschema declares`]);
      attrs[name] = value;
    }
    const intent = { ...toIntentWire(input.intent), ttl_seconds: input.ttlSeconds };
    const context: Context =
      input.onBehalfOf === undefined
        ? { intent, approved: input.approved }
        : {
            intent,
            approved: input.approved,
            on_behalf_of: { sub: input.onBehalfOf.sub, issuer: input.onBehalfOf.issuer },
          };
    if (input.delegation !== undefined) {
      // Without the declaration no policy can see the chain, so none could have meant to allow it.
      if (!schema.acceptsDelegation) return deny([], [DELEGATION_UNDECLARED]);
      context.delegation = {
        depth: input.delegation.depth,
        chain: input.delegation.chain,
        parent_lease: input.delegation.parentLease,
      };
    }

    if (!caching) return authorize(input, attrs, templateEntity, context).decision;
    const key = cache.keyOf({
      subject: input.identity.subject,
      action: input.action,
      template: input.template.name,
      approved: input.approved,
      attrs,
      context,
    });
    const cached = cache.get(key);
    if (cached !== undefined) return cached;
    const { decision, cacheable } = authorize(input, attrs, templateEntity, context);
    return cacheable ? cache.set(key, decision) : decision;
  };

  /**
   * Cedar's answer as a Decision. `cacheable` is false when Cedar refused the request itself
   * (rather than evaluating it): that can depend on any value in the request, not only on what
   * the policies read.
   */
  function authorize(
    input: EvaluationInput,
    attrs: Record<string, AttributeValue>,
    templateEntity: EntityJson,
    context: Context,
  ): { decision: Decision; cacheable: boolean } {
    const principal = { type: 'Agent', id: input.identity.subject };
    const entities: EntityJson[] = [{ uid: principal, attrs, parents: [] }, templateEntity];
    if (schema.actionEntities.length > 0) entities.push(...schema.actionEntities);
    let answer: ReturnType<typeof statefulIsAuthorized>;
    try {
      answer = statefulIsAuthorized({
        principal,
        action: actionUids[input.action],
        resource: templateEntity.uid,
        context,
        preparsedPolicySetId: version,
        entities,
      });
    } catch (error) {
      const reason = `policy evaluation failed: ${error instanceof Error ? error.message : String(error)}`;
      return { decision: deny([], [reason]), cacheable: false };
    }
    if (answer.type === 'failure') {
      const reasons = answer.errors.map((e) => `policy evaluation failed: ${e.message}`);
      return { decision: deny([], reasons), cacheable: false };
    }

    const { decision, diagnostics } = answer.response;
    const erroredForbid =
      diagnostics.errors.length > 0 && diagnostics.errors.some((e) => forbids.has(e.policyId));
    if (decision === 'deny' || erroredForbid) {
      const policies: string[] = [];
      const reasons: string[] = [];
      if (decision === 'deny') {
        for (const id of diagnostics.reason) {
          policies.push(id);
          reasons.push(forbids.get(id) ?? `forbidden by policy "${id}"`);
        }
      }
      for (const { policyId, error } of diagnostics.errors) {
        if (!forbids.has(policyId)) continue;
        policies.push(policyId);
        reasons.push(
          `policy "${policyId}" could not be evaluated (a forbid that errors denies): ${error.message}`,
        );
      }
      if (policies.length === 0) {
        reasons.push(NO_PERMIT);
        for (const { policyId, error } of diagnostics.errors) {
          reasons.push(`policy "${policyId}" could not be evaluated: ${error.message}`);
        }
      }
      return { decision: deny(policies, reasons), cacheable: true };
    }

    const satisfied: PermitObligations[] = [];
    for (const id of diagnostics.reason) {
      const obligations = permits.get(id);
      if (obligations !== undefined) satisfied.push(obligations);
    }
    const policies = satisfied.length > 1 ? sortByOrder(diagnostics.reason, permits) : diagnostics.reason;
    const { maxTtlSeconds, stepUp } = combineObligations(satisfied, input.approved);
    return {
      decision: { outcome: 'allow', policies, maxTtlSeconds, stepUp, policyVersion: version },
      cacheable: true,
    };
  }

  return { evaluate, cache };
}

function sortByOrder(ids: string[], permits: ReadonlyMap<string, PermitObligations>): string[] {
  return ids.sort((a, b) => (permits.get(a)?.order ?? 0) - (permits.get(b)?.order ?? 0));
}
