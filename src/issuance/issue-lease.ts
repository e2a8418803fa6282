// Creates the credential of a lease that policy allowed, and the lease row that tracks it. The
// lease row exists before any provider with side effects is called; a side-effect-free provider
// (JWT) signs first and the lease is written `active` with its audit rows in one statement.
import { and, eq } from 'drizzle-orm';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { type Lease, leases, type NewLease } from '../db/schema/index.js';
import type { LeaseWriter } from '../leases/lease-writer.js';
import { completeLease } from '../leases/lease-writes.js';
import type { AgentLimits } from '../leases/limits.js';
import type { Logger } from '../logger.js';
import { Problem, problems } from '../problem.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider, Credential, IssueInput } from '../providers/types.js';
import { capByParent } from './delegated.js';

export interface IssueDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  /** Claims the `issuing` row for this process, so a crash is cleaned up by a live replica at once. */
  instanceKey: number;
  /** Writes new leases, batched with the other requests in flight (group commit). */
  leaseWriter: LeaseWriter;
}

export interface IssueParams {
  /** `issuing` for a new lease, `pending_approval` for an approved step-up request. */
  lease: NewLease;
  template: Template;
  provider: AnyProvider;
  /** The decision to record with the lease (every path has one). */
  decisionAudit: AuditEntry;
  requestId: string | undefined;
  /**
   * The agent's quotas, checked where a new lease row is written. A collected step-up request
   * (`pending_approval`) passes none: it was counted when it was opened.
   */
  limits?: AgentLimits;
}

export interface IssuedLease {
  lease: Lease;
  credential: Credential;
}

/** Whole seconds: JWT times are seconds, and the lease and its credential must agree. */
export function wholeSeconds(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 1000) * 1000);
}

/** What a provider is told about a lease it issues or renews. */
export function providerInput(
  lease: Pick<
    NewLease,
    'grant' | 'agent' | 'agentIssuer' | 'onBehalfOf' | 'taskId' | 'intent' | 'delegation' | 'tokenType'
  > & { id: string },
  template: Template,
  issuedAt: Date,
  expiresAt: Date,
): IssueInput<Template, unknown> {
  return {
    leaseId: lease.id,
    template,
    grant: lease.grant,
    agent: { subject: lease.agent, issuer: lease.agentIssuer },
    onBehalfOf: lease.onBehalfOf ?? undefined,
    taskId: lease.taskId,
    issuedAt,
    expiresAt,
    intent: lease.intent,
    delegation: lease.delegation
      ? { subject: lease.delegation.subject, act: lease.delegation.act }
      : undefined,
    tokenType: lease.tokenType ?? undefined,
  };
}

function issuedAudit(
  lease: NewLease & { id: string },
  provider: AnyProvider,
  expiresAt: Date,
  at: Date,
  requestId: string | undefined,
): AuditEntry {
  return {
    at,
    event: 'lease.issued',
    requestId: requestId ?? null,
    agent: lease.agent,
    agentIssuer: lease.agentIssuer,
    onBehalfOf: lease.onBehalfOf ?? null,
    actor: `provider:${provider.kind}`,
    leaseId: lease.id,
    template: lease.template,
    detail: { expires_at: expiresAt.toISOString(), grant: lease.grant },
  };
}

const NO_LONGER_PENDING = (id: string) => problems.conflict(`lease ${id} is no longer waiting to be issued`);

