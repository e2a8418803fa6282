// Lease lifecycle: mint (with idempotent replay), renew, revoke, complete a task, read.
// Minting, renewing and collecting an approved request all use decide() and issueLease().
import { createHash, randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { type Lease, type NewLease, leases } from '../db/schema/index.js';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Template } from '../policy/broker-config.js';
import type { StepUp } from '../policy/decision.js';
import type { Intent } from '../policy/intent.js';
import type { PolicyStore } from '../policy/policy-store.js';
import { Problem, problems } from '../problem.js';
import type { AnyProvider, Credential, IssueInput, ProviderRegistry } from '../providers/types.js';
import { type Verdict, decide } from './decide.js';
import { completeLease, insertLeaseWithAudit } from './lease-insert.js';
import type { Revoker } from './revocation.js';

export interface LeaseServiceDeps {
  database: Database;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  policies: PolicyStore;
  providers: ProviderRegistry;
  revoker: Revoker;
}

export interface MintInput {
  identity: WorkloadIdentity;
  templateName: string;
  intent: Intent;
  ttlSeconds: number | undefined;
  onBehalfOf: HumanIdentity | undefined;
  idempotencyKey: string | undefined;
  requestId: string;
}

export type MintOutcome =
  | { status: 'issued'; lease: Lease; credential: Credential }
  | { status: 'pending'; approvalId: string; lease: Lease };

/** What a step-up handler (the approvals service) receives when a permit asks for approval. */
export interface StepUpRequest {
  /** The requesting agent as verified now: approval re-evaluates policy with its attributes. */
  identity: WorkloadIdentity;
  lease: NewLease;
  stepUp: StepUp;
  verdict: Extract<Verdict, { outcome: 'allow' }>;
  decisionAudit: AuditEntry;
}

export type StepUpHandler = (request: StepUpRequest) => Promise<{ approvalId: string; lease: Lease }>;

const UNIQUE_VIOLATION = '23505';

function onBehalfOfRef(human: HumanIdentity | undefined): { sub: string; issuer: string } | undefined {
  return human ? { sub: human.subject, issuer: human.issuer } : undefined;
}

function requestHash(input: MintInput): string {
  const canonical = JSON.stringify([
    input.templateName,
    input.intent.taskId,
    input.intent.purpose,
    input.intent.actions,
    input.intent.resources,
    input.ttlSeconds ?? null,
    input.onBehalfOf ? [input.onBehalfOf.issuer, input.onBehalfOf.subject] : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: string }).code === UNIQUE_VIOLATION) return true;
  }
  return false;
}

/** What a provider is told about a lease it issues or renews. */
function providerInput(
  lease: Pick<NewLease, 'id' | 'grant' | 'agent' | 'agentIssuer' | 'onBehalfOf' | 'taskId'> & { id: string },
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
  };
}

function intentAudit(intent: Intent): Record<string, unknown> {
  return { task_id: intent.taskId, purpose: intent.purpose, actions: intent.actions, resources: intent.resources };
}

export class LeaseService {
  #stepUpHandler: StepUpHandler | undefined;

  constructor(private readonly deps: LeaseServiceDeps) {}

  /** Installed by the approvals service; without it a step-up decision is refused. */
  setStepUpHandler(handler: StepUpHandler): void {
    this.#stepUpHandler = handler;
  }

  provider(kind: Template['provider']): AnyProvider {
    const provider = this.deps.providers[kind];
    if (!provider) throw problems.unavailable(`the ${kind} provider is not configured on this broker`, 30);
    return provider;
  }

  template(name: string): Template {
    const template = this.deps.policies.current().templates.get(name);
    if (!template) {
      throw problems.unprocessable(`unknown template "${name}"`, [{ field: 'template', message: 'no such template' }]);
    }
    return template;
  }

