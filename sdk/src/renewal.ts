// Keeps a lease alive while work runs: renews when half of its remaining life is left (policy is
// re-evaluated by the broker each time), retries passing failures until the lease would expire,
// and stops for good on a refusal (denied, revoked, unknown) or once the max TTL is reached.

import type { JitBroker } from './client.js';
import { BrokerError, UnavailableError } from './errors.js';
import type { Credential, IssuedCredential, RenewedLease } from './types.js';

export type RenewalEnd = 'stopped' | 'refused' | 'max-ttl';

export interface RenewalOptions {
  /** TTL to ask for on each renewal; default the template's. */
  ttlSeconds?: number;
  onRenewed?: (lease: RenewedLease, credential: Credential) => void;
  /** The broker refused a renewal (or the lease ran out while retrying): the credential is going away. */
  onRefused?: (error: unknown) => void;
  /** The lease reached its max TTL: it cannot be extended and expires at `expiresAt`. */
  onMaxTtl?: (expiresAt: Date) => void;
  /** A renewal failed in a way worth retrying (network, 5xx, 429). */
  onRetry?: (error: unknown) => void;
}

export interface Renewal {
  readonly leaseId: string;
  /** The newest credential (renewals of jwt, postgres and aws_sts leases hand out fresh ones). */
  readonly credential: Credential;
  readonly expiresAt: Date;
  /** Aborted when the renewal was refused: pass it to work that must stop with the credential. */
  readonly signal: AbortSignal;
  /** Settles when renewing ends, with why. */
  readonly ended: Promise<RenewalEnd>;
  stop(): void;
}

const MIN_DELAY_MS = 200;
const MAX_RETRY_DELAY_MS = 5_000;

export function keepRenewed(
  broker: JitBroker,
  issued: IssuedCredential,
  options: RenewalOptions = {},
): Renewal {
  let credential: Credential = issued.credential;
  let expiresAt = new Date(issued.expires_at);
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const controller = new AbortController();
  let settle!: (end: RenewalEnd) => void;
  const ended = new Promise<RenewalEnd>((resolve) => {
    settle = resolve;
  });

  const finish = (end: RenewalEnd) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    settle(end);
  };
  const schedule = (ms: number) => {
    if (finished) return;
    timer = setTimeout(() => void attempt(), Math.max(MIN_DELAY_MS, ms));
  };
  const remaining = () => expiresAt.getTime() - Date.now();

  async function attempt(): Promise<void> {
    if (finished) return;
    const before = expiresAt.getTime();
    try {
      const renewed = await broker.renew(issued.lease_id, { ttlSeconds: options.ttlSeconds });
      if (finished) return;
      expiresAt = new Date(renewed.expires_at);
      if (renewed.credential) credential = renewed.credential;
      if (expiresAt.getTime() <= before) {
        options.onMaxTtl?.(expiresAt);
        finish('max-ttl');
        return;
      }
      options.onRenewed?.(renewed, credential);
      schedule(remaining() / 2);
    } catch (error) {
      if (finished) return;
      if (retryable(error) && remaining() > MIN_DELAY_MS) {
        options.onRetry?.(error);
        schedule(Math.min(MAX_RETRY_DELAY_MS, remaining() / 4));
        return;
      }
      controller.abort(error);
      options.onRefused?.(error);
      finish('refused');
    }
  }

  schedule(remaining() / 2);
  return {
    leaseId: issued.lease_id,
    get credential() {
      return credential;
    },
    get expiresAt() {
      return expiresAt;
    },
    signal: controller.signal,
    ended,
    stop: () => finish('stopped'),
  };
}

/** Network failures, 5xx and rate limits pass; a policy or state refusal does not. */
function retryable(error: unknown): boolean {
  if (error instanceof UnavailableError) return true;
  if (error instanceof BrokerError) return error.status === 0 || error.status === 429 || error.status >= 500;
  return true;
}
