// A bounded LRU of verified identities, keyed by the sha256 of the token (the token itself is never
// kept). Signature checks dominate the cost of a request; a workload presents the same token many
// times, so each one is verified once per five minutes at most.
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';

/** Bounds how long a key removed from an issuer's JWKS keeps vouching for cached tokens. */
export const MAX_CACHE_SECONDS = 300;
export const DEFAULT_CACHE_SIZE = 10_000;

interface Entry<T> {
  value: T;
  /** Epoch ms; never after the token's exp. */
  until: number;
}

export interface VerifiedCache<T> {
  get(token: string): T | undefined;
  /** Keeps `value` (deep-frozen) until min(expiresAt, now + 5 min). */
  set(token: string, value: T, expiresAt: Date): void;
  readonly size: number;
}

export function createVerifiedCache<T>(clock: Clock, maxEntries = DEFAULT_CACHE_SIZE): VerifiedCache<T> {
  if (!Number.isInteger(maxEntries) || maxEntries < 0) {
    throw new Error('cacheSize must be a non-negative integer');
  }
  // A Map iterates in insertion order: re-inserting on a hit keeps the least recently used first.
  const entries = new Map<string, Entry<T>>();
  const keyOf = (token: string) => createHash('sha256').update(token).digest('base64url');
  return {
    get(token) {
      if (maxEntries === 0) return undefined;
      const key = keyOf(token);
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      entries.delete(key);
      // Checked on every hit: a cached token must not outlive its exp.
      if (clock.now().getTime() >= entry.until) return undefined;
      entries.set(key, entry);
      return entry.value;
    },
    set(token, value, expiresAt) {
      // Cached values are shared between requests: nobody may change one.
      deepFreeze(value);
      if (maxEntries === 0) return;
      const until = cacheUntil(clock.now().getTime(), expiresAt.getTime());
      if (until === undefined) return;
      const key = keyOf(token);
      entries.delete(key);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { value, until });
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * Epoch ms an entry may be served until: never past exp, never more than MAX_CACHE_SECONDS from
 * now, and finite by construction. Every comparison is written so that NaN (an exp too large for
 * a Date) fails it: Math.min(NaN, x) is NaN, and an entry kept until NaN would never expire.
 */
export function cacheUntil(now: number, expiresAtMs: number): number | undefined {
  if (!Number.isFinite(now) || !(expiresAtMs > now)) return undefined;
  const bound = now + MAX_CACHE_SECONDS * 1000;
  return Math.min(expiresAtMs, bound);
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  for (const member of Object.values(value)) deepFreeze(member);
  Object.freeze(value);
}
