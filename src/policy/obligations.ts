// Obligations are annotations on permit policies: what a satisfied permit demands before (or while)
// a credential is issued. Read and checked once at load; combined per request without allocating
// more than the result.
import type { StepUp } from './decision.js';

/** Annotations the broker understands. Any other is a load error, so a typo such as `@stepup`
 *  cannot silently drop an approval requirement. */
export const KNOWN_ANNOTATIONS = ['id', 'step_up', 'approvals', 'approval_ttl', 'max_ttl', 'reason'] as const;

const DEFAULT_APPROVALS = 1;
const DEFAULT_APPROVAL_TTL_SECONDS = 900;
/** Upper bounds that catch a slipped digit; no credential or approval lives this long. */
const MAX_APPROVALS = 10;
const MAX_SECONDS = 7 * 24 * 3600;

export interface PermitObligations {
  /** Load order of the policy: when several step-up permits apply, the first one names the group. */
  order: number;
  maxTtlSeconds: number | undefined;
  stepUp: StepUp | undefined;
}

export type Annotations = Readonly<Record<string, string | null>>;

/**
 * Checks a policy's annotations and returns its obligations (for a permit). Problems are phrased
 * to follow `file:line: `.
 */
export function readObligations(
  effect: 'permit' | 'forbid',
  annotations: Annotations,
  order: number,
): { obligations: PermitObligations | undefined; problems: string[] } {
  const problems: string[] = [];
  for (const key of Object.keys(annotations)) {
    if (!(KNOWN_ANNOTATIONS as readonly string[]).includes(key)) {
      problems.push(
        `unknown annotation @${key} (known: ${KNOWN_ANNOTATIONS.map((k) => `@${k}`).join(', ')})`,
      );
    }
  }
  const obligationKeys = ['step_up', 'approvals', 'approval_ttl', 'max_ttl'].filter((k) => k in annotations);
  if (effect === 'forbid') {
    if (obligationKeys.length > 0) {
      problems.push(`${obligationKeys.map((k) => `@${k}`).join(', ')} only apply to permit policies`);
    }
    return { obligations: undefined, problems };
  }

  const maxTtlSeconds = readCount(annotations, 'max_ttl', MAX_SECONDS, problems);
  const approvals = readCount(annotations, 'approvals', MAX_APPROVALS, problems);
  const approvalTtl = readCount(annotations, 'approval_ttl', MAX_SECONDS, problems);
  let stepUp: StepUp | undefined;
  if ('step_up' in annotations) {
    const group = annotations.step_up?.trim() ?? '';
    if (group === '')
      problems.push('@step_up needs the staff group that approves, e.g. @step_up("security-oncall")');
    stepUp = {
      group,
      approvals: approvals ?? DEFAULT_APPROVALS,
      approvalTtlSeconds: approvalTtl ?? DEFAULT_APPROVAL_TTL_SECONDS,
    };
  } else {
    if (approvals !== undefined) problems.push('@approvals needs @step_up("<group>") on the same policy');
    if (approvalTtl !== undefined)
      problems.push('@approval_ttl needs @step_up("<group>") on the same policy');
  }
  return { obligations: { order, maxTtlSeconds, stepUp }, problems };
}

function readCount(
  annotations: Annotations,
  key: string,
  max: number,
  problems: string[],
): number | undefined {
  if (!(key in annotations)) return undefined;
  const raw = annotations[key] ?? '';
  if (!/^[0-9]+$/.test(raw) || Number(raw) <= 0 || Number(raw) > max) {
    problems.push(`@${key}("${raw}") must be a whole number from 1 to ${max}`);
    return undefined;
  }
  return Number(raw);
}

/**
 * Combines the obligations of the satisfied permits: the smallest @max_ttl wins; step-up applies
 * if any permit asks for it (unless already approved), with the most approvals any of them asks
 * for and the shortest approval window.
 */
export function combineObligations(
  satisfied: readonly PermitObligations[],
  approved: boolean,
): { maxTtlSeconds: number | undefined; stepUp: StepUp | undefined } {
  let maxTtlSeconds: number | undefined;
  let first: PermitObligations | undefined;
  let approvals = 0;
  let approvalTtlSeconds = Number.POSITIVE_INFINITY;
  for (const o of satisfied) {
    if (o.maxTtlSeconds !== undefined && (maxTtlSeconds === undefined || o.maxTtlSeconds < maxTtlSeconds)) {
      maxTtlSeconds = o.maxTtlSeconds;
    }
    if (o.stepUp === undefined) continue;
    if (first === undefined || o.order < first.order) first = o;
    approvals = Math.max(approvals, o.stepUp.approvals);
    approvalTtlSeconds = Math.min(approvalTtlSeconds, o.stepUp.approvalTtlSeconds);
  }
  if (first?.stepUp === undefined || approved) return { maxTtlSeconds, stepUp: undefined };
  return { maxTtlSeconds, stepUp: { group: first.stepUp.group, approvals, approvalTtlSeconds } };
}
