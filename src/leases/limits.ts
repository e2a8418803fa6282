// Per-agent quotas (broker.yaml `limits:`): live leases per agent, per agent and template, and new
// leases per minute. Enforced in PostgreSQL so they are exact across replicas. The live counts are
// kept by triggers in `lease_usage` (migration 0004); the statement that writes new leases also
// calls jit_take_lease_slots, which locks the agents' usage rows and fails the statement (SQLSTATE
// JL001) when a cap would be passed, so check and write are one statement with no count to run.
// The per-minute rate, when on, has to count the agent's recent leases: that path is a
// transaction under the agent's advisory lock, with the count read after the lock is held.
import type postgres from 'postgres';
import { PENDING_OR_LIVE_STATES } from '../db/schema/index.js';
import type { LimitsConfig } from '../policy-config/broker-yaml.js';
import { type Problem, problems } from '../problem.js';
import type { Template } from '../providers/templates.js';

type Sql = postgres.Sql | postgres.TransactionSql;
type Fragment = postgres.PendingQuery<postgres.Row[]>;

/** First key of the two-key advisory lock of an agent's issuance rate ("jitl"). */
const LIMIT_LOCK_CLASS = 0x6a69746c;
const MAX_RETRY_AFTER_SECONDS = 3600;
/** Raised by jit_take_lease_slots; its DETAIL is JSON naming the agent, template and cap. */
export const LIMIT_REACHED = 'JL001';

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

/** Who a new lease counts against. */
export interface LeaseOwner {
  agent: string;
  agentIssuer: string;
  template: string;
}

/**
 * `select jit_take_lease_slots(…)` for new leases: the final SELECT of the statement that inserts
 * them (a data-modifying CTE runs whatever the final SELECT reads; this one fails the statement).
 */
export function takeLeaseSlots(
  sql: Sql,
  writes: readonly { lease: LeaseOwner; limits: AgentLimits }[],
): Fragment {
  const slots = writes.map(({ lease, limits }) => ({
    agent_issuer: lease.agentIssuer,
    agent: lease.agent,
    template: lease.template,
    n: 1,
    cap: limits.liveLeasesPerAgent,
    template_cap: limits.template?.maxLiveLeasesPerAgent ?? null,
  }));
  return sql`select jit_take_lease_slots(${JSON.stringify(slots)}::jsonb)`;
}

function secondsUntil(at: string | Date | null, now: Date, plusSeconds = 0): number {
  const ms = at === null ? 1000 : new Date(at).getTime() + plusSeconds * 1000 - now.getTime();
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(ms / 1000)));
}

function sqlState(error: unknown): { code?: string; detail?: string } {
  return typeof error === 'object' && error !== null ? (error as { code?: string; detail?: string }) : {};
}

/**
 * The 429 for a statement jit_take_lease_slots refused, naming the limit, with Retry-After at the
 * next expiry of a lease that counts; undefined for any other error. Only runs on a refusal.
 */
async function limitProblem(sql: postgres.Sql, error: unknown, now: Date): Promise<Problem | undefined> {
  const { code, detail } = sqlState(error);
  if (code !== LIMIT_REACHED || detail === undefined) return undefined;
  const hit = JSON.parse(detail) as {
    agent_issuer: string;
    agent: string;
    template: string | null;
    cap: number;
  };
  const [next] = await sql<{ at: Date | null }[]>`
    select min(expires_at) as at from leases
    where agent = ${hit.agent} and agent_issuer = ${hit.agent_issuer} and state in ${sql(PENDING_OR_LIVE_STATES)}
      and (${hit.template}::text is null or template = ${hit.template})`;
  const retryAfterSeconds = secondsUntil(next?.at ?? null, now);
  return hit.template === null
    ? problems.limitExceeded({ limit: 'live_leases_per_agent', value: hit.cap, retryAfterSeconds })
    : problems.limitExceeded({
        limit: 'max_live_leases_per_agent',
        value: hit.cap,
        retryAfterSeconds,
        template: hit.template,
      });
}

/** Runs `write`, turning a refused slot into its 429. */
async function writeWithinLimits(sql: postgres.Sql, now: Date, write: () => Promise<unknown>): Promise<void> {
  try {
    await write();
  } catch (error) {
    throw (await limitProblem(sql, error, now)) ?? error;
  }
}

/**
 * With `issuances_per_minute_per_agent` on: runs `write` (the statement that inserts the agent's
 * new lease, with its slot) in one transaction with the count of the agent's leases of the last
 * minute, under the agent's lock, or throws a 429 naming the limit.
 */
async function withinRateLimit(
  sql: postgres.Sql,
  lease: { agent: string; agentIssuer: string; createdAt: Date },
  limits: AgentLimits,
  write: (tx: postgres.TransactionSql) => Fragment,
): Promise<void> {
  const now = lease.createdAt;
  const since = new Date(now.getTime() - 60_000).toISOString();
  await writeWithinLimits(sql, now, () =>
    sql.begin(async (tx) => {
      // Sent together (postgres.js pipelines them): one round trip for the lock and the count.
      const [, [usage]] = await Promise.all([
        tx`select pg_advisory_xact_lock(${LIMIT_LOCK_CLASS}::int, hashtext(${lease.agentIssuer} || ' ' || ${lease.agent}))`,
        tx<{ recent: number; oldest: string | null }[]>`
          select count(*)::int as recent, min(created_at) as oldest from leases
          where agent = ${lease.agent} and agent_issuer = ${lease.agentIssuer} and created_at > ${since}::timestamptz`,
      ]);
      if (usage!.recent >= limits.issuancesPerMinutePerAgent)
        throw problems.limitExceeded({
          limit: 'issuances_per_minute_per_agent',
          value: limits.issuancesPerMinutePerAgent,
          retryAfterSeconds: secondsUntil(usage!.oldest, now, 60),
        });
      await write(tx);
    }),
  );
}

/**
 * Runs the statement that writes the agent's new lease (with its slot): on its own, or, with the
 * per-minute rate on, inside withinRateLimit's transaction. A refusal is its 429.
 */
export function writeNewLease(
  sql: postgres.Sql,
  lease: { agent: string; agentIssuer: string; createdAt: Date },
  limits: AgentLimits,
  statement: (sql: postgres.Sql | postgres.TransactionSql) => Fragment,
): Promise<void> {
  if (limits.issuancesPerMinutePerAgent > 0) return withinRateLimit(sql, lease, limits, statement);
  return writeWithinLimits(sql, lease.createdAt, () => statement(sql).execute());
}
