// The sweeper keeps the audit chain up with a busy broker: one sweep seals the whole backlog (batch
// after batch), not one batch per tick, and the chain it builds verifies. The sweep's time budget
// is raised here so the assertion does not depend on how fast this machine hashes.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { auditInsert, verifyAuditLog } from '../../src/audit/audit-log.js';
import { createLogger } from '../../src/logger.js';
import { Sweeper } from '../../src/revocation/sweeper.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let t: TestBroker;
beforeAll(async () => {
  t = await startTestBroker();
});
afterAll(async () => {
  await t?.close();
});

test('one sweep seals a backlog several batches long, and the chain verifies', async () => {
  // Six batches: enough to show one sweep does not stop after the first, well inside its time budget.
  const backlog = 3_000;
  const at = new Date();
  const entries = Array.from({ length: backlog }, (_, n) => ({
    at,
    event: 'bench.backlog',
    actor: 'test',
    detail: { n },
  }));
  // Written as the broker writes rows (each with its MAC), so the sealer accepts them.
  await t.database.sql`${auditInsert(t.database.sql, entries)}`;
  const before = await verifyAuditLog(t.database.sql);
  expect(before.unsealed).toBeGreaterThanOrEqual(backlog);

  const sweeper = new Sweeper({
    database: t.database,
    clock: t.clock,
    logger: createLogger('silent'),
    metrics: t.broker.metrics,
    revoker: t.broker.revoker,
    instance: t.broker.instance,
    intervalSeconds: 5,
    retention: { leaseSeconds: 30 * 86_400, deliverySeconds: 86_400 },
    sealBudgetMs: 120_000,
  });
  const report = await sweeper.sweep();

  expect(report.sealed).toBe(before.unsealed);
  const after = await verifyAuditLog(t.database.sql);
  expect(after).toMatchObject({ ok: true, unsealed: 0, checked: before.checked + before.unsealed });
});
