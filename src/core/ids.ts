// Lease, approval and request ids are UUIDs. One pattern, checked before an id reaches SQL, so a
// malformed id is an ordinary "not found" and never a cast error.

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** The id in canonical (lower-case) form, or undefined when it is not a UUID. */
export function canonicalUuid(value: string): string | undefined {
  return UUID_PATTERN.test(value) ? value.toLowerCase() : undefined;
}
