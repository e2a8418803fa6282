// What the issuance path is built from, and the provider lookup every decision starts with.
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import type { LeaseWriter } from '../leases/lease-writer.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { problems } from '../problem.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider, ProviderRegistry } from '../providers/types.js';
import type { StepUpRequests } from '../step-up/step-up-requests.js';

export interface IssuanceDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  providers: ProviderRegistry;
  stepUp: StepUpRequests;
  /** This process's instance key: an `issuing` lease is claimed by it until it is active. */
  instanceKey: number;
  /** Writes new leases, batched with the other requests in flight (group commit). */
  leaseWriter: LeaseWriter;
}

/** The configured provider of a template, or 503: the broker runs without it. */
export function providerFor(providers: ProviderRegistry, kind: Template['provider']): AnyProvider {
  const provider = providers[kind];
  if (!provider)
    throw problems.unavailable(`the ${kind} provider is not configured on this broker`, {
      retryAfterSeconds: 30,
    });
  return provider;
}
