// Prometheus metrics. One registry per app instance so tests (and two apps in one process) never
// share counters.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  decisions: Counter<'template' | 'outcome'>;
  decisionCacheLookups: Counter<'result'>;
  issuance: Histogram<'template' | 'provider'>;
  revocations: Counter<'provider' | 'outcome'>;
  revocationFailures: Counter;
  activeLeases: Gauge;
  revokeFailedLeases: Gauge;
  sweeperLag: Gauge;
  httpRequests: Counter<'method' | 'status'>;
  auditRowsRefused: Counter;
  auditChainBroken: Gauge;
}

export interface MetricsOptions {
  defaultMetrics?: boolean;
  activeLeases?: () => Promise<number>;
  /** Leases whose revocation kept failing (`revoke_failed`), counted at each scrape. */
  revokeFailedLeases?: () => Promise<number>;
  /** Decision cache hits and misses so far, read at each scrape. */
  decisionCacheLookups?: () => { hits: number; misses: number };
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'jit_broker_' });
  const count = options.activeLeases;
  return {
    registry,
    decisions: new Counter({
      name: 'jit_broker_decisions_total',
      help: 'Policy decisions by template and outcome (allow, deny, step_up).',
      labelNames: ['template', 'outcome'],
      registers: [registry],
    }),
    decisionCacheLookups: new Counter({
      name: 'jit_broker_decision_cache_lookups_total',
      help: 'Cedar decision cache lookups by result (hit, miss), over every policy set loaded.',
      labelNames: ['result'],
      registers: [registry],
      // The policy store counts (it is opened before the metrics exist); copied at each scrape.
      collect() {
        const lookups = options.decisionCacheLookups?.();
        if (lookups === undefined) return;
        this.reset();
        this.inc({ result: 'hit' }, lookups.hits);
        this.inc({ result: 'miss' }, lookups.misses);
      },
    }),
    issuance: new Histogram({
      name: 'jit_broker_issuance_duration_seconds',
      help: 'Time from a verified request to a minted credential.',
      labelNames: ['template', 'provider'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    revocations: new Counter({
      name: 'jit_broker_revocations_total',
      help: 'Leases that reached a final state after revocation, by provider and outcome.',
      labelNames: ['provider', 'outcome'],
      registers: [registry],
    }),
    revocationFailures: new Counter({
      name: 'jit_broker_revocation_failures_total',
      help: 'Provider revocation attempts that failed and were scheduled for retry.',
      registers: [registry],
    }),
    activeLeases: new Gauge({
      name: 'jit_broker_active_leases',
      help: 'Leases currently active.',
      registers: [registry],
      async collect() {
        if (count) this.set(await count());
      },
    }),
    revokeFailedLeases: new Gauge({
      // Named without the jit_broker_ prefix on purpose: it is the alert operators page on.
      name: 'jit_revoke_failed_leases',
      help: 'Leases whose revocation failed REVOKE_MAX_ATTEMPTS times and is still being retried.',
      registers: [registry],
      async collect() {
        if (options.revokeFailedLeases) this.set(await options.revokeFailedLeases());
      },
    }),
    sweeperLag: new Gauge({
      name: 'jit_broker_sweeper_lag_seconds',
      help: 'At the last sweep, how long the oldest lease past its expiry had been waiting.',
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'jit_broker_http_requests_total',
      help: 'HTTP requests by method and status.',
      labelNames: ['method', 'status'],
      registers: [registry],
    }),
    auditRowsRefused: new Counter({
      name: 'jit_broker_audit_rows_refused_total',
      help: 'Audit rows the sealer refused to seal: no MAC, or one that does not verify (tampering).',
      registers: [registry],
    }),
    auditChainBroken: new Gauge({
      name: 'jit_broker_audit_chain_broken',
      help: '1 when the last verification of the audit chain failed, else 0.',
      registers: [registry],
    }),
  };
}
