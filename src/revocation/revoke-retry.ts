// A provider revocation that failed: scheduled again with backoff, and after REVOKE_MAX_ATTEMPTS
// failures moved to `revoke_failed` (audited, logged at error level, announced), retried slowly.
import { sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RevokeFailedNotifier } from './revoke-failed-notifier.js';

/** The part of the revoker's dependencies a retry needs. */
export interface RetryDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** Failed provider attempts after which a lease is `revoke_failed`. */
  maxAttempts: number;
  failureNotifier?: RevokeFailedNotifier | undefined;
}

const MAX_BACKOFF_SECONDS = 300;
/** A `revoke_failed` lease is still retried, this often: the target may come back. */
const FAILED_RETRY_SECONDS = 900;

interface FailedRow extends Record<string, unknown> {
  id: string;
  provider: string;
  agent: string;
  agent_issuer: string;
  on_behalf_of: { sub: string; issuer: string } | null;
  template: string;
  revoke_reason: string | null;
  revoke_attempts: number;
  last_error: string | null;
}

export async function deferRetry(deps: RetryDeps, leaseId: string, error: unknown): Promise<void> {
  const now = deps.clock.now();
  const at = now.toISOString();
  const message = error instanceof Error ? error.message : String(error);
  deps.logger.warn({ leaseId, err: error }, 'revocation at the provider failed; will retry');
  deps.metrics.revocationFailures.inc();
  const max = deps.maxAttempts;
  // Exponential backoff with full jitter, capped: a target that is down is not hammered. After
  // `max` failures the lease is `revoke_failed` (audited once, here) and retried slowly.
  // The state change and its audit row (written by the app, so it carries its MAC) commit together.
  const failed = await deps.db.transaction(async (tx) => {
    const [row] = await tx.execute<FailedRow>(sql`
      with prev as (select state as was from leases where id = ${leaseId}),
      upd as (
        update leases set
          revoke_attempts = revoke_attempts + 1,
          state = case when revoke_attempts + 1 >= ${max} then 'revoke_failed' else state end,
          next_attempt_at = ${at}::timestamptz + case
            when revoke_attempts + 1 >= ${max} then make_interval(secs => ${FAILED_RETRY_SECONDS})
            else make_interval(secs =>
              least(${MAX_BACKOFF_SECONDS}, power(2, least(revoke_attempts, 16))) * (0.5 + random() / 2)) end,
          last_error = ${message.slice(0, 500)},
          claimed_by = null,
          updated_at = ${at}::timestamptz
        where id = ${leaseId} and state in ('revoking', 'revoke_failed')
        returning id, state, provider, agent, agent_issuer, on_behalf_of, template, revoke_reason,
                  revoke_attempts, last_error
      )
      select upd.id, upd.provider, upd.agent, upd.agent_issuer, upd.on_behalf_of, upd.template,
             upd.revoke_reason, upd.revoke_attempts, upd.last_error
      from upd, prev where prev.was = 'revoking' and upd.state = 'revoke_failed'`);
    if (row) {
      await recordAudit(tx, {
        at: now,
        event: 'lease.revoke_failed',
        agent: row.agent,
        agentIssuer: row.agent_issuer,
        onBehalfOf: row.on_behalf_of ?? null,
        actor: `provider:${row.provider}`,
        leaseId: row.id,
        template: row.template,
        detail: { reason: row.revoke_reason, attempts: row.revoke_attempts, error: row.last_error },
      });
    }
    return row;
  });
  if (!failed) return;
  deps.logger.error(
    {
      leaseId,
      agent: failed.agent,
      template: failed.template,
      provider: failed.provider,
      attempts: failed.revoke_attempts,
      err: error,
    },
    `revocation failed ${failed.revoke_attempts} times: the lease is revoke_failed; retrying every ${FAILED_RETRY_SECONDS} s`,
  );
  deps.failureNotifier?.notify({
    lease_id: failed.id,
    agent: failed.agent,
    agent_issuer: failed.agent_issuer,
    template: failed.template,
    provider: failed.provider,
    attempts: failed.revoke_attempts,
    last_error: failed.last_error,
  });
}
