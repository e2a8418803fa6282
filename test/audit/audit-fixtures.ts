// Shared setup for the audit suites: realistic entries and a way to reset the log between tests.
import { type AuditEntry, deriveAuditKeys, installAuditKeys } from '../../src/audit/audit-log.js';
import type { Database } from '../../src/db/client.js';
import { TEST_MASTER_KEY } from '../helpers/broker.js';

export const LEASE_A = '0b6f4c1e-8f57-4d0b-9a51-2f5f3c1f7a01';
export const LEASE_B = '5d7e2a90-1c3b-4e8f-b6a2-7c9d0e1f2a3b';

/** The keys the test brokers derive (startTestBroker installs the same): rows written here seal. */
export const TEST_AUDIT_KEYS = deriveAuditKeys(TEST_MASTER_KEY);
installAuditKeys(TEST_AUDIT_KEYS);

let n = 0;

/** A decision entry as the lease service writes it; override any field. */
export function decisionEntry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  n += 1;
  return {
    at: new Date(Date.UTC(2025, 0, 1, 12, 0, 0, n % 1000)),
    event: 'decision',
    requestId: `req-${n}`,
    agent: 'system:serviceaccount:reports:agent',
    agentIssuer: 'k8s-prod',
    onBehalfOf: { sub: 'alice', issuer: 'https://sso.example.com' },
    actor: 'agent:system:serviceaccount:reports:agent',
    leaseId: LEASE_A,
    template: 'reports-api',
    intent: {
      task_id: `t-${n}`,
      purpose: 'monthly report',
      actions: ['reports:read'],
      resources: [],
      ttl_seconds: 300,
    },
    decision: 'allow',
    policies: ['permit-reports-read'],
    reasons: [],
    policyVersion: 'sha256:0f1e2d',
    detail: { action: 'mint', nested: { z: 1, a: [true, null, 'x'] } },
    ...overrides,
  };
}

export async function resetAuditLog(database: Database): Promise<void> {
  await database.sql`truncate audit_events restart identity`;
}

/** A promise with its resolver, to hold a transaction open without sleeping. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
