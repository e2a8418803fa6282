// The hash chain's arithmetic: a canonical JSON form of an audit row's content and the link
// hash = sha256(prev_hash || canonical(row)). Pure, so verifiers outside the broker can redo it.
import { createHash } from 'node:crypto';

/** prev_hash of the first sealed row (seq 1). */
export const GENESIS_HASH = '0'.repeat(64);

/** Every content column of an audit row, as hashed (snake_case, like the API's records). */
export interface AuditContent {
  id: number;
  /** ISO 8601, UTC, millisecond precision: `2024-05-01T12:00:00.000Z`. */
  at: string;
  event: string;
  request_id: string | null;
  agent: string | null;
  agent_issuer: string | null;
  on_behalf_of: { sub: string; issuer: string } | null;
  actor: string | null;
  lease_id: string | null;
  template: string | null;
  intent: Record<string, unknown> | null;
  decision: string | null;
  policies: string[] | null;
  reasons: string[] | null;
  policy_version: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * JSON with object keys sorted recursively (by UTF-16 code unit, as Array.prototype.sort does)
 * and no whitespace. For JSON values this is RFC 8785 (JCS): numbers and strings are serialised
 * exactly as ECMAScript's JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${value} is not a JSON number`);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new TypeError(`canonicalJson: ${proto?.constructor?.name ?? 'object'} is not a JSON value`);
      }
      const record = value as Record<string, unknown>;
      const members = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: ${typeof value} is not a JSON value`);
  }
}

/** hex(sha256(prevHash || canonicalJson(content))), both as UTF-8. */
export function auditRowHash(prevHash: string, content: AuditContent): string {
  const canonical: AuditContent = {
    id: content.id,
    at: content.at,
    event: content.event,
    request_id: content.request_id,
    agent: content.agent,
    agent_issuer: content.agent_issuer,
    on_behalf_of: content.on_behalf_of,
    actor: content.actor,
    lease_id: content.lease_id,
    template: content.template,
    intent: content.intent,
    decision: content.decision,
    policies: content.policies,
    reasons: content.reasons,
    policy_version: content.policy_version,
    detail: content.detail,
  };
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(canonical), 'utf8').digest('hex');
}
