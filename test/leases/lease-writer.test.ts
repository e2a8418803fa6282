// Group commit of new leases (src/leases/lease-writer.ts) against a real database: writes queued
// in the same turn share one statement and one transaction, and a row that fails fails only its
// own request; the others of its batch are written.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AuditEntry } from '../../src/audit/audit-log.js';
import { LeaseWriter } from '../../src/leases/lease-writer.js';
import { completeLease } from '../../src/leases/lease-writes.js';
import type { AgentLimits } from '../../src/leases/limits.js';
import { Problem } from '../../src/problem.js';
import { decisionEntry } from '../audit/audit-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

const LIMITS: AgentLimits = { liveLeasesPerAgent: 1000, issuancesPerMinutePerAgent: 0 };

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function newLease(
  agent: string,
  overrides: { id?: string; idempotencyKey?: string; template?: string } = {},
) {
  const now = new Date();
  const expires = new Date(now.getTime() + 300_000);
  const id = overrides.id ?? randomUUID();
  const lease = completeLease({
    id,
    state: 'active',
    template: overrides.template ?? 'reports-api',
    provider: 'jwt',
    agent,
    agentIssuer: 'k8s',
    taskId: `task-${id}`,
    intent: { taskId: `task-${id}`, purpose: 'batch test', actions: ['reports:read'], resources: [] },
    grant: { scopes: ['reports:read'] },
    policyVersion: 'v1',
    requestedTtlSeconds: 300,
    createdAt: now,
    issuedAt: now,
    expiresAt: expires,
    maxExpiresAt: expires,
    idempotencyKey: overrides.idempotencyKey ?? null,
    updatedAt: now,
  });
  const audits: AuditEntry[] = [decisionEntry({ leaseId: id, agent, agentIssuer: 'k8s' })];
  return { lease, audits };
}

async function rows(ids: string[]) {
  return db.sql<
    { id: string; xmin: string }[]
  >`select id, xmin::text from leases where id = any(${ids}::uuid[])`;
}

async function auditRows(ids: string[]) {
  const [row] = await db.sql<{ n: number }[]>`
    select count(*)::int as n from audit_events where lease_id = any(${ids}::uuid[])`;
  return row!.n;
}

