// Narrows a task intent to an aws_sts template's ceiling and turns the result into the inline
// session policy sent with AssumeRole. Pure functions: no I/O.

import type { Intent } from '../../core/intent.js';
import { problems } from '../../problem.js';
import type { AwsStsTemplate } from '../templates.js';
import type { Scoped } from '../types.js';
import { firstUncovered } from './iam-wildcard.js';

/** What an aws_sts lease is granted: exactly these actions on exactly these resources. */
export interface StsGrant {
  actions: string[];
  resources: string[];
}

/** STS limit on the plaintext of inline + managed session policies. */
export const SESSION_POLICY_MAX_CHARS = 2048;

const IAM_ACTION = /^(?:[a-z0-9-]+:[A-Za-z0-9*?]+|\*)$/i;
// arn:partition:service:region:account:resource; IAM policy text is limited to \u0020–\u00FF.
const ARN = /^arn:[a-z0-9*?-]*:[a-z0-9*?-]*:[^:]*:[^:]*:[\x20-\x7e\xa0-\xff]+$/;
// `${...}` is an IAM policy variable: it would be expanded at evaluation time to a value the
// ceiling check never saw, so a request may not carry one.
const POLICY_VARIABLE = '${';

function isResource(value: string): boolean {
  return value === '*' || (ARN.test(value) && !value.includes(POLICY_VARIABLE));
}

function dedupeCaseInsensitive(values: readonly string[]): string[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = v.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Every requested IAM action and ARN must be covered by the ceiling (IAM wildcard rules); empty
 * resources mean the ceiling's own resources. The deny reason names the first item that fails.
 */
export function scopeIntent(template: AwsStsTemplate, intent: Intent): Scoped<StsGrant> {
  const actions = dedupeCaseInsensitive(intent.actions);
  if (actions.length === 0) return { ok: false, reason: 'intent.actions must name at least one IAM action' };
  const badAction = actions.find((a) => !IAM_ACTION.test(a));
  if (badAction !== undefined)
    return { ok: false, reason: `action "${badAction}" is not an IAM action (service:Action)` };
  const outsideActions = firstUncovered(template.actions, actions, 'action');
  if (outsideActions !== undefined) {
    return { ok: false, reason: `action "${outsideActions}" is not allowed by template "${template.name}"` };
  }

  if (intent.resources.length === 0)
    return { ok: true, grant: { actions, resources: [...template.resources] } };
  const badResource = intent.resources.find((r) => !isResource(r));
  if (badResource !== undefined) {
    return {
      ok: false,
      reason: `resource "${badResource}" is not an ARN (policy variables are not accepted)`,
    };
  }
  const outsideResources = firstUncovered(template.resources, intent.resources, 'resource');
  if (outsideResources !== undefined) {
    return {
      ok: false,
      reason: `resource "${outsideResources}" is not allowed by template "${template.name}"`,
    };
  }
  return { ok: true, grant: { actions, resources: [...intent.resources] } };
}

/** The session policy, compact (STS counts every character, whitespace included). */
export function sessionPolicyFor(grant: StsGrant): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: grant.actions, Resource: grant.resources }],
  });
}

/** Throws a 422 when STS would refuse the policy for its size, before anything is sent. */
export function assertSessionPolicyFits(policy: string): void {
  if (policy.length <= SESSION_POLICY_MAX_CHARS) return;
  throw problems.unprocessable(
    `the session policy for this intent is ${policy.length} characters; STS accepts at most ${SESSION_POLICY_MAX_CHARS}. ` +
      'Request fewer actions or resources, or a wildcard ARN the template allows.',
    {
      errors: [{ field: 'intent', message: `session policy exceeds ${SESSION_POLICY_MAX_CHARS} characters` }],
      extensions: { limit: 'session_policy_chars', size: policy.length, max: SESSION_POLICY_MAX_CHARS },
    },
  );
}
