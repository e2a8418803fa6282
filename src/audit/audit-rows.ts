// Reads audit rows for the sealer and the verifier in the exact form that is hashed. Every
// column is rendered as text in SQL, so the result does not depend on the client's type parsers
// (drizzle replaces postgres.js's timestamp parsers on the shared client).
import type postgres from 'postgres';
import type { AuditContent } from './audit-hash.js';

export interface StoredAuditRow extends AuditContent {
  seq: number | null;
  prev_hash: string | null;
  hash: string | null;
  mac: string | null;
  /** `at` carries microseconds that the millisecond ISO form (and so the hash) does not cover. */
  sub_ms: boolean;
}

interface RawRow {
  id: string;
  at: string;
  sub_ms: boolean;
  event: string;
  request_id: string | null;
  agent: string | null;
  agent_issuer: string | null;
  on_behalf_of: string | null;
  actor: string | null;
  lease_id: string | null;
  template: string | null;
  intent: string | null;
  decision: string | null;
  policies: string | null;
  reasons: string | null;
  policy_version: string | null;
  detail: string | null;
  seq: string | null;
  prev_hash: string | null;
  hash: string | null;
  mac: string | null;
}

/**
 * The select list; `at` is formatted in UTC whatever the session's TimeZone. The aliases shadow
 * the columns, and an unqualified ORDER BY would sort by the text alias ('10' < '9'): callers
 * alias the table `a` and order by `a.id` / `a.seq`.
 */
export function auditColumns(
  sql: postgres.Sql | postgres.TransactionSql,
): postgres.PendingQuery<postgres.Row[]> {
  return sql`
    id::text as id,
    to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at,
    date_trunc('milliseconds', at) <> at as sub_ms,
    event, request_id, agent, agent_issuer, on_behalf_of::text as on_behalf_of, actor,
    lease_id::text as lease_id, template, intent::text as intent, decision, policies::text as policies,
    reasons::text as reasons, policy_version, detail::text as detail, seq::text as seq, prev_hash, hash, mac`;
}

function json<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

export function parseAuditRows(rows: readonly postgres.Row[]): StoredAuditRow[] {
  return (rows as readonly RawRow[]).map((r) => ({
    id: Number(r.id),
    at: r.at,
    event: r.event,
    request_id: r.request_id,
    agent: r.agent,
    agent_issuer: r.agent_issuer,
    on_behalf_of: json(r.on_behalf_of),
    actor: r.actor,
    lease_id: r.lease_id,
    template: r.template,
    intent: json(r.intent),
    decision: r.decision,
    policies: json(r.policies),
    reasons: json(r.reasons),
    policy_version: r.policy_version,
    detail: json(r.detail),
    seq: r.seq === null ? null : Number(r.seq),
    prev_hash: r.prev_hash,
    hash: r.hash,
    mac: r.mac,
    sub_ms: r.sub_ms,
  }));
}
