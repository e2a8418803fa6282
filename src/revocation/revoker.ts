// Revocation, the one path behind explicit revokes, task completion, webhooks, bulk revokes and
// expiry. A lease is first marked `revoking` together with its audit row (one statement, so a
// bulk revoke of 100k leases is one round trip); the provider is then asked to revoke, and only
// its confirmation moves the lease to its final state. Failures are retried with backoff by the
// sweeper. Leases of side-effect-free providers (JWT) have nothing to undo and are finalised at once.
import { type SQL, sql } from 'drizzle-orm';
import type postgres from 'postgres';
import { auditInsert, recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { claimedByDeadInstance } from '../db/broker-instance.js';
import type { Db, DbOrTx } from '../db/client.js';
import type { Lease, RevokeOutcome } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { getOwnedLease } from '../leases/lease-reads.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PolicyStore } from '../policy/policy-store.js';
import type { ProviderRegistry } from '../providers/types.js';
import type { StepUpRequests } from '../step-up/step-up-requests.js';
import {
  type AuditedLease,
  filterSql,
  inList,
  leaseAudit,
  MARKED_COLUMNS,
  type MarkedRow,
  type RevocationFilter,
} from './marked-leases.js';
import type { RevokeFailedNotifier } from './revoke-failed-notifier.js';
import { deferRetry } from './revoke-retry.js';

export type { RevocationFilter } from './marked-leases.js';

/** While one replica calls the provider, the lease is hidden from the others this long. */
const CLAIM_SECONDS = 60;
const PROVIDER_CONCURRENCY = 8;

export interface MarkOptions {
  filter: SQL;
  outcome: RevokeOutcome;
  reason: string;
  actor: string;
  requestId: string | undefined;
  /** Sweeper claims skip rows another replica holds; explicit revokes wait for them. */
  skipLocked: boolean;
  limit?: number;
  states: readonly ('active' | 'issuing')[];
}

export interface RevocationDeps {
  db: Db;
  /** The same pool through postgres.js, for the one-statement writes (a CTE with its audit row). */
  sql: postgres.Sql;
  clock: Clock;
  logger: Logger;
  providers: ProviderRegistry;
  policies: PolicyStore;
  metrics: Metrics;
  /**
   * Closes the open step-up requests a revocation matches, inside the revocation's transaction,
   * so that a cut-off agent cannot later collect a credential it asked for before.
   */
  stepUp: Pick<StepUpRequests, 'withdraw'>;
  /** Failed provider attempts after which a lease is `revoke_failed` (REVOKE_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** This process's instance key: a lease it is confirming is claimed by it. */
  instanceKey: number;
  /** Tells operators (APPROVAL_WEBHOOK_URL) when a lease becomes `revoke_failed`. */
  failureNotifier?: RevokeFailedNotifier;
}

/** A revocation still to be confirmed at the provider: first tries, and ones that kept failing. */
const UNCONFIRMED = new Set(['revoking', 'revoke_failed']);

export interface RevokeResult {
  /** Lease ids marked for revocation. */
  revoked: string[];
  /** Step-up requests (approval ids) closed as denied. */
  withdrawn: string[];
}

export class Revoker {
  constructor(private readonly deps: RevocationDeps) {}

  private sideEffectFree(): string[] {
    return Object.values(this.deps.providers)
      .filter((p) => p?.sideEffectFree)
      .map((p) => p!.kind);
  }

  /**
   * Marks matching live leases (and audits it) in one statement. Returns every lease marked;
   * the ones still `revoking` need `confirm()`.
   */
  async mark(options: MarkOptions, db: DbOrTx = this.deps.db): Promise<MarkedRow[]> {
    const now = this.deps.clock.now();
    const claimUntil = new Date(now.getTime() + CLAIM_SECONDS * 1000);
    const sef = this.sideEffectFree();
    const states = options.states as string[];
    const lock = options.skipLocked ? sql`for update skip locked` : sql`for update`;
    const lockLeases = options.skipLocked ? sql`for update of l skip locked` : sql`for update of l`;
    const limit = options.limit === undefined ? sql`` : sql`limit ${options.limit}`;
    const order = options.skipLocked ? sql`order by expires_at` : sql`order by id`;
    // Delegated leases (token exchange chains) end with their parent, in this same statement.
    // The audit rows are written from the application (each carries a MAC computed here), in the
    // same transaction as the update (the caller's, when `db` is already a transaction).
    // Inside a caller's transaction already: no savepoint (a failure fails that transaction anyway).
    const atomically = <T>(fn: (tx: DbOrTx) => Promise<T>): Promise<T> =>
      db === this.deps.db ? this.deps.db.transaction(fn) : fn(db);
    const rows = await atomically(async (tx) => {
      const updated = await tx.execute<MarkedRow & AuditedLease & { parent: string | null }>(sql`
        with recursive roots as (
          select id from leases
          where ${inList(sql`state`, states)} and ${options.filter}
          ${order} ${limit} ${lock}
        ), tree (id, parent) as (
          select id, null::uuid from roots
          union
          select c.id, c.parent_lease_id from leases c join tree t on c.parent_lease_id = t.id
        ), target as (
          select l.id, tree.parent from leases l join tree on tree.id = l.id
          where ${inList(sql`l.state`, states)} and (tree.parent is null or l.id not in (select id from roots))
          order by l.id ${lockLeases}
        )
        update leases l set
          state = case when ${inList(sql`l.provider`, sef)} and l.state = 'active' then ${options.outcome} else 'revoking' end,
          revoked_at = case when ${inList(sql`l.provider`, sef)} and l.state = 'active' then ${now.toISOString()}::timestamptz else null end,
          revoke_reason = ${options.reason},
          revoke_outcome = ${options.outcome},
          next_attempt_at = ${claimUntil.toISOString()}::timestamptz,
          claimed_by = case when ${inList(sql`l.provider`, sef)} and l.state = 'active' then null else ${this.deps.instanceKey}::int end,
          updated_at = ${now.toISOString()}::timestamptz
        from target where l.id = target.id
        returning ${MARKED_COLUMNS}, target.parent`);
      const list = [...updated];
      await recordAudit(
        tx,
        list.map((r) =>
          leaseAudit(
            r,
            now,
            options.actor,
            r.parent === null
              ? { reason: options.reason }
              : { reason: options.reason, delegated_from: r.parent },
            options.requestId,
          ),
        ),
      );
      return list;
    });
    const marked = [...rows];
    for (const row of marked) {
      if (row.state !== 'revoking')
        this.deps.metrics.revocations.inc({ provider: row.provider, outcome: row.state });
    }
    return marked;
  }

  /** Asks providers to revoke marked leases; confirmed ones reach their final state. */
  async confirm(rows: readonly MarkedRow[]): Promise<void> {
    const pending = rows.filter((r) => UNCONFIRMED.has(r.state));
    for (let i = 0; i < pending.length; i += PROVIDER_CONCURRENCY) {
      await Promise.all(pending.slice(i, i + PROVIDER_CONCURRENCY).map((row) => this.confirmOne(row)));
    }
  }

  private async confirmOne(row: MarkedRow): Promise<void> {
    const provider = this.deps.providers[row.provider as keyof ProviderRegistry];
    const template = this.deps.policies.current().templates.get(row.template);
    try {
      if (!provider) throw new Error(`provider "${row.provider}" is not configured on this broker`);
      await provider.revoke({
        leaseId: row.id,
        revocation: row.revocation ?? undefined,
        template: template?.provider === row.provider ? template : undefined,
      });
    } catch (error) {
      await deferRetry(this.deps, row.id, error);
      return;
    }
    const now = this.deps.clock.now();
    // One statement: the final state and its audit row, built from the row as it was marked. The
    // mark claimed the row, so nobody else changed it since; the guard on the attempts keeps the
    // audit row true should that ever not hold (the row then stays for the sweeper's next pass).
    const audit = leaseAudit({ ...row, state: row.revoke_outcome }, now, `provider:${row.provider}`, {
      reason: row.revoke_reason,
      attempts: row.revoke_attempts + 1,
    });
    const pg = this.deps.sql;
    await pg`
      with confirmed as (
        update leases set state = revoke_outcome, revoked_at = ${now.toISOString()}::timestamptz, last_error = null,
               next_attempt_at = null, claimed_by = null, updated_at = ${now.toISOString()}::timestamptz
        where id = ${row.id} and state in ('revoking', 'revoke_failed') and revoke_attempts = ${row.revoke_attempts}
        returning id),
      audit as (${auditInsert(pg, [audit], pg`exists (select 1 from confirmed)`)})
      select count(*)::int as n from confirmed`;
    this.deps.metrics.revocations.inc({ provider: row.provider, outcome: row.revoke_outcome });
  }

  /**
   * Revoke now (explicit revokes, tasks, webhooks, bulk). Returns the ids of the leases marked.
   * `before` runs in the marking transaction (a webhook's delivery claim commits with its effect).
   */
  async revoke(
    filter: RevocationFilter,
    reason: string,
    actor: string,
    requestId: string | undefined,
    before?: (tx: DbOrTx) => Promise<void>,
  ): Promise<string[]> {
    return (await this.revokeMatching(filter, reason, actor, requestId, before)).revoked;
  }

  /**
   * Revokes the live leases matching `filter` and closes the open step-up requests it matches, in
   * one transaction together with `before` (a webhook's delivery claim, a staff audit row).
   */
  async revokeMatching(
    filter: RevocationFilter,
    reason: string,
    actor: string,
    requestId: string | undefined,
    before?: (tx: DbOrTx) => Promise<void>,
  ): Promise<RevokeResult> {
    const options: MarkOptions = {
      filter: filterSql(filter),
      outcome: 'revoked',
      reason,
      actor,
      requestId,
      skipLocked: false,
      states: ['active', 'issuing'],
    };
    const { rows, withdrawn } = await this.deps.db.transaction(async (tx) => {
      await before?.(tx);
      const closed = await this.deps.stepUp.withdraw(tx, filter, reason, actor, requestId);
      return { rows: await this.mark(options, tx), withdrawn: closed };
    });
    await this.confirm(rows);
    return { revoked: rows.map((r) => r.id), withdrawn };
  }

  /** An agent revokes one of its own leases; someone else's is a 404. */
  async revokeOwned(identity: WorkloadIdentity, leaseId: string, requestId: string): Promise<Lease> {
    await getOwnedLease(this.deps.db, identity, leaseId);
    await this.revoke(
      { leaseIds: [leaseId] },
      'revoked by the agent',
      `agent:${identity.subject}`,
      requestId,
    );
    return getOwnedLease(this.deps.db, identity, leaseId);
  }

  /** Every live lease of the agent's task; returns the lease ids revoked. */
  completeTask(identity: WorkloadIdentity, taskId: string, requestId: string): Promise<string[]> {
    return this.revoke(
      { agent: identity.subject, agentIssuer: identity.issuer, taskId },
      'task completed',
      `agent:${identity.subject}`,
      requestId,
    );
  }

  /**
   * Sweeper: claims revocations whose retry time has come, and at once those claimed by an
   * instance that died mid-revocation, and tries the provider again.
   */
  async retryDue(batch: number): Promise<number> {
    const now = this.deps.clock.now();
    const claimUntil = new Date(now.getTime() + CLAIM_SECONDS * 1000);
    const rows = await this.deps.db.execute<MarkedRow>(sql`
      with due as (
        select id from leases
        where state in ('revoking', 'revoke_failed')
          and (next_attempt_at <= ${now.toISOString()}::timestamptz or ${claimedByDeadInstance(sql`claimed_by`)})
        order by next_attempt_at limit ${batch} for update skip locked
      )
      update leases l set next_attempt_at = ${claimUntil.toISOString()}::timestamptz,
        claimed_by = ${this.deps.instanceKey}::int
      from due where l.id = due.id
      returning ${MARKED_COLUMNS}`);
    await this.confirm([...rows]);
    return rows.length;
  }
}
