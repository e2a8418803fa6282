// Tells operators a revocation keeps failing: a signed JSON POST to APPROVAL_WEBHOOK_URL (the
// broker's one outbound channel to people), in the same scheme as the step-up notification. Sent
// once per lease when it becomes `revoke_failed`; delivery runs beside the sweep, retried with
// capped backoff a bounded number of times. The lease itself stays listed and counted in /metrics.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from '../webhooks/signature.js';

/** The JSON body of the notification. Nothing secret: the lease keeps none. */
export interface RevokeFailedEvent {
  type: 'lease.revoke_failed';
  delivery_id: string;
  lease_id: string;
  agent: string;
  agent_issuer: string;
  template: string;
  provider: string;
  attempts: number;
  last_error: string | null;
  console_url: string;
}

export interface RevokeFailedNotifier {
  notify(event: Omit<RevokeFailedEvent, 'type' | 'delivery_id' | 'console_url'>): void;
  /** Resolves once every queued delivery has succeeded or given up (tests, shutdown). */
  idle(): Promise<void>;
}

export interface RevokeFailedNotifierOptions {
  url: string;
  /** WEBHOOK_SECRET: the receiver verifies X-Broker-Signature with it. */
  secret: string;
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  /** Attempts in all (default 8), the first after 1 s doubling to at most 60 s. */
  attempts?: number;
  baseDelayMs?: number;
}

const MAX_DELAY_MS = 60_000;
const TIMEOUT_MS = 5000;

export function createRevokeFailedNotifier(options: RevokeFailedNotifierOptions): RevokeFailedNotifier {
  const attempts = options.attempts ?? 8;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  // The path and query of a webhook URL are often its secret: log the origin only.
  const target = new URL(options.url).origin;
  const inFlight = new Set<Promise<void>>();

  async function deliver(event: RevokeFailedEvent): Promise<void> {
    const body = JSON.stringify(event);
    const log = { leaseId: event.lease_id, deliveryId: event.delivery_id, target };
    for (let n = 1; n <= attempts; n++) {
      let outcome: string;
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'jit-broker',
            [SIGNATURE_HEADER]: signWebhook(options.secret, body, options.clock.now()),
            [DELIVERY_HEADER]: event.delivery_id,
          },
          body,
          signal: AbortSignal.timeout(TIMEOUT_MS),
          redirect: 'manual',
        });
        await response.body?.cancel();
        if (response.ok) {
          options.logger.info({ ...log, attempt: n }, 'revoke-failed notification delivered');
          return;
        }
        outcome = `HTTP ${response.status}`;
      } catch (error) {
        outcome = error instanceof Error ? error.name : 'error';
      }
      if (n === attempts) break;
      const wait = Math.min(MAX_DELAY_MS, baseDelayMs * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4);
      options.logger.warn({ ...log, attempt: n, outcome }, 'revoke-failed notification failed; retrying');
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
    }
    options.logger.error({ ...log, attempts }, 'revoke-failed notification failed; giving up');
  }

  return {
    notify(fields) {
      const event: RevokeFailedEvent = {
        type: 'lease.revoke_failed',
        delivery_id: randomUUID(),
        ...fields,
        console_url: `${options.publicUrl}/console/leases`,
      };
      const running = deliver(event).finally(() => inFlight.delete(running));
      inFlight.add(running);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
