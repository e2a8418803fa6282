// Pending step-up requests: list, detail, approve, deny. Every decision goes through the
// approvals service with the signed-in staff member, so who may approve (group membership, not
// one's own request, distinct approvers) is the service's rule, never the console's.

import { z } from 'zod';
import type { ApprovalService, ApprovalView } from '../../../approvals/types.js';
import { UUID_PATTERN } from '../../../core/ids.js';
import { problems } from '../../../problem.js';
import type { ConsoleApp, ConsoleContext, ConsoleDeps } from '../console-context.js';
import { readForm, renderPage } from '../console-context.js';
import { assessRisk } from '../risk.js';
import {
  approvalDetail,
  approvalList,
  approvalsNotEnabled,
  type ReviewedApproval,
} from '../views/approvals.js';
import { noticeFor } from '../views/messages.js';

const PAGE_SIZE = 50;
const reason = z.string().trim().max(1000, 'the reason is at most 1000 characters');
const ApproveForm = z.object({ reason: reason.optional() });
const DenyForm = z.object({ reason: reason.min(1, 'a reason is required to deny a request') });

function review(deps: ConsoleDeps, approval: ApprovalView): ReviewedApproval {
  const template = deps.policies.current().templates.get(approval.template);
  const risk = assessRisk({
    actions: approval.intent.actions,
    resources: approval.intent.resources,
    onBehalfOf: approval.on_behalf_of,
    ttlSeconds: approval.ttl_seconds,
    provider: template?.provider,
  });
  return { approval, risk, provider: template?.provider };
}

export function registerApprovalPages(app: ConsoleApp, deps: ConsoleDeps): void {
  // Read per request: the documentation app builds the routes without any service behind them.
  const service = (): ApprovalService | undefined => deps.approvals;
  const notEnabled = (c: ConsoleContext, status: 200 | 404 = 200) =>
    renderPage(c, { title: 'Pending approvals', nav: 'approvals', body: approvalsNotEnabled() }, status);

  /** An approval id from the path; anything but a UUID cannot name an approval. */
  const approvalId = (c: ConsoleContext): string => {
    const id = c.req.param('id') ?? '';
    if (!UUID_PATTERN.test(id)) throw problems.notFound('no such approval request');
    return id;
  };

  app.get('/', async (c) => {
    const approvals = service();
    if (!approvals) return notEnabled(c);
    const cursor = c.req.query('cursor');
    const page = await approvals.list({ status: 'pending', limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) });
    const items = page.items.map((a) => review(deps, a));
    const body = approvalList(items, deps.clock.now(), page.nextCursor, noticeFor(c.req.query('notice')));
    return renderPage(c, { title: 'Pending approvals', nav: 'approvals', body });
  });

  app.get('/approvals/:id', async (c) => {
    const approvals = service();
    if (!approvals) return notEnabled(c);
    const approval = await approvals.get(approvalId(c));
    if (approval === undefined) throw problems.notFound('no such approval request');
    const body = approvalDetail(review(deps, approval), c.get('session').csrf, deps.clock.now(), undefined);
    return renderPage(c, { title: 'Review request', nav: 'approvals', body });
  });

  for (const decision of ['approve', 'deny'] as const) {
    app.post(`/approvals/:id/${decision}`, async (c) => {
      const approvals = service();
      if (!approvals) return notEnabled(c, 404);
      const id = approvalId(c);
      const form = await readForm(c, decision === 'approve' ? ApproveForm : DenyForm);
      const { staff } = c.get('session');
      if (!form.ok) {
        const approval = await approvals.get(id);
        if (approval === undefined) throw problems.notFound('no such approval request');
        const body = approvalDetail(
          review(deps, approval),
          c.get('session').csrf,
          deps.clock.now(),
          form.message,
        );
        return renderPage(c, { title: 'Review request', nav: 'approvals', body }, 400);
      }
      const given = form.data.reason === '' ? undefined : form.data.reason;
      if (decision === 'approve') {
        const result = await approvals.approve(staff, id, given, c.get('requestId'));
        return c.redirect(
          `/console?notice=${result.status === 'pending' ? 'approval-recorded' : 'approved'}`,
          303,
        );
      }
      await approvals.deny(staff, id, given ?? '', c.get('requestId'));
      return c.redirect('/console?notice=denied', 303);
    });
  }
}
