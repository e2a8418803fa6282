// The one issuance path. Every front door (POST /v1/credentials, and the token endpoint), every
// renewal and every collected step-up request goes through here: decide (ceiling, Cedar,
// obligations), write the lease row with its audit rows, call the provider, finalise.
import { randomUUID } from 'node:crypto';
import { recordAudit } from '../audit/audit-log.js';
import type { Lease, NewLease } from '../db/schema/index.js';
import type { WorkloadIdentity } from '../identity/types.js';
import { completeLease } from '../leases/lease-writes.js';
import { agentLimits } from '../leases/limits.js';
import { problems } from '../problem.js';
import type { Template } from '../providers/templates.js';
import type { AnyProvider, Credential } from '../providers/types.js';
import { decide } from './decide.js';
import { decisionAudit, decisionOutcome } from './decision-audit.js';
import { delegatedRequest, leaseDelegation, leaseExpiries, mintDetail } from './delegated.js';
import { type IssuanceDeps, providerFor } from './issuance-deps.js';
import { type IssuedLease, type IssueParams, issueLease, wholeSeconds } from './issue-lease.js';
import type { MintInput, MintOutcome } from './mint-types.js';
import { decideApproved, type Reevaluation } from './reevaluate.js';
import { renewLease } from './renew.js';
import { findByIdempotencyKey, isUniqueViolation, replay, requestHash } from './replay.js';

export class Issuance {
  constructor(readonly deps: IssuanceDeps) {}

  provider(kind: Template['provider']): AnyProvider {
    return providerFor(this.deps.providers, kind);
  }

  template(name: string): Template {
    const template = this.deps.policies.current().templates.get(name);
    if (!template) {
      throw problems.unprocessable(`unknown template "${name}"`, {
        errors: [{ field: 'template', message: 'no such template' }],
      });
    }
    return template;
  }

  async mint(input: MintInput): Promise<MintOutcome> {
    const started = performance.now();
    const { database, clock, metrics } = this.deps;
    const template = this.template(input.templateName);
    const provider = this.provider(template.provider);
    if (input.idempotencyKey !== undefined) {
      const existing = await findByIdempotencyKey(database, input.identity, input.idempotencyKey);
      if (existing) return replay(this.deps, existing, input, template, provider);
    }
    const policySet = this.deps.policies.current();
    const onBehalfOf = input.onBehalfOf
      ? { sub: input.onBehalfOf.subject, issuer: input.onBehalfOf.issuer }
      : null;
    const verdict = decide(policySet, provider, {
      action: 'mint',
      identity: input.identity,
      template,
      intent: input.intent,
      requestedTtlSeconds: input.ttlSeconds,
      onBehalfOf: onBehalfOf ?? undefined,
      approved: false,
      delegation: delegatedRequest(input.delegation),
    });
    const leaseId = randomUUID();
    const audit = decisionAudit({
      at: clock.now(),
      requestId: input.requestId,
      agent: input.identity,
      onBehalfOf,
      actor: `agent:${input.identity.subject}`,
      leaseId: verdict.outcome === 'allow' ? leaseId : undefined,
      template: template.name,
      intent: input.intent,
      verdict,
      detail: mintDetail(input),
    });
    metrics.decisions.inc({ template: template.name, outcome: decisionOutcome(verdict) });
    if (verdict.outcome === 'deny') {
      await recordAudit(database.db, audit);
      throw problems.denied(verdict.reasons.join('; ') || 'denied by policy', {
        policies: verdict.policies,
        reasons: verdict.reasons,
        stage: verdict.stage,
      });
    }
    const now = wholeSeconds(clock.now());
    const limits = agentLimits(policySet.config.limits, template);
    const { expiresAt, maxExpiresAt } = leaseExpiries(now, verdict, input.delegation);
    const lease: NewLease = {
      id: leaseId,
      state: 'issuing',
      template: template.name,
      provider: template.provider,
      agent: input.identity.subject,
      agentIssuer: input.identity.issuer,
      onBehalfOf,
      taskId: input.intent.taskId,
      intent: input.intent,
      grant: verdict.grant as Record<string, unknown>,
      policyVersion: verdict.policyVersion,
      policies: verdict.policies,
      requestedTtlSeconds: input.ttlSeconds ?? template.default_ttl,
      createdAt: now,
      expiresAt,
      maxExpiresAt,
      parentLeaseId: input.delegation?.parentLeaseId ?? null,
      delegation: input.delegation ? leaseDelegation(input.delegation) : null,
      tokenType: input.tokenType ?? null,
      clientId: input.clientId ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      requestHash: requestHash(input),
      updatedAt: now,
    };
    try {
      if (verdict.stepUp) {
        const pending = await this.deps.stepUp.open({
          lease: completeLease({ ...lease, state: 'pending_approval' }),
          stepUp: verdict.stepUp,
          principalAttributes: input.identity.attributes,
          decisionAudit: audit,
          policies: verdict.policies,
          policyVersion: verdict.policyVersion,
          limits,
        });
        return { status: 'pending', approvalId: pending.approvalId, lease: pending.lease };
      }
      const issued = await this.issue({
        lease,
        template,
        provider,
        decisionAudit: audit,
        requestId: input.requestId,
        limits,
      });
      metrics.issuance.observe(
        { template: template.name, provider: template.provider },
        (performance.now() - started) / 1000,
      );
      return { status: 'issued', ...issued };
    } catch (error) {
      if (input.idempotencyKey !== undefined && isUniqueViolation(error)) return this.mint(input);
      throw error;
    }
  }

  /** Writes the lease and creates its credential: see issue-lease.ts. */
  issue(params: IssueParams): Promise<IssuedLease> {
    return issueLease(this.deps, params);
  }

  /** The decision for an approved step-up request: see reevaluate.ts. */
  decideApproved(lease: Lease, identity: WorkloadIdentity): Reevaluation {
    return decideApproved(this.deps, lease, identity);
  }

  renew(
    identity: WorkloadIdentity,
    current: Lease,
    ttlSeconds: number | undefined,
    requestId: string,
  ): Promise<{ lease: Lease; credential: Credential | undefined }> {
    return renewLease(this.deps, { identity, current, ttlSeconds, requestId });
  }
}
