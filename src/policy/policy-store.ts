// Holds the policy set in force and swaps it on reload (SIGHUP). A set that fails to load is
// refused and the previous one stays in force; readers always see one complete set.
import { type LoadPolicyDirOptions, loadPolicyDir, PolicyLoadError } from './load-policy-dir.js';
import type { PolicySet } from './policy-set.js';

export type ReloadResult =
  | { ok: true; version: string; changed: boolean }
  | { ok: false; problems: string[] };

export type PolicyChangeListener = (current: PolicySet, previous: PolicySet) => void;

export interface PolicyStoreOptions extends LoadPolicyDirOptions {
  /** Called when a change listener throws; the swap itself has already happened. */
  onListenerError?: (error: unknown) => void;
}

export interface DecisionCacheLookups {
  hits: number;
  misses: number;
}

export class PolicyStore {
  readonly dir: string;
  #opts: PolicyStoreOptions;
  #current: PolicySet;
  /** Over every set this store has held, so the counts only grow across reloads (metrics). */
  readonly #lookups: DecisionCacheLookups;
  #listeners = new Set<PolicyChangeListener>();
  /** Reloads run one after another, so a slow load can never replace a newer one. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    dir: string,
    opts: PolicyStoreOptions,
    initial: PolicySet,
    lookups: DecisionCacheLookups,
  ) {
    this.dir = dir;
    this.#opts = opts;
    this.#current = initial;
    this.#lookups = lookups;
  }

  /** Loads the directory; throws PolicyLoadError (every problem, one per line) if it is invalid. */
  static async open(dir: string, opts: PolicyStoreOptions = {}): Promise<PolicyStore> {
    const lookups: DecisionCacheLookups = { hits: 0, misses: 0 };
    const counted: PolicyStoreOptions = {
      ...opts,
      onDecisionCacheLookup: (hit) => {
        if (hit) lookups.hits++;
        else lookups.misses++;
        opts.onDecisionCacheLookup?.(hit);
      },
    };
    return new PolicyStore(dir, counted, await loadPolicyDir(dir, counted), lookups);
  }

  current(): PolicySet {
    return this.#current;
  }

  /** Decision cache hits and misses of every set this store has held. */
  decisionCacheLookups(): DecisionCacheLookups {
    return { ...this.#lookups };
  }

  reload(): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Registers a listener for set changes (not for reloads of identical files); returns an unsubscribe. */
  onChange(listener: PolicyChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #reload(): Promise<ReloadResult> {
    let next: PolicySet;
    try {
      next = await loadPolicyDir(this.dir, this.#opts);
    } catch (error) {
      if (error instanceof PolicyLoadError) return { ok: false, problems: error.problems };
      return {
        ok: false,
        problems: [`${this.dir}: ${error instanceof Error ? error.message : String(error)}`],
      };
    }
    const previous = this.#current;
    if (next.version === previous.version) return { ok: true, version: previous.version, changed: false };
    this.#current = next;
    for (const listener of this.#listeners) {
      try {
        listener(next, previous);
      } catch (error) {
        this.#opts.onListenerError?.(error);
      }
    }
    return { ok: true, version: next.version, changed: true };
  }
}
