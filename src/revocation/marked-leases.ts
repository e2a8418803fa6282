// The vocabulary of a revocation: which leases a filter matches, the row a marking statement
// returns for each lease it marked, and the audit row of a lease's revocation step.
import { type SQL, sql } from 'drizzle-orm';
import type { AuditEntry } from '../audit/audit-log.js';
import type { RevokeOutcome } from '../db/schema/index.js';

export interface RevocationFilter {
  leaseIds?: string[];
  agent?: string;
  agentIssuer?: string;
  taskId?: string;
  template?: string;
}

export interface MarkedRow extends Record<string, unknown> {
  id: string;
  state: string;
  provider: string;
  template: string;
  revocation: Record<string, unknown> | null;
  revoke_outcome: RevokeOutcome;
  /** What the confirmation's audit row is made of, as marked (the mark claims the row). */
  agent: string;
  agent_issuer: string;
  on_behalf_of: { sub: string; issuer: string } | null;
  revoke_reason: string | null;
  revoke_attempts: number;
}

/** The columns every marking statement returns (MarkedRow). */
export const MARKED_COLUMNS = sql.raw(
  'l.id, l.state, l.provider, l.template, l.revocation, l.revoke_outcome, l.agent, l.agent_issuer, l.on_behalf_of, l.revoke_reason, l.revoke_attempts',
);

/** The lease columns a revocation's audit row is made of. */
export interface AuditedLease extends Record<string, unknown> {
  id: string;
  state: string;
  agent: string;
  agent_issuer: string;
  on_behalf_of: { sub: string; issuer: string } | null;
  template: string;
}

export function leaseAudit(
  lease: AuditedLease,
  at: Date,
  actor: string,
  detail: Record<string, unknown>,
  requestId?: string | null,
): AuditEntry {
  return {
    at,
    event: `lease.${lease.state}`,
    requestId: requestId ?? null,
    agent: lease.agent,
    agentIssuer: lease.agent_issuer,
    onBehalfOf: lease.on_behalf_of,
    actor,
    leaseId: lease.id,
    template: lease.template,
    detail,
  };
}

/** `column in (...)`; drizzle expands an array into a parenthesised list, and `in ()` is invalid. */
export function inList(column: SQL, values: readonly string[]): SQL {
  return values.length === 0 ? sql`false` : sql`${column} in ${values}`;
}

export function filterSql(f: RevocationFilter): SQL {
  const parts: SQL[] = [];
  if (f.leaseIds !== undefined) parts.push(inList(sql`id`, f.leaseIds));
  if (f.agent !== undefined) parts.push(sql`agent = ${f.agent}`);
  if (f.agentIssuer !== undefined) parts.push(sql`agent_issuer = ${f.agentIssuer}`);
  if (f.taskId !== undefined) parts.push(sql`task_id = ${f.taskId}`);
  if (f.template !== undefined) parts.push(sql`template = ${f.template}`);
  if (parts.length === 0) throw new Error('refusing to revoke without a filter');
  return sql.join(parts, sql` and `);
}
