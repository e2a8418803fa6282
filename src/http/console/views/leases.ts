// Live leases (a credential may exist for each) with a revoke form per lease.
import { html } from 'hono/html';
import type { LeaseDetailView } from '../../../leases/lease-view.js';
import { formatTime, relativeTime, shortId } from './format.js';
import type { Html } from './layout.js';

const REVOCABLE = new Set(['issuing', 'active']);

export function leaseList(
  items: readonly LeaseDetailView[],
  csrf: string,
  now: Date,
  nextCursor: string | null,
  notice: Html | '',
): Html {
  const rows = items.map(
    (l) => html`<tr data-lease-id="${l.lease_id}">
  <td><code title="${l.lease_id}">${shortId(l.lease_id)}</code><div class="small"><a href="/console/audit?lease_id=${l.lease_id}">audit</a></div></td>
  <td>${l.state}</td>
  <td><code>${l.agent}</code><div class="muted small">${l.agent_issuer}</div></td>
  <td>${l.on_behalf_of === null ? html`<span class="muted">none</span>` : l.on_behalf_of.sub}</td>
  <td><code>${l.template}</code><div class="muted small">${l.provider}</div></td>
  <td><code>${l.task_id}</code><div class="purpose">${l.intent.purpose}</div>${l.intent.actions.map((a) => html`<code class="chip">${a}</code>`)}</td>
  <td>${formatTime(l.issued_at)}</td>
  <td>${formatTime(l.expires_at)}<div class="muted small">${relativeTime(l.expires_at, now)}</div></td>
  <td>${
    REVOCABLE.has(l.state)
      ? html`<form class="inline" method="post" action="/console/leases/${l.lease_id}/revoke">
    <input type="hidden" name="csrf" value="${csrf}">
    <input type="text" name="reason" required maxlength="1000" placeholder="reason" aria-label="reason">
    <button type="submit" class="revoke">Revoke</button></form>`
      : html`<span class="muted small">revocation in progress</span>`
  }</td>
</tr>`,
  );
  return html`<h1>Live leases</h1>
<p class="lead">Credentials that may still be in use. Revoking one ends it at the provider and is audited under your name.</p>
${notice}
${
  items.length === 0
    ? html`<div class="card muted">No live lease.</div>`
    : html`<table id="leases"><thead><tr><th>Lease</th><th>State</th><th>Agent</th><th>On behalf of</th><th>Template</th><th>Task</th><th>Issued</th><th>Expires</th><th>Revoke</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
${nextCursor === null ? '' : html`<p class="pager"><a href="/console/leases?cursor=${encodeURIComponent(nextCursor)}">Older leases →</a></p>`}`;
}
