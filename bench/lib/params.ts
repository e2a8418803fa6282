// What one bench run does: the full run (issue 7's sizes and durations) or --quick (the same
// scenarios, smaller and shorter, in under two minutes). Every load loop is bounded by these.

export interface BenchParams {
  quick: boolean;
  /** Concurrent connections of every HTTP load (and in-flight transactions of the SQL ceiling). */
  connections: number;
  /** Seconds of each measured load; warm-up seconds run first and are not counted. */
  loadSeconds: number;
  warmupSeconds: number;
  /** Pre-signed workload tokens, rotated over the connections. */
  agentTokens: number;
  bulkRevokeLeases: number;
  expiryLeases: number;
  scaleLeases: number;
  /** Seconds of PostgreSQL-role issuance (each lease is then revoked). */
  postgresSeconds: number;
  postgresConnections: number;
  sweepIntervalSeconds: number;
}

export function benchParams(quick: boolean): BenchParams {
  return quick
    ? {
        quick,
        connections: 32,
        loadSeconds: 5,
        warmupSeconds: 1,
        agentTokens: 8,
        bulkRevokeLeases: 10_000,
        expiryLeases: 2_000,
        scaleLeases: 100_000,
        postgresSeconds: 4,
        postgresConnections: 16,
        sweepIntervalSeconds: 1,
      }
    : {
        quick,
        connections: 32,
        loadSeconds: 20,
        warmupSeconds: 3,
        agentTokens: 8,
        bulkRevokeLeases: 100_000,
        expiryLeases: 10_000,
        scaleLeases: 1_000_000,
        postgresSeconds: 20,
        postgresConnections: 16,
        sweepIntervalSeconds: 1,
      };
}
