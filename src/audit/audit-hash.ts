// The hash chain's arithmetic: a canonical JSON form of an audit row's content and the link
// hash = sha256(prev_hash || canonical(row)). Pure, so verifiers outside the broker can redo it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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

/** The content as the MAC covers it: every content column but the id, which the database assigns. */
export type MacContent = Omit<AuditContent, 'id'>;

/** The content of a row, copied field by field (so extra members of the argument never count). */
function contentOf(content: MacContent): MacContent {
  return {
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
}

const MAC_VERSION = 'v1';

function rowMacDigest(rowKey: Buffer, nonce: string, content: MacContent): Buffer {
  return createHmac('sha256', rowKey)
    .update(`${nonce}.`, 'utf8')
    .update(canonicalJson(contentOf(content)), 'utf8')
    .digest();
}

/**
 * `v1.<nonce>.<hmac>`: HMAC-SHA256 under the row key of a random nonce and the canonical content.
 * The nonce makes every genuine MAC unique (a unique index then refuses a copied row).
 */
export function auditRowMac(rowKey: Buffer, content: MacContent): string {
  const nonce = randomBytes(16).toString('base64url');
  return `${MAC_VERSION}.${nonce}.${rowMacDigest(rowKey, nonce, content).toString('base64url')}`;
}

/** Whether `mac` is a valid row MAC of `content` under `rowKey`. */
export function verifyAuditRowMac(rowKey: Buffer, content: MacContent, mac: string | null): boolean {
  if (mac === null) return false;
  const [version, nonce, digest, ...rest] = mac.split('.');
  if (version !== MAC_VERSION || !nonce || !digest || rest.length > 0) return false;
  const expected = rowMacDigest(rowKey, nonce, content);
  const given = Buffer.from(digest, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The keyed link: hex(HMAC-SHA256(chainKey, prevHash || canonicalJson(content with id and mac))).
 * Without the chain key nobody can recompute a chain that verifies.
 */
export function keyedChainHash(
  chainKey: Buffer,
  prevHash: string,
  content: AuditContent,
  mac: string,
): string {
  const canonical = canonicalJson({ ...contentOf(content), id: content.id, mac });
  return createHmac('sha256', chainKey).update(prevHash, 'utf8').update(canonical, 'utf8').digest('hex');
}

/**
 * The keyless link of rows sealed before the chain was keyed (they have no MAC):
 * hex(sha256(prevHash || canonicalJson(content))), both as UTF-8.
 */
export function auditRowHash(prevHash: string, content: AuditContent): string {
  const canonical: AuditContent = { id: content.id, ...contentOf(content) };
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(canonical), 'utf8').digest('hex');
}
