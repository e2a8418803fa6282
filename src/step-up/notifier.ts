// Tells reviewers a request is waiting: a signed JSON POST to APPROVAL_WEBHOOK_URL. Delivery runs
// beside the request (never blocks it) and is retried in process with capped exponential backoff
// until the receiver takes it or the request's approval window closes (a later notice is moot).
// Retries do not survive a restart; the request itself does (it stays pending in the database and
// is listed by GET /v1/approvals and the console).
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { DELIVERY_HEADER, SIGNATURE_HEADER, signWebhook } from '../webhooks/signature.js';
import type { ApprovalView } from './approval-view.js';

export interface ApprovalNotifier {
  /** Queues the "pending" notification for a new request; returns at once. */
  pending(approval: ApprovalView): void;
  /** Resolves once every queued delivery has succeeded or given up (tests, shutdown). */
  idle(): Promise<void>;
  /** Cancels retries that are waiting for their turn. */
  stop(): void;
}

export interface ApprovalNotifierOptions {
  url: string;
  /** WEBHOOK_SECRET: the receiver verifies X-Broker-Signature with it. */
  secret: string | undefined;
  /** Base of the console link in the event. */
  publicUrl: string;
  clock: Clock;
  logger: Logger;
  /** Attempts in all, the first included (default: unbounded, until the approval window closes). */
  attempts?: number;
  /** Delay before the first retry; doubled each time up to maxDelayMs (defaults 1 s, 60 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt timeout (default 5 s). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** The JSON body of an approval notification. */
export interface ApprovalPendingEvent {
  type: 'approval.pending';
  delivery_id: string;
  approval_id: string;
  console_url: string;
  approval: ApprovalView;
}

/** Statuses worth another try: the receiver is down, overloaded or timed out. */
function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export function createApprovalNotifier(options: ApprovalNotifierOptions): ApprovalNotifier {
  if (!URL.canParse(options.url)) throw new Error('APPROVAL_WEBHOOK_URL must be an absolute URL');
  if (!options.secret) {
    throw new Error(
      'APPROVAL_WEBHOOK_URL is set but WEBHOOK_SECRET is not: approval notifications must be signed',
    );
  }
  const secret = options.secret;
  const attempts = Math.max(1, options.attempts ?? Number.POSITIVE_INFINITY);
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const send = options.fetch ?? fetch;
  // The path and query of a webhook URL are often its secret (chat incoming webhooks): log the origin only.
  const target = new URL(options.url).origin;
  const inFlight = new Set<Promise<void>>();
  const waiting = new Set<() => void>();
  let stopped = false;

  // Unref'd: a retry waiting for its turn never keeps the process alive. stop() ends the wait.
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      waiting.add(done);
    });

  async function attempt(body: string, deliveryId: string): Promise<number> {
    const response = await send(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'jit-broker',
        [SIGNATURE_HEADER]: signWebhook(secret, body, options.clock.now()),
        [DELIVERY_HEADER]: deliveryId,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await response.body?.cancel();
    return response.status;
  }

  async function deliver(event: ApprovalPendingEvent): Promise<void> {
    const body = JSON.stringify(event);
    const log = { approvalId: event.approval_id, deliveryId: event.delivery_id, target };
    const closesAt = Date.parse(event.approval.expires_at);
    for (let n = 1; n <= attempts && !stopped; n++) {
      let outcome: string;
      try {
        const status = await attempt(body, event.delivery_id);
        if (status >= 200 && status < 300) {
          options.logger.info({ ...log, attempt: n, status }, 'approval notification delivered');
          return;
        }
        if (!isRetryable(status)) {
          options.logger.warn({ ...log, attempt: n, status }, 'approval notification refused; not retried');
          return;
        }
        outcome = `HTTP ${status}`;
      } catch (error) {
        outcome = error instanceof Error ? error.name : 'error';
      }
      // Exponential backoff with ±20 % jitter, so replicas retrying one receiver spread out.
      const wait = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(n - 1, 30)) * (0.8 + Math.random() * 0.4);
      if (n === attempts || options.clock.now().getTime() + wait >= closesAt) {
        options.logger.error({ ...log, attempts: n, outcome }, 'approval notification failed; giving up');
        return;
      }
      options.logger.warn(
        { ...log, attempt: n, outcome, retryInMs: Math.round(wait) },
        'approval notification failed; retrying',
      );
      await delay(wait);
    }
  }

  return {
    pending(approval) {
      if (stopped) return;
      const event: ApprovalPendingEvent = {
        type: 'approval.pending',
        delivery_id: randomUUID(),
        approval_id: approval.approval_id,
        console_url: `${options.publicUrl}/console/approvals/${approval.approval_id}`,
        approval,
      };
      const running = deliver(event)
        .catch((error) =>
          options.logger.error(
            { err: error, approvalId: approval.approval_id },
            'approval notification crashed',
          ),
        )
        .finally(() => inFlight.delete(running));
      inFlight.add(running);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    stop() {
      stopped = true;
      for (const done of [...waiting]) done();
    },
  };
}