describe('LeaseWriter', () => {
  test('writes queued in one turn commit together: one statement, one transaction', async () => {
    const writer = new LeaseWriter(db.sql);
    const writes = Array.from({ length: 12 }, (_, i) => newLease(`agent-${i % 3}`));
    await Promise.all(writes.map((w) => writer.write({ ...w, limits: LIMITS })));
    const ids = writes.map((w) => w.lease.id);
    const written = await rows(ids);
    expect(written).toHaveLength(12);
    expect(new Set(written.map((r) => r.xmin)).size).toBe(1);
    expect(await auditRows(ids)).toBe(12);
    expect(writer.stats).toMatchObject({ batches: 1, items: 12, retried: 0 });
  });

  test('a duplicate Idempotency-Key fails only its own request; the rest of its batch is written', async () => {
    const writer = new LeaseWriter(db.sql);
    const first = newLease('idem-agent', { idempotencyKey: 'key-1' });
    await writer.write({ ...first, limits: LIMITS });
    const others = Array.from({ length: 5 }, () => newLease('idem-agent'));
    const duplicate = newLease('idem-agent', { idempotencyKey: 'key-1' });
    const results = await Promise.allSettled(
      [others[0]!, others[1]!, duplicate, ...others.slice(2)].map((w) =>
        writer.write({ ...w, limits: LIMITS }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23505' });
    expect(await rows(others.map((w) => w.lease.id))).toHaveLength(5);
    expect(await rows([duplicate.lease.id])).toHaveLength(0);
    expect(await auditRows([duplicate.lease.id])).toBe(0);
    expect(writer.stats.retried).toBe(1);
  });

  test('an agent over its live-lease limit gets 429s for its own leases only, however they are batched', async () => {
    const writer = new LeaseWriter(db.sql);
    const capped: AgentLimits = { liveLeasesPerAgent: 2, issuancesPerMinutePerAgent: 0 };
    const greedy = Array.from({ length: 5 }, () => newLease('greedy-agent'));
    const bystanders = Array.from({ length: 4 }, (_, i) => newLease(`bystander-${i}`));
    const results = await Promise.allSettled([
      ...greedy.map((w) => writer.write({ ...w, limits: capped })),
      ...bystanders.map((w) => writer.write({ ...w, limits: capped })),
    ]);
    const greedyResults = results.slice(0, 5);
    expect(greedyResults.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = greedyResults.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(Problem);
      expect((r.reason as Problem).status).toBe(429);
    }
    expect(results.slice(5).every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await rows(greedy.map((w) => w.lease.id))).toHaveLength(2);
    expect(await rows(bystanders.map((w) => w.lease.id))).toHaveLength(4);
    const [usage] = await db.sql<{ live: number }[]>`
      select live from lease_usage where agent = 'greedy-agent' and template = ''`;
    expect(usage!.live).toBe(2);
  });

  test('a template cap and the agent total are both kept by the counter, whatever path ends a lease', async () => {
    const writer = new LeaseWriter(db.sql);
    const limits: AgentLimits = {
      liveLeasesPerAgent: 100,
      template: { name: 'capped', maxLiveLeasesPerAgent: 2 },
      issuancesPerMinutePerAgent: 0,
    };
    const capped = Array.from({ length: 3 }, () => newLease('counted-agent', { template: 'capped' }));
    const results = await Promise.allSettled(capped.map((w) => writer.write({ ...w, limits })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const usage = async () =>
      Object.fromEntries(
        (
          await db.sql<{ template: string; live: number }[]>`
            select template, live from lease_usage where agent = 'counted-agent'`
        ).map((r) => [r.template, r.live]),
      );
    expect(await usage()).toEqual({ '': 2, capped: 2 });
    // Revoked by any statement, deleted by retention: the triggers count it out.
    await db.sql`update leases set state = 'revoked' where agent = 'counted-agent' and id = (
      select id from leases where agent = 'counted-agent' limit 1)`;
    expect(await usage()).toEqual({ '': 1, capped: 1 });
    await db.sql`delete from leases where agent = 'counted-agent' and state = 'active'`;
    expect(await usage()).toEqual({ '': 0, capped: 0 });
    const again = newLease('counted-agent', { template: 'capped' });
    await writer.write({ ...again, limits });
    expect(await usage()).toEqual({ '': 1, capped: 1 });
  });

  test('a database that is gone fails the batch it was sent, and the writer recovers', async () => {
    const other = await createTestDatabase();
    const writer = new LeaseWriter(other.sql);
    await other.sql`alter table leases rename to leases_away`;
    const batch = Array.from({ length: 3 }, () => newLease('outage-agent'));
    const failed = await Promise.allSettled(batch.map((w) => writer.write({ ...w, limits: LIMITS })));
    expect(failed.every((r) => r.status === 'rejected')).toBe(true);
    await other.sql`alter table leases_away rename to leases`;
    const next = Array.from({ length: 3 }, () => newLease('outage-agent'));
    await Promise.all(next.map((w) => writer.write({ ...w, limits: LIMITS })));
    const [row] = await other.sql<{ n: number }[]>`select count(*)::int as n from leases`;
    expect(row!.n).toBe(3);
    await other.drop();
  });

  test('finishing issues: concurrent ones commit together; one revoked meanwhile keeps its state and gets no lease.issued row', async () => {
    const writer = new LeaseWriter(db.sql);
    const issuing = Array.from({ length: 4 }, () => newLease('finish-agent'));
    for (const w of issuing) w.lease.state = 'issuing';
    await Promise.all(issuing.map((w) => writer.write({ ...w, limits: LIMITS })));
    const revoked = issuing[2]!.lease;
    await db.sql`update leases set state = 'revoking' where id = ${revoked.id}`;
    const now = new Date();
    const finished = await Promise.all(
      issuing.map((w) =>
        writer.finishIssue({
          lease: w.lease,
          issuedAt: now,
          revocation: { role: `role-${w.lease.id}` },
          now,
          audit: decisionEntry({ event: 'lease.issued', leaseId: w.lease.id, agent: 'finish-agent' }),
        }),
      ),
    );
    expect(finished.map((l) => l?.state)).toEqual(['active', 'active', 'revoking', 'active']);
    const stored = await db.sql<
      { id: string; state: string; revocation: { role: string } | null; xmin: string }[]
    >`
      select id, state, revocation, xmin::text as xmin from leases where id = any(${issuing.map((w) => w.lease.id)}::uuid[])`;
    expect(new Set(stored.filter((r) => r.id !== revoked.id).map((r) => r.xmin)).size).toBe(1);
    for (const row of stored) expect(row.revocation).toEqual({ role: `role-${row.id}` });
    const [issuedRows] = await db.sql<{ n: number; revokedOnes: number }[]>`
      select count(*)::int as n, count(*) filter (where lease_id = ${revoked.id})::int as "revokedOnes"
      from audit_events where event = 'lease.issued' and agent = 'finish-agent'`;
    expect(issuedRows).toEqual({ n: 3, revokedOnes: 0 });
  });
});
