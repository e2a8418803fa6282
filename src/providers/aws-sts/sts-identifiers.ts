// The names STS records on a session (RoleSessionName, SourceIdentity, session tag values), made
// to fit AWS's character sets and lengths. Whenever a value has to change, a short hash of the
// original is appended, so two agents that sanitise alike still get distinct identities.
import { createHash } from 'node:crypto';

/** RoleSessionName and SourceIdentity: 2–64 characters of [\w+=,.@-] (ASCII \w). */
const SESSION_NAME_CHARS = /^[A-Za-z0-9_+=,.@-]{2,64}$/;
const SESSION_NAME_DISALLOWED = /[^A-Za-z0-9_+=,.@-]/gu;
const SESSION_NAME_MAX = 64;

/** Session tag values: up to 256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@]. */
const TAG_VALUE_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const TAG_VALUE_DISALLOWED = /[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu;
const TAG_VALUE_MAX = 256;

const HASH_LENGTH = 12;

function shortHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, HASH_LENGTH);
}

/** Keeps `max` code points, so a surrogate pair is never cut in half. */
function truncate(value: string, max: number): string {
  return [...value].slice(0, max).join('');
}

function sanitiseSessionName(value: string): string {
  // `aws:` is a reserved SourceIdentity prefix; it cannot survive because `:` is replaced.
  if (SESSION_NAME_CHARS.test(value)) return value;
  const base = value.replace(SESSION_NAME_DISALLOWED, '-');
  return `${truncate(base, SESSION_NAME_MAX - HASH_LENGTH - 1)}.${shortHash(value)}`;
}

/** RoleSessionName for a lease: the lease id itself (a UUID fits unchanged). */
export function sessionNameFor(leaseId: string): string {
  return sanitiseSessionName(leaseId);
}

/**
 * SourceIdentity for an agent subject. Stable (the emergency-deny command recomputes it from the
 * subject) and idempotent (a value that is already valid is returned unchanged).
 */
export function sourceIdentityFor(agent: string): string {
  return sanitiseSessionName(agent);
}

/** A session tag value within STS's character set and length. */
export function tagValueFor(value: string): string {
  if (TAG_VALUE_CHARS.test(value) && [...value].length <= TAG_VALUE_MAX) return value;
  const base = value.replace(TAG_VALUE_DISALLOWED, '-');
  return `${truncate(base, TAG_VALUE_MAX - HASH_LENGTH - 1)}.${shortHash(value)}`;
}
