// Live leases and revoking one: through the Revoker, with the staff member as the audited actor.

import { z } from 'zod';
import { UUID_PATTERN } from '../../../core/ids.js';
import { problems } from '../../../problem.js';
import type { ConsoleApp, ConsoleDeps } from '../console-context.js';
import { readForm, renderPage } from '../console-context.js';
import { listLiveLeases } from '../live-leases.js';
import { leaseList } from '../views/leases.js';
import { noticeFor } from '../views/messages.js';

const RevokeForm = z.object({
  reason: z
    .string()
    .trim()
    .min(1, 'a reason is required to revoke a lease')
    .max(1000, 'the reason is at most 1000 characters'),
});

export function registerLeasePages(app: ConsoleApp, deps: ConsoleDeps): void {
  app.get('/leases', async (c) => {
    const page = await listLiveLeases(deps.database.db, c.req.query('cursor'));
    const body = leaseList(
      page.items,
      c.get('session').csrf,
      deps.clock.now(),
      page.nextCursor,
      noticeFor(c.req.query('notice')),
    );
    return renderPage(c, { title: 'Live leases', nav: 'leases', body });
  });

  app.post('/leases/:id/revoke', async (c) => {
    const id = c.req.param('id');
    if (!UUID_PATTERN.test(id)) throw problems.notFound('no such lease');
    const form = await readForm(c, RevokeForm);
    if (!form.ok) throw problems.badRequest(form.message);
    const { staff } = c.get('session');
    const revoked = await deps.revoker.revoke(
      { leaseIds: [id] },
      form.data.reason,
      `staff:${staff.subject}`,
      c.get('requestId'),
    );
    return c.redirect(`/console/leases?notice=${revoked.length > 0 ? 'revoked' : 'not-live'}`, 303);
  });
}
