// Reading verified claims into identity attributes: nested claim paths, JSON values kept as Cedar
// can hold them, nulls dropped. Claim names come from the token, so lookups only follow own
// properties (a "__proto__" or "constructor" claim is just a name).
import type { JWTPayload } from 'jose';
import type { AttributeValue } from './types.js';

/** A claim name, or a list of keys into nested objects (`[kubernetes.io, namespace]`). */
export type ClaimPath = string | readonly string[];

export function readClaim(payload: JWTPayload, claimPath: ClaimPath): unknown {
  let value: unknown = payload;
  for (const key of typeof claimPath === 'string' ? [claimPath] : claimPath) {
    if (!isPlainObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** A JSON value as an attribute; undefined for null, non-finite numbers and anything not JSON. */
export function toAttributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (Array.isArray(value)) {
    return value.map(toAttributeValue).filter((v): v is AttributeValue => v !== undefined);
  }
  if (isPlainObject(value)) {
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(
      Object.entries(value).flatMap(([k, v]) => {
        const converted = toAttributeValue(v);
        return converted === undefined ? [] : [[k, converted] as const];
      }),
    );
  }
  return undefined;
}

/** Applies an issuer's `attributes:` mapping; claims the token lacks are simply absent. */
export function mapAttributes(
  payload: JWTPayload,
  mapping: Readonly<Record<string, ClaimPath>>,
): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(mapping).flatMap(([name, claimPath]) => {
      const value = toAttributeValue(readClaim(payload, claimPath));
      return value === undefined ? [] : [[name, value] as const];
    }),
  );
}

/** Groups from an array of strings or a space-separated string (both shapes exist in the wild). */
export function readGroups(payload: JWTPayload, claim: string): string[] {
  const value = readClaim(payload, claim);
  if (typeof value === 'string') return value.split(/\s+/).filter((g) => g.length > 0);
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string' && g.length > 0);
  return [];
}

export function readOptionalString(payload: JWTPayload, claim: string): string | undefined {
  const value = readClaim(payload, claim);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
