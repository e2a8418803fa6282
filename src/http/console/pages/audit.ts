// The audit trail, read with the same query as GET /v1/audit.
import { listAudit } from '../../../audit/audit-log.js';
import type { ConsoleApp, ConsoleDeps } from '../console-context.js';
import { renderPage } from '../console-context.js';
import { auditList } from '../views/audit.js';

const AUDIT_PAGE_SIZE = 50;

export function registerAuditPage(app: ConsoleApp, deps: ConsoleDeps): void {
  app.get('/audit', async (c) => {
    const leaseId = c.req.query('lease_id')?.trim() || undefined;
    const agent = c.req.query('agent')?.trim() || undefined;
    const cursor = c.req.query('cursor') || undefined;
    const page = await listAudit(deps.database.db, {
      limit: AUDIT_PAGE_SIZE,
      ...(leaseId ? { leaseId } : {}),
      ...(agent ? { agent } : {}),
      ...(cursor ? { cursor } : {}),
    });
    return renderPage(c, {
      title: 'Audit trail',
      nav: 'audit',
      body: auditList(page.items, { leaseId, agent }, page.nextCursor),
    });
  });
}
