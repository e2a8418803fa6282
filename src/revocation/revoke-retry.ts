// A provider revocation that failed: scheduled again with backoff, and after REVOKE_MAX_ATTEMPTS
// failures moved to `revoke_failed` (audited, logged at error level, announced), retried slowly.
import { sql } from 'drizzle-orm';
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
  template: string;
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
  const [failed] = await deps.db.execute<FailedRow>(sql`
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
    ), became as (
      select upd.* from upd, prev where prev.was = 'revoking' and upd.state = 'revoke_failed'
    ), aud as (
      insert into audit_events (at, event, agent, agent_issuer, on_behalf_of, actor, lease_id, template, detail)
      select ${at}::timestamptz, 'lease.revoke_failed', agent, agent_issuer, on_behalf_of, 'provider:' || provider,
             id, template, jsonb_build_object('reason', revoke_reason, 'attempts', revoke_attempts, 'error', last_error)
      from became
    )
    select id, provider, agent, agent_issuer, template, revoke_attempts, last_error from became`);
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
