// Idempotent replay: the same Idempotency-Key with the same body gives the same lease, its secret
// re-derived (secrets are never stored); a different body under the same key is refused.
import { createHash } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { type Lease, leases } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { problems } from '../problem.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider } from '../providers/types.js';
import type { StepUpRequests } from '../step-up/step-up-requests.js';
import { providerInput } from './issue-lease.js';
import type { MintInput, MintOutcome } from './mint-types.js';

const UNIQUE_VIOLATION = '23505';

export function requestHash(input: MintInput): string {
  const canonical = JSON.stringify([
    input.templateName,
    input.intent.taskId,
    input.intent.purpose,
    input.intent.actions,
    input.intent.resources,
    input.ttlSeconds ?? null,
    input.onBehalfOf ? [input.onBehalfOf.issuer, input.onBehalfOf.subject] : null,
    // Token endpoint requests: a different parent or token type is a different request.
    ...(input.delegation || input.tokenType
      ? [input.delegation?.parentLeaseId ?? null, input.tokenType ?? null]
      : []),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Two requests with the same Idempotency-Key raced: the loser replays the winner's lease. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: string }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

export async function findByIdempotencyKey(
  database: Database,
  identity: WorkloadIdentity,
  key: string,
): Promise<Lease | undefined> {
  const [row] = await database.db
    .select()
    .from(leases)
    .where(
      and(
        eq(leases.agentIssuer, identity.issuer),
        eq(leases.agent, identity.subject),
        eq(leases.idempotencyKey, key),
      ),
    )
    .limit(1);
  return row;
}

export interface ReplayDeps {
  database: Database;
  clock: Clock;
  stepUp: StepUpRequests;
}

export async function replay(
  deps: ReplayDeps,
  existing: Lease,
  input: MintInput,
  template: Template,
  provider: AnyProvider,
): Promise<MintOutcome> {
  if (existing.requestHash !== requestHash(input)) {
    throw problems.unprocessable('this Idempotency-Key was already used with a different request body', {
      errors: [{ field: 'Idempotency-Key', message: 'reused with a different body' }],
    });
  }
  if (existing.state === 'pending_approval') {
    const approvalId = await deps.stepUp.approvalIdOf(existing.id);
    if (approvalId) return { status: 'pending', approvalId, lease: existing };
  }
  if (existing.state !== 'active') {
    throw problems.conflict(
      `the lease created with this Idempotency-Key is ${existing.state}; use a new key`,
    );
  }
  if (template.provider !== existing.provider)
    throw problems.conflict('the template of this lease has changed provider');
  const issued = await provider.issue(
    providerInput(existing, template, existing.issuedAt ?? existing.createdAt, existing.expiresAt),
  );
  await recordAudit(deps.database.db, {
    at: deps.clock.now(),
    event: 'lease.replayed',
    requestId: input.requestId,
    agent: existing.agent,
    agentIssuer: existing.agentIssuer,
    actor: `agent:${existing.agent}`,
    leaseId: existing.id,
    template: existing.template,
    detail: { idempotency_key: input.idempotencyKey ?? null },
  });
  return { status: 'issued', lease: existing, credential: issued.credential };
}
