// Reads the audit log for `GET /v1/audit`, in the JSON shape the API serves (snake_case, the same
// fields the hash covers). Two orders:
// - browsing: newest first, keyset-paginated by id behind an opaque cursor. Rows are inserted
//   unsealed and commit in any order, so a row whose transaction commits late can land behind a
//   page already read;
// - exporting (`after_seq`): sealed rows in chain order, oldest first. The sealer gives seq
//   numbers in commit order under its lock, so a reader that continues from the last seq it saw
//   never misses a row nor sees one twice; a row shows up once it is sealed (within a sweep).
import { and, asc, desc, eq, gt, gte, isNotNull, lt, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { type AuditEvent, auditEvents } from '../db/schema/audit-events.js';
import { problems } from '../problem.js';
import type { AuditContent } from './audit-hash.js';

export interface AuditRecord extends AuditContent {
  /** Position in the hash chain; null until the sealer has linked the row. */
  seq: number | null;
  hash: string | null;
}

export interface AuditFilters {
  leaseId?: string;
  agent?: string;
  /** Narrows `agent` to one issuer (two issuers may use the same subject). */
  agentIssuer?: string;
  /** Rows with `at` at or after this instant. */
  since?: Date;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** Export order: sealed rows with a higher seq, oldest first (not with `cursor`). */
  afterSeq?: number;
  /** Page size, 1–500 (default 100). */
  limit?: number;
}

export interface AuditPage {
  items: AuditRecord[];
  nextCursor: string | null;
  /** With `afterSeq`: where the next page starts (the last seq returned, or `afterSeq` itself). */
  nextAfterSeq?: number;
}

export const AUDIT_PAGE_MAX = 500;
const AUDIT_PAGE_DEFAULT = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeAuditCursor(id: number): string {
  return Buffer.from(String(id), 'utf8').toString('base64url');
}

function decodeAuditCursor(cursor: string): number {
  const text = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const id = /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id)) {
    throw problems.validation('invalid query', {
      errors: [{ field: 'cursor', message: 'not a cursor returned by this API' }],
    });
  }
  return id;
}

export function toAuditRecord(row: AuditEvent): AuditRecord {
  return {
    id: row.id,
    at: row.at.toISOString(),
    event: row.event,
    request_id: row.requestId,
    agent: row.agent,
    agent_issuer: row.agentIssuer,
    on_behalf_of: row.onBehalfOf,
    actor: row.actor,
    lease_id: row.leaseId,
    template: row.template,
    intent: row.intent,
    decision: row.decision,
    policies: row.policies,
    reasons: row.reasons,
    policy_version: row.policyVersion,
    detail: row.detail,
    seq: row.seq,
    hash: row.hash,
  };
}

export async function listAudit(db: DbOrTx, filters: AuditFilters = {}): Promise<AuditPage> {
  const limit = filters.limit ?? AUDIT_PAGE_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_PAGE_MAX) {
    throw problems.validation('invalid query', {
      errors: [{ field: 'limit', message: `must be an integer from 1 to ${AUDIT_PAGE_MAX}` }],
    });
  }
  if (filters.leaseId !== undefined && !UUID.test(filters.leaseId)) {
    throw problems.validation('invalid query', {
      errors: [{ field: 'lease_id', message: 'must be a UUID' }],
    });
  }
  if (filters.since !== undefined && Number.isNaN(filters.since.getTime())) {
    throw problems.validation('invalid query', {
      errors: [{ field: 'since', message: 'must be a valid date-time' }],
    });
  }
  if (filters.afterSeq !== undefined) {
    if (!Number.isSafeInteger(filters.afterSeq) || filters.afterSeq < 0) {
      throw problems.validation('invalid query', {
        errors: [{ field: 'after_seq', message: 'must be an integer of 0 or more' }],
      });
    }
    if (filters.cursor !== undefined) {
      throw problems.validation('invalid query', {
        errors: [
          { field: 'cursor', message: 'cannot be combined with after_seq (continue with next_after_seq)' },
        ],
      });
    }
  }
  const where: SQL[] = [];
  if (filters.leaseId !== undefined) where.push(eq(auditEvents.leaseId, filters.leaseId.toLowerCase()));
  if (filters.agent !== undefined) where.push(eq(auditEvents.agent, filters.agent));
  if (filters.agentIssuer !== undefined) where.push(eq(auditEvents.agentIssuer, filters.agentIssuer));
  if (filters.since !== undefined) where.push(gte(auditEvents.at, filters.since));
  if (filters.cursor !== undefined) where.push(lt(auditEvents.id, decodeAuditCursor(filters.cursor)));

  if (filters.afterSeq !== undefined) {
    const afterSeq = filters.afterSeq;
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(...where, isNotNull(auditEvents.seq), gt(auditEvents.seq, afterSeq)))
      .orderBy(asc(auditEvents.seq))
      .limit(limit);
    const items = rows.map(toAuditRecord);
    return { items, nextCursor: null, nextAfterSeq: items.at(-1)?.seq ?? afterSeq };
  }

  // One extra row says whether another page exists without a count.
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...where))
    .orderBy(desc(auditEvents.id))
    .limit(limit + 1);
  const items = rows.slice(0, limit).map(toAuditRecord);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeAuditCursor(last.id) : null };
}
