// The "decision" audit row: one shape for every decision (mint, renew, collect an approved
// request), so the audit log reads the same whichever path decided.
import type { AuditEntry } from '../audit/audit-log.js';
import { type Intent, toIntentWire } from '../core/intent.js';
import type { Verdict } from './decide.js';

export interface DecisionAuditInput {
  at: Date;
  requestId: string | undefined;
  agent: { subject: string; issuer: string };
  onBehalfOf: { sub: string; issuer: string } | null | undefined;
  /** Who asked: `agent:<sub>`. */
  actor: string;
  leaseId?: string | undefined;
  template: string;
  intent: Intent;
  verdict: Verdict;
  detail: Record<string, unknown>;
}

/** `step_up` when policy allows but a reviewer must approve first. */
export function decisionOutcome(verdict: Verdict): 'allow' | 'deny' | 'step_up' {
  return verdict.outcome === 'allow' && verdict.stepUp ? 'step_up' : verdict.outcome;
}

export function decisionAudit(input: DecisionAuditInput): AuditEntry {
  const { verdict } = input;
  return {
    at: input.at,
    event: 'decision',
    requestId: input.requestId ?? null,
    agent: input.agent.subject,
    agentIssuer: input.agent.issuer,
    onBehalfOf: input.onBehalfOf ?? null,
    actor: input.actor,
    leaseId: input.leaseId ?? null,
    template: input.template,
    intent: { ...toIntentWire(input.intent) },
    decision: decisionOutcome(verdict),
    policies: verdict.policies,
    reasons: verdict.outcome === 'deny' ? verdict.reasons : [],
    policyVersion: verdict.policyVersion,
    detail: input.detail,
  };
}