  async mint(input: MintInput): Promise<MintOutcome> {
    const started = performance.now();
    const template = this.template(input.templateName);
    const provider = this.provider(template.provider);
    const hash = requestHash(input);
    if (input.idempotencyKey !== undefined) {
      const existing = await this.findByIdempotencyKey(input.identity, input.idempotencyKey);
      if (existing) return this.replay(existing, hash, input, template, provider);
    }
    const policySet = this.deps.policies.current();
    const onBehalfOf = onBehalfOfRef(input.onBehalfOf);
    const verdict = decide(policySet, provider, {
      action: 'mint',
      identity: input.identity,
      template,
      intent: input.intent,
      requestedTtlSeconds: input.ttlSeconds,
      onBehalfOf,
      approved: false,
    });
    const decisionAudit: AuditEntry = {
      at: this.deps.clock.now(),
      event: 'decision',
      requestId: input.requestId,
      agent: input.identity.subject,
      agentIssuer: input.identity.issuer,
      onBehalfOf: onBehalfOf ?? null,
      actor: `agent:${input.identity.subject}`,
      template: template.name,
      intent: intentAudit(input.intent),
      decision: verdict.outcome === 'allow' && verdict.stepUp ? 'step_up' : verdict.outcome,
      policies: verdict.policies,
      reasons: verdict.outcome === 'deny' ? verdict.reasons : [],
      policyVersion: verdict.policyVersion,
      detail: { action: 'mint', ttl_seconds: input.ttlSeconds ?? null },
    };
    this.deps.metrics.decisions.inc({ template: template.name, outcome: decisionAudit.decision! });

    if (verdict.outcome === 'deny') {
      await recordAudit(this.deps.database.db, decisionAudit);
      throw problems.denied(verdict.reasons.join('; ') || 'denied by policy', verdict.policies, verdict.reasons);
    }
    const leaseId = randomUUID();
    const now = new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
    const lease: NewLease = {
      id: leaseId,
      state: 'issuing',
      template: template.name,
      provider: template.provider,
      agent: input.identity.subject,
      agentIssuer: input.identity.issuer,
      onBehalfOf: onBehalfOf ?? null,
      taskId: input.intent.taskId,
      intent: input.intent,
      grant: verdict.grant as Record<string, unknown>,
      policyVersion: verdict.policyVersion,
      policies: verdict.policies,
      requestedTtlSeconds: input.ttlSeconds ?? template.default_ttl,
      createdAt: now,
      expiresAt: new Date(now.getTime() + verdict.ttlSeconds * 1000),
      maxExpiresAt: new Date(now.getTime() + verdict.maxLifetimeSeconds * 1000),
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash: hash,
      updatedAt: now,
    };
    decisionAudit.leaseId = leaseId;

    if (verdict.stepUp) {
      if (!this.#stepUpHandler) {
        await recordAudit(this.deps.database.db, { ...decisionAudit, decision: 'deny' });
        throw problems.denied(
          `approval required: a member of "${verdict.stepUp.group}" must approve this request`,
          verdict.policies,
          ['approval required'],
        );
      }
      try {
        const pending = await this.#stepUpHandler({
          identity: input.identity,
          lease: { ...lease, state: 'pending_approval' },
          stepUp: verdict.stepUp,
          verdict,
          decisionAudit,
        });
        return { status: 'pending', approvalId: pending.approvalId, lease: pending.lease };
      } catch (error) {
        if (input.idempotencyKey !== undefined && isUniqueViolation(error)) return this.mint(input);
        throw error;
      }
    }
    try {
      const issued = await this.issueLease({ lease, template, provider, decisionAudit, requestId: input.requestId });
      this.deps.metrics.issuance.observe(
        { template: template.name, provider: template.provider },
        (performance.now() - started) / 1000,
      );
      return { status: 'issued', ...issued };
    } catch (error) {
      // Two requests with the same Idempotency-Key raced: the loser replays the winner's lease.
      if (input.idempotencyKey !== undefined && isUniqueViolation(error)) return this.mint(input);
      throw error;
    }
  }

  /**
   * Creates the credential of a lease that policy allowed. The lease row exists before any
   * provider with side effects is called; a side-effect-free provider (JWT) signs first and the
   * lease is written `active` together with its audit rows in one transaction.
   * `lease.state` is `issuing` for a new lease or `pending_approval` for an approved one.
   */
  async issueLease(params: {
    lease: NewLease;
    template: Template;
    provider: AnyProvider;
    decisionAudit: AuditEntry | undefined;
    requestId: string | undefined;
  }): Promise<{ lease: Lease; credential: Credential }> {
    const { lease, template, provider } = params;
    const { db } = this.deps.database;
    // Whole seconds: JWT times are seconds, and the lease and its credential must agree.
    const issuedAt = new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
    const ttlMs = lease.expiresAt.getTime() - lease.createdAt!.getTime();
    const maxMs = lease.maxExpiresAt.getTime() - lease.createdAt!.getTime();
    const expiresAt = new Date(issuedAt.getTime() + ttlMs);
    const maxExpiresAt = new Date(issuedAt.getTime() + maxMs);
    const issueInput = providerInput(lease, template, issuedAt, expiresAt);
    const issuedAudit = (at: Date): AuditEntry => ({
      at,
      event: 'lease.issued',
      requestId: params.requestId ?? null,
      agent: lease.agent,
      agentIssuer: lease.agentIssuer,
      onBehalfOf: lease.onBehalfOf ?? null,
      actor: `provider:${provider.kind}`,
      leaseId: lease.id,
      template: template.name,
      detail: { expires_at: expiresAt.toISOString(), grant: lease.grant },
    });
    const audits = (at: Date) => (params.decisionAudit ? [params.decisionAudit, issuedAudit(at)] : [issuedAudit(at)]);
    const fromPending = lease.state === 'pending_approval';

    if (provider.sideEffectFree) {
      const issued = await provider.issue(issueInput);
      const row = { ...lease, state: 'active' as const, issuedAt, expiresAt, maxExpiresAt, revocation: issued.revocation, updatedAt: issuedAt };
      if (!fromPending) {
        // The common case, kept to one statement: the lease and its audit rows, one round trip.
        const saved = completeLease(row);
        await insertLeaseWithAudit(this.deps.database.sql, saved, audits(issuedAt));
        return { lease: saved, credential: issued.credential };
      }
      const saved = await db.transaction(async (tx) => {
        const [written] = await tx
          .update(leases)
          .set(row)
          .where(and(eq(leases.id, lease.id), eq(leases.state, 'pending_approval')))
          .returning();
        if (!written) throw problems.conflict(`lease ${lease.id} is no longer waiting to be issued`);
        await recordAudit(tx, audits(issuedAt));
        return written;
      });
      return { lease: saved, credential: issued.credential };
    }

    // Providers with side effects: the row (state issuing) commits before the provider is called.
    await db.transaction(async (tx) => {
      if (fromPending) {
        const [moved] = await tx
          .update(leases)
          .set({ state: 'issuing', expiresAt, maxExpiresAt, updatedAt: issuedAt })
          .where(and(eq(leases.id, lease.id), eq(leases.state, 'pending_approval')))
          .returning({ id: leases.id });
        if (!moved) throw problems.conflict(`lease ${lease.id} is no longer waiting to be issued`);
      } else {
        await tx.insert(leases).values({ ...lease, state: 'issuing', expiresAt, maxExpiresAt });
      }
      if (params.decisionAudit) await recordAudit(tx, params.decisionAudit);
    });

    let issued: Awaited<ReturnType<AnyProvider['issue']>>;
    try {
      issued = await provider.issue(issueInput);
    } catch (error) {
      await this.markIssueFailed(lease, template, error, params.requestId);
      if (error instanceof Problem) throw error;
      throw problems.badGateway(`the ${provider.kind} provider failed to issue the credential`, undefined, error);
    }
    const now = this.deps.clock.now();
    const saved = await db.transaction(async (tx) => {
      const [written] = await tx
        .update(leases)
        .set({ revocation: issued.revocation, updatedAt: now })
        .where(eq(leases.id, lease.id))
        .returning();
      if (written?.state !== 'issuing') return written;
      const [active] = await tx
        .update(leases)
        .set({ state: 'active', issuedAt })
        .where(eq(leases.id, lease.id))
        .returning();
      await recordAudit(tx, issuedAudit(now));
      return active;
    });
    if (saved?.state !== 'active') {
      // Revoked while the provider was working: what was just created must not outlive the lease.
      await provider
        .revoke({ leaseId: lease.id, revocation: issued.revocation, template })
        .catch((error) => this.deps.logger.warn({ leaseId: lease.id, err: error }, 'cleanup after a revoke-during-issue failed; the sweeper retries'));
      throw problems.conflict(`lease ${lease.id} was revoked while it was being issued`);
    }
    return { lease: saved, credential: issued.credential };
  }

  private async markIssueFailed(lease: NewLease, template: Template, error: unknown, requestId: string | undefined) {
    const now = this.deps.clock.now();
    const summary = error instanceof Problem ? `${error.title}: ${error.detail ?? ''}` : 'provider error';
    this.deps.logger.warn({ leaseId: lease.id, template: template.name, err: error }, 'issue failed');
    await this.deps.database.db.transaction(async (tx) => {
      const [failed] = await tx
        .update(leases)
        .set({ state: 'issue_failed', lastError: summary.slice(0, 500), updatedAt: now })
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
        actor: `provider:${template.provider}`,
        leaseId: lease.id,
        template: template.name,
        detail: { error: summary.slice(0, 500) },
      });
    });
  }

  private async findByIdempotencyKey(identity: WorkloadIdentity, key: string): Promise<Lease | undefined> {
    const [row] = await this.deps.database.db
      .select()
      .from(leases)
      .where(and(eq(leases.agentIssuer, identity.issuer), eq(leases.agent, identity.subject), eq(leases.idempotencyKey, key)))
      .limit(1);
    return row;
  }

  /** Same key, same body: the same lease, its secret re-derived (secrets are never stored). */
  private async replay(
    existing: Lease,
    hash: string,
    input: MintInput,
    template: Template,
    provider: AnyProvider,
  ): Promise<MintOutcome> {
    if (existing.requestHash !== hash) {
      throw problems.unprocessable('this Idempotency-Key was already used with a different request body', [
        { field: 'Idempotency-Key', message: 'reused with a different body' },
      ]);
    }
    if (existing.state === 'pending_approval' && this.#stepUpHandler) {
      const approvalId = await this.approvalIdOf(existing.id);
      if (approvalId) return { status: 'pending', approvalId, lease: existing };
    }
    if (existing.state !== 'active') {
      throw problems.conflict(`the lease created with this Idempotency-Key is ${existing.state}; use a new key`);
    }
    if (template.provider !== existing.provider) throw problems.conflict('the template of this lease has changed provider');
    const issued = await provider.issue({
      leaseId: existing.id,
      template,
      grant: existing.grant,
      agent: { subject: existing.agent, issuer: existing.agentIssuer },
      onBehalfOf: existing.onBehalfOf ?? undefined,
      taskId: existing.taskId,
      issuedAt: existing.issuedAt ?? existing.createdAt,
      expiresAt: existing.expiresAt,
    });
    await recordAudit(this.deps.database.db, {
      at: this.deps.clock.now(),
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

  /** Overridden by the approvals service to find a pending lease's approval. */
  approvalIdOf: (leaseId: string) => Promise<string | undefined> = async () => undefined;

  /** The caller's own lease, or 404 (someone else's lease must not be distinguishable from none). */
  async getOwned(identity: WorkloadIdentity, leaseId: string): Promise<Lease> {
    const [row] = await this.deps.database.db
      .select()
      .from(leases)
      .where(and(eq(leases.id, leaseId), eq(leases.agent, identity.subject), eq(leases.agentIssuer, identity.issuer)))
      .limit(1);
    if (!row) throw problems.notFound(`no lease ${leaseId}`);
    return row;
  }

  async get(leaseId: string): Promise<Lease | undefined> {
    const [row] = await this.deps.database.db.select().from(leases).where(eq(leases.id, leaseId)).limit(1);
    return row;
  }

  async renew(
    identity: WorkloadIdentity,
    leaseId: string,
    ttlSeconds: number | undefined,
    requestId: string,
  ): Promise<{ lease: Lease; credential: Credential | undefined }> {
    const current = await this.getOwned(identity, leaseId);
    if (current.state !== 'active') throw problems.conflict(`lease ${leaseId} is ${current.state} and cannot be renewed`);
    // Past its expiry but not yet swept: it is over, whatever the row says for a few seconds more.
    if (current.expiresAt.getTime() <= this.deps.clock.now().getTime()) {
      throw problems.conflict(`lease ${leaseId} has expired and cannot be renewed`);
    }
    const policySet = this.deps.policies.current();
    const template = policySet.templates.get(current.template);
    if (!template || template.provider !== current.provider) {
      throw problems.conflict(`template "${current.template}" is no longer configured; the lease cannot be renewed`);
    }
    const provider = this.provider(template.provider);
    const approved = (await this.approvalIdOf(current.id)) !== undefined;
    const verdict = decide(policySet, provider, {
      action: 'renew',
      identity,
      template,
      intent: current.intent,
      requestedTtlSeconds: ttlSeconds,
      onBehalfOf: current.onBehalfOf ?? undefined,
      approved,
    });
    const now = new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
    const audit: AuditEntry = {
      at: now,
      event: 'decision',
      requestId,
      agent: identity.subject,
      agentIssuer: identity.issuer,
      onBehalfOf: current.onBehalfOf ?? null,
      actor: `agent:${identity.subject}`,
      leaseId,
      template: template.name,
      intent: intentAudit(current.intent),
      decision: verdict.outcome,
      policies: verdict.policies,
      reasons: verdict.outcome === 'deny' ? verdict.reasons : [],
      policyVersion: verdict.policyVersion,
      detail: { action: 'renew', ttl_seconds: ttlSeconds ?? null },
    };
    this.deps.metrics.decisions.inc({ template: template.name, outcome: verdict.outcome });
    if (verdict.outcome === 'deny' || verdict.stepUp) {
      const reasons = verdict.outcome === 'deny' ? verdict.reasons : ['renewal requires approval'];
      await recordAudit(this.deps.database.db, { ...audit, decision: 'deny', reasons });
      throw problems.denied(reasons.join('; '), verdict.policies, reasons);
    }
    const issuedAt = current.issuedAt ?? current.createdAt;
    const ceiling = Math.min(current.maxExpiresAt.getTime(), issuedAt.getTime() + verdict.maxLifetimeSeconds * 1000);
    const target = Math.min(now.getTime() + verdict.ttlSeconds * 1000, ceiling);
    if (target <= current.expiresAt.getTime()) {
      await recordAudit(this.deps.database.db, { ...audit, detail: { ...audit.detail, unchanged: true } });
      return { lease: current, credential: undefined };
    }
    const expiresAt = new Date(target);
    return this.deps.database.db.transaction(async (tx) => {
      const [locked] = await tx
        .select()
        .from(leases)
        .where(and(eq(leases.id, leaseId), eq(leases.state, 'active')))
        .for('update');
      if (!locked) throw problems.conflict(`lease ${leaseId} stopped being active while it was renewed`);
      const renewed = await provider.renew({
        ...providerInput(locked, template, issuedAt, expiresAt),
        revocation: locked.revocation ?? undefined,
      });
      const [updated] = await tx
        .update(leases)
        .set({ expiresAt, revocation: renewed.revocation, updatedAt: now })
        .where(eq(leases.id, leaseId))
        .returning();
      await recordAudit(tx, [
        audit,
        {
          at: now,
          event: 'lease.renewed',
          requestId,
          agent: locked.agent,
          agentIssuer: locked.agentIssuer,
          actor: `agent:${identity.subject}`,
          leaseId,
          template: template.name,
          detail: { expires_at: expiresAt.toISOString(), previous_expires_at: locked.expiresAt.toISOString() },
        },
      ]);
      return { lease: updated!, credential: renewed.credential };
    });
  }

  async revokeOwned(identity: WorkloadIdentity, leaseId: string, requestId: string): Promise<Lease> {
    await this.getOwned(identity, leaseId);
    await this.deps.revoker.revoke({ leaseIds: [leaseId] }, 'revoked by the agent', `agent:${identity.subject}`, requestId);
    return this.getOwned(identity, leaseId);
  }

  async completeTask(identity: WorkloadIdentity, taskId: string, requestId: string): Promise<string[]> {
    return this.deps.revoker.revoke(
      { agent: identity.subject, agentIssuer: identity.issuer, taskId },
      'task completed',
      `agent:${identity.subject}`,
      requestId,
    );
  }
}