export async function issueLease(deps: IssueDeps, params: IssueParams): Promise<IssuedLease> {
  const { lease, template, provider, decisionAudit, requestId, limits } = params;
  const { db } = deps.database;
  const leaseId = lease.id!;
  const issuedAt = wholeSeconds(deps.clock.now());
  // The decided TTL and lifetime count from issue, not from the request (an approval may take hours).
  // A delegated lease never outlives its parent, however long an approval took.
  const expiresAt = capByParent(
    new Date(issuedAt.getTime() + (lease.expiresAt.getTime() - lease.createdAt!.getTime())),
    lease.delegation,
  );
  const maxExpiresAt = capByParent(
    new Date(issuedAt.getTime() + (lease.maxExpiresAt.getTime() - lease.createdAt!.getTime())),
    lease.delegation,
  );
  if (lease.parentLeaseId) await assertParentLive(deps.database, lease.parentLeaseId, issuedAt);
  if (expiresAt.getTime() <= issuedAt.getTime()) throw problems.conflict('the parent lease expires now');
  const row = { ...lease, id: leaseId };
  const issueInput = providerInput(row, template, issuedAt, expiresAt);
  const fromPending = lease.state === 'pending_approval';
  if (!fromPending && !limits) throw new Error('issueLease: a new lease needs the agent limits');

  if (provider.sideEffectFree) {
    const issued = await provider.issue(issueInput);
    const active = {
      ...row,
      state: 'active' as const,
      issuedAt,
      expiresAt,
      maxExpiresAt,
      revocation: issued.revocation,
      updatedAt: issuedAt,
    };
    const audits = [decisionAudit, issuedAudit(row, provider, expiresAt, issuedAt, requestId)];
    if (!fromPending) {
      const saved = completeLease(active);
      await deps.leaseWriter.write({ lease: saved, audits, limits: limits! });
      return { lease: saved, credential: issued.credential };
    }
    const saved = await db.transaction(async (tx) => {
      const [written] = await tx
        .update(leases)
        .set(active)
        .where(and(eq(leases.id, leaseId), eq(leases.state, 'pending_approval')))
        .returning();
      if (!written) throw NO_LONGER_PENDING(leaseId);
      await recordAudit(tx, audits);
      return written;
    });
    return { lease: saved, credential: issued.credential };
  }

  // Providers with side effects: the row (state issuing) commits before the provider is called.
  let written: Lease;
  if (fromPending) {
    written = await db.transaction(async (tx) => {
      const [moved] = await tx
        .update(leases)
        .set({ state: 'issuing', expiresAt, maxExpiresAt, updatedAt: issuedAt, claimedBy: deps.instanceKey })
        .where(and(eq(leases.id, leaseId), eq(leases.state, 'pending_approval')))
        .returning();
      if (!moved) throw NO_LONGER_PENDING(leaseId);
      await recordAudit(tx, decisionAudit);
      return moved;
    });
  } else {
    written = completeLease({
      ...row,
      state: 'issuing',
      expiresAt,
      maxExpiresAt,
      claimedBy: deps.instanceKey,
    });
    await deps.leaseWriter.write({ lease: written, audits: [decisionAudit], limits: limits! });
  }

  let issued: Awaited<ReturnType<AnyProvider['issue']>>;
  try {
    issued = await provider.issue(issueInput);
  } catch (error) {
    await markIssueFailed(deps, row, error, requestId);
    if (error instanceof Problem) throw error;
    throw problems.badGateway(`the ${provider.kind} provider failed to issue the credential`, {
      cause: error,
    });
  }
  const now = deps.clock.now();
  const saved = await deps.leaseWriter.finishIssue({
    lease: written,
    issuedAt,
    revocation: issued.revocation,
    now,
    audit: issuedAudit(row, provider, expiresAt, now, requestId),
  });
  if (saved?.state !== 'active') {
    // Revoked while the provider was working: what was just created must not outlive the lease.
    await provider
      .revoke({ leaseId, revocation: issued.revocation, template })
      .catch((error) =>
        deps.logger.warn(
          { leaseId, err: error },
          'cleanup after a revoke-during-issue failed; the sweeper retries',
        ),
      );
    throw problems.conflict(`lease ${leaseId} was revoked while it was being issued`);
  }
  return { lease: saved, credential: issued.credential };
}

async function markIssueFailed(
  deps: IssueDeps,
  lease: NewLease & { id: string },
  error: unknown,
  requestId: string | undefined,
) {
  const now = deps.clock.now();
  const summary = (
    error instanceof Problem ? `${error.title}: ${error.detail ?? ''}` : 'provider error'
  ).slice(0, 500);
  deps.logger.warn({ leaseId: lease.id, template: lease.template, err: error }, 'issue failed');
  await deps.database.db.transaction(async (tx) => {
    const [failed] = await tx
      .update(leases)
      .set({ state: 'issue_failed', lastError: summary, updatedAt: now, claimedBy: null })
      .where(and(eq(leases.id, lease.id), eq(leases.state, 'issuing')))
      .returning({ id: leases.id });
    if (!failed) return;
    await recordAudit(tx, {
      at: now,
      event: 'lease.issue_failed',
      requestId: requestId ?? null,
      agent: lease.agent,
      agentIssuer: lease.agentIssuer,
      onBehalfOf: lease.onBehalfOf ?? null,
      actor: `provider:${lease.provider}`,
      leaseId: lease.id,
      template: lease.template,
      detail: { error: summary },
    });
  });
}

/**
 * A delegated lease is only issued while its parent is live: revoking the parent cascades to the
 * children it already has (src/revocation/), and this refuses the ones still to come.
 */
async function assertParentLive(database: Database, parentLeaseId: string, now: Date): Promise<void> {
  const [parent] = await database.db
    .select({ state: leases.state, expiresAt: leases.expiresAt })
    .from(leases)
    .where(eq(leases.id, parentLeaseId))
    .limit(1);
  if (parent?.state !== 'active' || parent.expiresAt.getTime() <= now.getTime()) {
    throw problems.conflict('the lease this one was delegated from is no longer active');
  }
}
