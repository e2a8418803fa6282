// Which parts of a request the loaded policies can observe, found at load by walking each policy in
// Cedar's JSON form. The decision cache keys on exactly these parts (see decision-cache.ts).
import { type PolicyJson, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';

/** A variable followed by attribute names: `["context", "intent", "task_id"]`. */
export type AttributePath = readonly string[];

export interface PolicyReads {
  /** Every path some policy reads, none a prefix of another, sorted. A path covers all below it. */
  readonly paths: readonly AttributePath[];
  /** True when some policy could not be analysed, so every variable counts as read whole. */
  readonly everything: boolean;
}

const VARIABLES = ['action', 'context', 'principal', 'resource'] as const;
const EVERYTHING: PolicyReads = Object.freeze({
  paths: Object.freeze(VARIABLES.map((v) => Object.freeze([v]))),
  everything: true,
});
const UNARY = new Set(['!', 'neg', 'isEmpty']);
const BINARY = new Set([
  '==',
  '!=',
  'in',
  '<',
  '<=',
  '>',
  '>=',
  '&&',
  '||',
  '+',
  '-',
  '*',
  'contains',
  'containsAll',
  'containsAny',
  'getTag',
  'hasTag',
]);

/** Thrown inside the walk on a shape it does not know: the caller falls back to EVERYTHING. */
class UnknownShape extends Error {}

/**
 * The paths a set of policies reads (Cedar text or JSON, one policy each). Anything that cannot be
 * converted or has a shape this walker does not know makes the answer "everything": narrowing is
 * only ever done on a policy that was understood completely.
 */
export function policyReads(policies: Iterable<string | PolicyJson>): PolicyReads {
  const found: string[][] = [];
  for (const policy of policies) {
    let json: unknown = policy;
    if (typeof policy === 'string') {
      const converted = policyToJson(policy);
      if (converted.type === 'failure') return EVERYTHING;
      json = converted.json;
    }
    try {
      walkPolicy(json, found);
    } catch {
      // UnknownShape, or a malformed value that made a property access throw.
      return EVERYTHING;
    }
  }
  return { paths: collapse(found), everything: false };
}

function walkPolicy(json: unknown, into: string[][]): void {
  const policy = record(json);
  if (policy.effect !== 'permit' && policy.effect !== 'forbid') throw new UnknownShape();
  // The scope compares the principal, action and resource by uid (and ancestors, which are fixed:
  // the Agent entity has none, templates and actions are the same for every request), and every
  // uid is part of the cache key, so the scope reads no attribute. It is still checked for shape.
  scope(policy.principal, ['All', '==', 'in', 'is']);
  scope(policy.action, ['All', '==', 'in']);
  scope(policy.resource, ['All', '==', 'in', 'is']);
  if (!Array.isArray(policy.conditions)) throw new UnknownShape();
  for (const clause of policy.conditions) {
    const { kind, body } = record(clause);
    if (kind !== 'when' && kind !== 'unless') throw new UnknownShape();
    walk(body, into);
  }
}

function scope(constraint: unknown, ops: readonly string[]): void {
  const c = record(constraint);
  if (typeof c.op !== 'string' || !ops.includes(c.op)) throw new UnknownShape();
  // A `slot` (a policy template's ?principal) has no fixed uid; templates are refused at load anyway.
  if ('slot' in c || (c.in !== undefined && 'slot' in record(c.in))) throw new UnknownShape();
}

/** `[v, a, b]` for `v.a.b` on one of Cedar's variables, else null. */
function chainOf(expr: unknown): string[] | null {
  if (typeof expr !== 'object' || expr === null || Array.isArray(expr)) return null;
  const node = expr as Record<string, unknown>;
  if (Object.keys(node).length !== 1) return null;
  if ('Var' in node) {
    if (!(VARIABLES as readonly unknown[]).includes(node.Var)) throw new UnknownShape();
    return [node.Var as string];
  }
  if ('.' in node) {
    const { left, attr } = record(node['.']);
    if (typeof attr !== 'string') throw new UnknownShape();
    const chain = chainOf(left);
    return chain && [...chain, attr];
  }
  return null;
}

/** Records what evaluating `expr` can read. */
function walk(expr: unknown, into: string[][]): void {
  const chain = chainOf(expr);
  if (chain !== null) {
    // Reading `context.intent` reads the whole record; the key then holds all of it.
    into.push(chain);
    return;
  }
  const node = record(expr);
  const keys = Object.keys(node);
  if (keys.length !== 1) throw new UnknownShape();
  const op = keys[0]!;
  const body = node[op];
  if (op === 'Value') return; // a literal
  if (UNARY.has(op)) {
    walk(record(body).arg, into);
    return;
  }
  if (BINARY.has(op)) {
    const { left, right } = record(body);
    walk(left, into);
    walk(right, into);
    return;
  }
  switch (op) {
    case '.':
    case 'has': {
      const { left, attr } = record(body);
      const attrs = typeof attr === 'string' ? [attr] : attr;
      if (!Array.isArray(attrs) || attrs.length === 0 || !attrs.every((a) => typeof a === 'string'))
        throw new UnknownShape();
      const leftChain = chainOf(left);
      if (leftChain !== null) {
        into.push([...leftChain, ...attrs]);
        return;
      }
      // An attribute of something that is not a variable path, e.g. `Agent::"bob".team`: when that
      // entity is the principal, the attributes the request carries are what is read.
      into.push(['principal']);
      walk(left, into);
      return;
    }
    case 'like': {
      const { left, pattern } = record(body);
      if (!Array.isArray(pattern)) throw new UnknownShape();
      walk(left, into);
      return;
    }
    case 'is': {
      const { left, entity_type: type, in: inside } = record(body);
      if (typeof type !== 'string') throw new UnknownShape();
      walk(left, into);
      if (inside !== undefined) walk(inside, into);
      return;
    }
    case 'if-then-else': {
      const branches = record(body);
      walk(branches.if, into);
      walk(branches.then, into);
      walk(branches.else, into);
      return;
    }
    case 'Set':
      if (!Array.isArray(body)) throw new UnknownShape();
      for (const element of body) walk(element, into);
      return;
    case 'Record':
      for (const value of Object.values(record(body))) walk(value, into);
      return;
    default:
      // An extension function or method (`decimal`, `ip`, `lessThan`, ...): its arguments.
      if (!Array.isArray(body)) throw new UnknownShape();
      for (const argument of body) walk(argument, into);
  }
}

function record(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UnknownShape();
  return value as Record<string, unknown>;
}

/** Sorted, without duplicates, and without any path below another one (the shorter covers it). */
function collapse(paths: string[][]): AttributePath[] {
  const byLength = [...paths].sort((a, b) => a.length - b.length);
  const kept: string[][] = [];
  for (const path of byLength) {
    if (!kept.some((k) => k.every((segment, i) => path[i] === segment))) kept.push(path);
  }
  const order = (p: readonly string[]) => JSON.stringify(p);
  return kept
    .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
    .map((p) => Object.freeze(p));
}
