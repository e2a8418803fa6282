// The decision cache of one policy set: Cedar's answer for a request, keyed by the request's uids
// and only the values some policy reads (policy-reads.ts), so that what no policy looks at (the
// task id, usually) does not make every request a miss.
import type { Context } from '@cedar-policy/cedar-wasm/nodejs';
import type { AttributeValue } from '../identity/types.js';
import type { Decision } from './decision.js';
import { Lru } from './lru.js';
import type { PolicyReads } from './policy-reads.js';

export interface DecisionCacheStats {
  /** Most decisions kept (DECISION_CACHE_SIZE); 0 means no cache. */
  readonly capacity: number;
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
  /** What the key is made of, besides the principal id, action, template and `approved`. */
  readonly reads: PolicyReads;
}

/** The request exactly as it is handed to Cedar. */
export interface CedarRequest {
  subject: string;
  /** `mint` or `renew`. */
  action: string;
  template: string;
  approved: boolean;
  /** The principal's attributes (after conform()). */
  attrs: Record<string, AttributeValue>;
  context: Context;
}

/* Separates key parts: JSON.stringify escapes every control character, so none occurs in its output. */
const SEPARATOR = '\u0000';
const ABSENT = '\u0001';
const NOT_A_RECORD = '\u0002';

/**
 * Why a hit is the answer Cedar would give: Cedar has no clock or randomness, the entity store
 * holds only the principal (attributes from the request), the template and the actions (fixed per
 * set), and the request carries no other entity reference, so an evaluation can observe only the
 * uids and the values at the paths the policies read. The Decision is built from Cedar's decision,
 * the ids it names and its error messages, which name only what the evaluation observed.
 */
export class DecisionCache implements DecisionCacheStats {
  readonly reads: PolicyReads;
  readonly #lru: Lru<string, Decision>;
  readonly #onLookup: ((hit: boolean) => void) | undefined;
  /** The paths the key holds values of, without their variable; action and resource are left out. */
  readonly #keyed: { root: 'principal' | 'context'; path: readonly string[] }[] = [];
  #hits = 0;
  #misses = 0;

  constructor(capacity: number, reads: PolicyReads, onLookup?: (hit: boolean) => void) {
    this.#lru = new Lru(capacity);
    this.reads = reads;
    this.#onLookup = onLookup;
    for (const [root, ...path] of reads.paths) {
      // The resource (a Template) and the action have the same attributes for every request that
      // names them, and their uids are in every key.
      if (root === 'principal' || root === 'context') this.#keyed.push({ root, path });
    }
  }

  get capacity(): number {
    return this.#lru.capacity;
  }
  get size(): number {
    return this.#lru.size;
  }
  get hits(): number {
    return this.#hits;
  }
  get misses(): number {
    return this.#misses;
  }

  keyOf(request: CedarRequest): string {
    const parts = [
      JSON.stringify(request.subject),
      request.action,
      JSON.stringify(request.template),
      request.approved ? 'approved' : 'unapproved',
    ];
    for (const { root, path } of this.#keyed)
      parts.push(valueAt(root === 'principal' ? request.attrs : request.context, path));
    return parts.join(SEPARATOR);
  }

  get(key: string): Decision | undefined {
    const decision = this.#lru.get(key);
    if (decision === undefined) this.#misses++;
    else this.#hits++;
    this.#onLookup?.(decision !== undefined);
    return decision;
  }

  /** Stores the decision frozen (every caller shares it from now on) and returns it. */
  set(key: string, decision: Decision): Decision {
    Object.freeze(decision.policies);
    if (decision.outcome === 'deny') Object.freeze(decision.reasons);
    else if (decision.stepUp !== undefined) Object.freeze(decision.stepUp);
    Object.freeze(decision);
    this.#lru.set(key, decision);
    return decision;
  }
}

/**
 * The value at `path` below `root`, as JSON. Where the path stops early the marker says where and
 * why (absent attribute, or a value that is not a record), since Cedar's answer differs by that.
 */
function valueAt(root: unknown, path: readonly string[]): string {
  let value = root;
  for (let depth = 0; depth < path.length; depth++) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return `${NOT_A_RECORD}${depth}:${JSON.stringify(value)}`;
    const attr = path[depth]!;
    const next = Object.hasOwn(value, attr) ? (value as Record<string, unknown>)[attr] : undefined;
    if (next === undefined) return `${ABSENT}${depth}`;
    value = next;
  }
  return JSON.stringify(value);
}
