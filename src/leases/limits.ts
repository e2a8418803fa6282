// Per-agent quotas (broker.yaml `limits:`): live leases per agent, per agent and template, and new
// leases per minute. Enforced in PostgreSQL so they are exact across replicas: the agent's
// transaction-level advisory lock serialises its new leases, and the count is read after the lock
// is held (a statement's snapshot is taken when it starts, so the count cannot share the lock's
// statement), then the lease is written in the same transaction.
import type postgres from 'postgres';
import { PENDING_OR_LIVE_STATES } from '../db/schema/index.js';
import type { LimitsConfig } from '../policy-config/broker-yaml.js';
import { problems } from '../problem.js';
import type { Template } from '../providers/templates.js';

/** First key of the two-key advisory lock of an agent's quota ("jitl"). */
const LIMIT_LOCK_CLASS = 0x6a69746c;
const MAX_RETRY_AFTER_SECONDS = 3600;

export interface AgentLimits {
  liveLeasesPerAgent: number;
  /** The template's lower cap, when it sets one. */
  template?: { name: string; maxLiveLeasesPerAgent: number };
  /** 0 = off. */
  issuancesPerMinutePerAgent: number;
}

export function agentLimits(limits: LimitsConfig, template: Template): AgentLimits {
  const cap = template.max_live_leases_per_agent;
  return {
    liveLeasesPerAgent: limits.live_leases_per_agent,
    template: cap === undefined ? undefined : { name: template.name, maxLiveLeasesPerAgent: cap },
    issuancesPerMinutePerAgent: limits.issuances_per_minute_per_agent,
  };
}

interface Usage {
  live: number;
  template_live: number;
  recent: number;
  next_free: string | null;
  template_next_free: string | null;
  oldest_recent: string | null;
}

function secondsUntil(at: string | null, now: Date, plusSeconds = 0): number {
  const ms = at === null ? 1000 : new Date(at).getTime() + plusSeconds * 1000 - now.getTime();
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

/**
 * Runs `write` (the statement that inserts the agent's new lease) in one transaction with the
 * quota check, or throws a 429 naming the limit. Live = waiting for approval, issuing or active.
 */
export async function withinAgentLimits(
  sql: postgres.Sql,
  lease: { agent: string; agentIssuer: string; createdAt: Date },
  limits: AgentLimits,
  write: (tx: postgres.TransactionSql) => postgres.PendingQuery<postgres.Row[]>,
): Promise<void> {
  const now = lease.createdAt;
  const since = new Date(now.getTime() - 60_000).toISOString();
  const templateName = limits.template?.name ?? null;
  await sql.begin(async (tx) => {
    // Sent together (postgres.js pipelines them): one round trip for the lock and the count.
    const [, [usage]] = await Promise.all([
      tx`select pg_advisory_xact_lock(${LIMIT_LOCK_CLASS}::int, hashtext(${lease.agentIssuer} || ' ' || ${lease.agent}))`,
      tx<Usage[]>`
        select count(*) filter (where state in ${tx(PENDING_OR_LIVE_STATES)})::int as live,
               count(*) filter (where state in ${tx(PENDING_OR_LIVE_STATES)} and template = ${templateName})::int as template_live,
               count(*) filter (where created_at > ${since}::timestamptz)::int as recent,
               min(expires_at) filter (where state in ${tx(PENDING_OR_LIVE_STATES)}) as next_free,
               min(expires_at) filter (where state in ${tx(PENDING_OR_LIVE_STATES)} and template = ${templateName}) as template_next_free,
               min(created_at) filter (where created_at > ${since}::timestamptz) as oldest_recent
        from leases where agent = ${lease.agent} and agent_issuer = ${lease.agentIssuer}`,
    ]);
    const u = usage!;
    if (u.live >= limits.liveLeasesPerAgent)
      throw problems.limitExceeded({
        limit: 'live_leases_per_agent',
        value: limits.liveLeasesPerAgent,
        retryAfterSeconds: secondsUntil(u.next_free, now),
      });
    if (limits.template && u.template_live >= limits.template.maxLiveLeasesPerAgent)
      throw problems.limitExceeded({
        limit: 'max_live_leases_per_agent',
        value: limits.template.maxLiveLeasesPerAgent,
        retryAfterSeconds: secondsUntil(u.template_next_free, now),
        template: limits.template.name,
      });
    if (limits.issuancesPerMinutePerAgent > 0 && u.recent >= limits.issuancesPerMinutePerAgent)
      throw problems.limitExceeded({
        limit: 'issuances_per_minute_per_agent',
        value: limits.issuancesPerMinutePerAgent,
        retryAfterSeconds: secondsUntil(u.oldest_recent, now, 60),
      });
    await write(tx);
  });
}
