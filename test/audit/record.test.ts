import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordAudit } from '../../src/audit/audit-log.js';
import { auditEvents } from '../../src/db/schema/audit-events.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { decisionEntry, LEASE_B, resetAuditLog } from './audit-fixtures.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(async () => {
  await resetAuditLog(database);
});

describe('recordAudit', () => {
  it('writes every field of the entry, unsealed', async () => {
    const entry = decisionEntry({ leaseId: LEASE_B, decision: 'deny', reasons: ['ttl over max'] });
    await recordAudit(database.db, entry);
    const [row] = await database.db.select().from(auditEvents);
    expect(row).toMatchObject({
      at: entry.at,
      event: 'decision',
      requestId: entry.requestId,
      agent: entry.agent,
      agentIssuer: 'k8s-prod',
      onBehalfOf: { sub: 'alice', issuer: 'https://sso.example.com' },
      leaseId: LEASE_B,
      template: 'reports-api',
      intent: entry.intent,
      decision: 'deny',
      policies: ['permit-reports-read'],
      reasons: ['ttl over max'],
      policyVersion: 'sha256:0f1e2d',
      detail: entry.detail,
      seq: null,
      prevHash: null,
      hash: null,
    });
  });

  it('writes a list of entries in one call, and nothing for an empty list', async () => {
    await recordAudit(database.db, [decisionEntry(), decisionEntry({ event: 'lease.issued' })]);
    await recordAudit(database.db, []);
    const rows = await database.db.select().from(auditEvents);
    expect(rows.map((r) => r.event).sort()).toEqual(['decision', 'lease.issued']);
  });

  it('leaves nothing behind when the transaction it was written in rolls back', async () => {
    await expect(
      database.db.transaction(async (tx) => {
        await recordAudit(tx, [decisionEntry(), decisionEntry()]);
        throw new Error('provider failed');
      }),
    ).rejects.toThrow('provider failed');
    expect(await database.db.select().from(auditEvents)).toHaveLength(0);
  });

  it('commits together with the transaction it was written in', async () => {
    await database.db.transaction(async (tx) => {
      await recordAudit(tx, decisionEntry());
    });
    expect(await database.db.select().from(auditEvents)).toHaveLength(1);
  });

  it('never pre-seals a row, whatever the caller passes', async () => {
    const forged = { ...decisionEntry(), seq: 1, prevHash: 'x', hash: 'y' };
    await recordAudit(database.db, forged);
    const [row] = await database.db.select().from(auditEvents);
    expect(row).toMatchObject({ seq: null, prevHash: null, hash: null });
  });

  it('refuses an entry carrying a credential-like key anywhere in intent or detail', async () => {
    await expect(
      recordAudit(
        database.db,
        decisionEntry({ detail: { response: { credential: { password: 'hunter2' } } } }),
      ),
    ).rejects.toThrow(/detail\.response\.credential.*looks like a secret/);
    await expect(
      recordAudit(database.db, decisionEntry({ detail: { Secret_Access_Key: 'x' } })),
    ).rejects.toThrow(/looks like a secret/);
    expect(await database.db.select().from(auditEvents)).toHaveLength(0);
  });

  it('refuses an entry without a valid time', async () => {
    await expect(recordAudit(database.db, decisionEntry({ at: new Date(Number.NaN) }))).rejects.toThrow(
      /at must be a valid Date/,
    );
  });
});
