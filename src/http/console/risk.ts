// A reviewer's hint, derived from the request alone: how much could go wrong if this credential
// were misused. Advisory only: it decides nothing (policy and the approvals service do).
//
// The rule (docs/console.md):
//   - a privileged action (one that writes, deletes, administers, exports or grants, or a wildcard) → high
//   - otherwise count the other signals: no accountable human (on_behalf_of missing), a TTL over
//     30 minutes, broad resources (none named, so the whole template ceiling, or a wildcard)
//   - two or more → high, one → medium, none → low.
import type { ProviderKind } from '../../providers/templates.js';

export type RiskLevel = 'low' | 'medium' | 'high';

export interface RiskInput {
  actions: readonly string[];
  resources: readonly string[];
  onBehalfOf: { sub: string } | null;
  ttlSeconds: number;
  /** Undefined when the template is no longer in the policy set. */
  provider: ProviderKind | undefined;
}

export interface RiskAssessment {
  level: RiskLevel;
  /** Each signal that raised the level, in words a reviewer reads. */
  reasons: string[];
}

export const LONG_TTL_SECONDS = 30 * 60;

/** Verbs of actions that change or expose more than they read, across scopes, SQL and IAM. */
const PRIVILEGED =
  /(^|[^a-z])(write|admin|export|delete|insert|update|put|create|drop|grant|modify|attach|pass\s?role|truncate)|\*/i;

export function isPrivilegedAction(action: string): boolean {
  // IAM actions are CamelCase (s3:PutObject, iam:PassRole): split the words before matching.
  return PRIVILEGED.test(action.replace(/([a-z])([A-Z])/g, '$1 $2'));
}

export function assessRisk(input: RiskInput): RiskAssessment {
  const privileged = input.actions.filter(isPrivilegedAction);
  const signals: string[] = [];
  if (input.onBehalfOf === null) signals.push('no human is accountable (no on_behalf_of)');
  if (input.ttlSeconds > LONG_TTL_SECONDS) signals.push(`long TTL (over ${LONG_TTL_SECONDS / 60} minutes)`);
  const scopedByResources = input.provider === 'postgres' || input.provider === 'aws_sts';
  if (scopedByResources && input.resources.length === 0)
    signals.push('no resources named: the whole template ceiling');
  if (input.resources.some((r) => r.includes('*'))) signals.push('wildcard resources');
  const reasons = [
    ...(privileged.length > 0 ? [`privileged actions: ${privileged.join(', ')}`] : []),
    ...signals,
  ];
  const level: RiskLevel =
    privileged.length > 0 || signals.length >= 2 ? 'high' : signals.length === 1 ? 'medium' : 'low';
  return { level, reasons };
}
