// withTask(): a credential for exactly the duration of a piece of work. Mints (waiting through a
// step-up if needed), renews while the callback runs, and completes the task afterwards (every
// lease of it revoked), also when the callback throws.
import type { JitBroker, WaitOptions } from './client.js';
import { keepRenewed, type Renewal, type RenewalOptions } from './renewal.js';
import type { Credential, IssuedCredential, TaskSpec } from './types.js';

export interface TaskCredential {
  readonly leaseId: string;
  readonly taskId: string;
  readonly issued: IssuedCredential;
  /** The current credential: renewals may replace it (fresh JWT, password or STS session). */
  readonly credential: Credential;
  readonly expiresAt: Date;
  /** Aborted if the broker refuses a renewal: the work should stop. */
  readonly signal: AbortSignal;
}

export interface WithTaskOptions extends WaitOptions, Omit<RenewalOptions, 'ttlSeconds'> {
  /** Wait for a step-up approval (default true); false throws ApprovalRequiredError. */
  wait?: boolean;
}

export async function withTask<T>(
  broker: JitBroker,
  spec: TaskSpec,
  work: (credential: TaskCredential) => Promise<T>,
  options: WithTaskOptions = {},
): Promise<T> {
  const issued = await broker.mint(spec, { ...options, wait: options.wait ?? true });
  let renewal: Renewal | undefined;
  try {
    renewal = keepRenewed(broker, issued, { ...options, ttlSeconds: spec.ttlSeconds });
    const live = renewal;
    return await work({
      leaseId: issued.lease_id,
      taskId: spec.taskId,
      issued,
      get credential() {
        return live.credential;
      },
      get expiresAt() {
        return live.expiresAt;
      },
      signal: live.signal,
    });
  } finally {
    renewal?.stop();
    await broker.completeTask(spec.taskId);
  }
}
