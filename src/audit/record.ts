// Writes audit rows. Called inside the transaction of the state change it records, so the row and
// the change commit (or vanish) together. Rows go in unsealed: no lock on the chain head here.

import { sql } from 'drizzle-orm';
import type postgres from 'postgres';
import type { DbOrTx } from '../db/client.js';
import type { NewAuditEvent } from '../db/schema/audit-events.js';
import { auditRowMac, type MacContent } from './audit-hash.js';
import { auditKeys } from './audit-keys.js';

/**
 * One audit row as written: who (agent, agent_issuer, on_behalf_of, actor), what (event,
 * decision, intent, template, lease_id), why (policies, reasons, policy_version) and when (at).
 * Never a secret: `recordAudit` refuses values under credential-like keys.
 */
export type AuditEntry = Omit<NewAuditEvent, 'id' | 'seq' | 'prevHash' | 'hash' | 'mac' | 'refusedAt'>;

// A tripwire, not a filter: a secret reaching the audit log is a bug to fail loudly on (the row
// would be kept forever and served by /v1/audit). Keys are compared lower-cased without `_`/`-`.
const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'sessiontoken',
  'secretaccesskey',
  'privatekey',
  'apikey',
  'credential',
  'credentials',
]);

function findSecretKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findSecretKey(item, `${path}.${i}`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    if (SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''))) return `${path}.${key}`;
    const found = findSecretKey(item, `${path}.${key}`);
    if (found) return found;
  }
  return undefined;
}

function assertWritable(entry: AuditEntry): void {
  if (!(entry.at instanceof Date) || Number.isNaN(entry.at.getTime())) {
    throw new TypeError(`audit entry "${entry.event}": at must be a valid Date`);
  }
  if (!entry.event) throw new TypeError('audit entry: event is required');
  for (const field of ['intent', 'detail', 'onBehalfOf'] as const) {
    const found = findSecretKey(entry[field], field);
    if (found) {
      throw new Error(`audit entry "${entry.event}": refusing to record ${found}: it looks like a secret`);
    }
  }
}

/**
 * Inserts the entries in one statement (a no-op for an empty list). The rows travel as one jsonb
 * parameter, so any number of them fits in a statement (a bulk revocation of 70,000 leases).
 */
export async function recordAudit(tx: DbOrTx, entries: AuditEntry | readonly AuditEntry[]): Promise<void> {
  const list = Array.isArray(entries) ? (entries as readonly AuditEntry[]) : [entries as AuditEntry];
  if (list.length === 0) return;
  await tx.execute(
    sql`${sql.raw(INSERT_PREFIX)} from jsonb_populate_recordset(null::audit_events, ${auditRowsJson(list)}::jsonb) as r`,
  );
}

const INSERT_PREFIX = `insert into audit_events (at, event, request_id, agent, agent_issuer, on_behalf_of, actor, lease_id,
      template, intent, decision, policies, reasons, policy_version, detail, mac)
    select r.at, r.event, r.request_id, r.agent, r.agent_issuer, r.on_behalf_of, r.actor, r.lease_id,
      r.template, r.intent, r.decision, r.policies, r.reasons, r.policy_version, r.detail, r.mac`;

/** The entries, checked and MACed, as the jsonb array both insert paths send. */
function auditRowsJson(entries: readonly AuditEntry[]): string {
  for (const entry of entries) assertWritable(entry);
  const { rowKey } = auditKeys();
  // The MAC is computed here, in the app, so the hot path stays one statement.
  return JSON.stringify(entries.map((e) => ({ ...toColumns(e), mac: auditRowMac(rowKey, macContent(e)) })));
}

/**
 * The same rows as recordAudit, as a postgres.js fragment (`insert into audit_events …`) to embed
 * in a larger statement: a data-modifying CTE writes a state change and its audit rows in one
 * statement, so in one implicit transaction and one round trip. The rows travel as one jsonb
 * array; `jsonb_populate_recordset` types each member by the table's own column types.
 */
export function auditInsert(
  sql: postgres.Sql | postgres.TransactionSql,
  entries: readonly AuditEntry[],
  /** Writes the rows only where this holds (a condition on the statement's other CTEs). */
  onlyIf: postgres.PendingQuery<postgres.Row[]> = sql`true`,
): postgres.PendingQuery<postgres.Row[]> {
  if (entries.length === 0) throw new Error('auditInsert: no entries');
  // The same text as INSERT_PREFIX, written out: a postgres.js fragment cannot take raw SQL.
  return sql`insert into audit_events (at, event, request_id, agent, agent_issuer, on_behalf_of, actor, lease_id,
      template, intent, decision, policies, reasons, policy_version, detail, mac)
    select r.at, r.event, r.request_id, r.agent, r.agent_issuer, r.on_behalf_of, r.actor, r.lease_id,
      r.template, r.intent, r.decision, r.policies, r.reasons, r.policy_version, r.detail, r.mac
    from jsonb_populate_recordset(null::audit_events, ${auditRowsJson(entries)}::jsonb) as r
    where ${onlyIf}`;
}

/** JSON as jsonb will hand it back (Dates as ISO strings, undefined members gone). */
function asStored<T>(value: T | null | undefined): T | null {
  return value === undefined || value === null ? null : (JSON.parse(JSON.stringify(value)) as T);
}

/**
 * The content exactly as the sealer will read it back (src/audit/audit-rows.ts): `at` in ISO 8601
 * with milliseconds, jsonb columns as their JSON round trip.
 */
function macContent(e: AuditEntry): MacContent {
  return {
    at: e.at.toISOString(),
    event: e.event,
    request_id: e.requestId ?? null,
    agent: e.agent ?? null,
    agent_issuer: e.agentIssuer ?? null,
    on_behalf_of: asStored(e.onBehalfOf),
    actor: e.actor ?? null,
    lease_id: e.leaseId ?? null,
    template: e.template ?? null,
    intent: asStored(e.intent),
    decision: e.decision ?? null,
    policies: asStored(e.policies),
    reasons: asStored(e.reasons),
    policy_version: e.policyVersion ?? null,
    detail: asStored(e.detail),
  };
}

// toRow with the table's column names; `at` becomes ISO 8601 with milliseconds (JSON.stringify).
function toColumns(e: AuditEntry): Record<string, unknown> {
  return {
    at: e.at,
    event: e.event,
    request_id: e.requestId ?? null,
    agent: e.agent ?? null,
    agent_issuer: e.agentIssuer ?? null,
    on_behalf_of: e.onBehalfOf ?? null,
    actor: e.actor ?? null,
    lease_id: e.leaseId ?? null,
    template: e.template ?? null,
    intent: e.intent ?? null,
    decision: e.decision ?? null,
    policies: e.policies ?? null,
    reasons: e.reasons ?? null,
    policy_version: e.policyVersion ?? null,
    detail: e.detail ?? null,
  };
}
