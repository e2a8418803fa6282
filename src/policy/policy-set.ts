// What a loaded policy directory offers the rest of the broker. Built by load-policy-dir.ts,
// held by PolicyStore, swapped atomically on SIGHUP.

import type { Intent } from '../core/intent.js';
import type { AttributeValue, WorkloadIdentity } from '../identity/types.js';
import type { BrokerYaml, IssuerConfig, StaffConfig } from '../policy-config/broker-yaml.js';
import type { Template } from '../providers/templates.js';
import type { Decision } from './decision.js';

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
  /** Runs Cedar (preparsed at load) and derives obligations from the satisfied permits. */
  evaluate(input: EvaluationInput): Decision;
}

export type { AttributeValue };
