// What a loaded policy directory offers the rest of the broker. Built by load-policy-dir.ts,
// held by PolicyStore, swapped atomically on SIGHUP.

import type { Intent } from '../core/intent.js';
import type { AttributeValue, WorkloadIdentity } from '../identity/types.js';
import type { BrokerYaml, IssuerConfig, StaffConfig } from '../policy-config/broker-yaml.js';
import type { Template } from '../providers/templates.js';
import type { Decision } from './decision.js';
import type { DecisionCacheStats } from './decision-cache.js';

export type PolicyAction = 'mint' | 'renew';

export interface EvaluationInput {
  action: PolicyAction;
  identity: WorkloadIdentity;
  template: Template;
  intent: Intent;
  /** The TTL the caller asked for (or the template default). */
  ttlSeconds: number;
  onBehalfOf: { sub: string; issuer: string } | undefined;
  approved: boolean;
  /** Set for a delegated token exchange: Cedar's `context.delegation`. */
  delegation?: DelegationContext | undefined;
}

export interface DelegationContext {
  /** 1 for the first exchange of a workload's own token, +1 for each exchange after it. */
  depth: number;
  /** Every agent subject in the chain, this request's agent included. */
  chain: string[];
  parentLease: string;
}

export interface PolicySet {
  /** sha256 (hex) over the directory's files, recorded with every decision. */
  readonly version: string;
  readonly dir: string;
  readonly loadedAt: Date;
  readonly config: BrokerYaml;
  readonly issuers: readonly IssuerConfig[];
  readonly staff: StaffConfig | undefined;
  readonly templates: ReadonlyMap<string, Template>;
  /** Policy ids in load order. */
  readonly policyIds: readonly string[];
  /**
   * Runs Cedar (preparsed at load) and derives obligations from the satisfied permits. A decision
   * may come from the set's cache: it is then frozen and shared, so callers must not modify it.
   */
  evaluate(input: EvaluationInput): Decision;
  /** This set's decision cache (empty at load; a reload builds a new set with a new cache). */
  readonly decisionCache: DecisionCacheStats;
}

export type { AttributeValue };
