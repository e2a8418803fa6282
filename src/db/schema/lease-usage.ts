// How many leases each agent holds in the states that count against `limits:` (pending_approval,
// issuing, active), in total and per template. Maintained by triggers on `leases` (migration
// 0004), so every write path keeps it exact; read under a row lock when a new lease is written.
import { integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

/** The `template` of an agent's row over all templates. */
export const ALL_TEMPLATES = '';

export const leaseUsage = pgTable(
  'lease_usage',
  {
    agentIssuer: text('agent_issuer').notNull(),
    agent: text('agent').notNull(),
    /** A template name, or ALL_TEMPLATES for the agent's total. */
    template: text('template').notNull(),
    live: integer('live').notNull(),
  },
  (t) => [primaryKey({ columns: [t.agentIssuer, t.agent, t.template] })],
);
