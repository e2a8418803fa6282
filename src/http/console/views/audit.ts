// The audit trail, newest first, optionally narrowed to one lease or agent.
import { html } from 'hono/html';
import type { AuditRecord } from '../../../audit/audit-log.js';
import { formatTime } from './format.js';
import type { Html } from './layout.js';

export interface AuditQuery {
  leaseId?: string | undefined;
  agent?: string | undefined;
}

function pageLink(query: AuditQuery, cursor: string): string {
  const params = new URLSearchParams();
  if (query.leaseId) params.set('lease_id', query.leaseId);
  if (query.agent) params.set('agent', query.agent);
  params.set('cursor', cursor);
  return `/console/audit?${params.toString()}`;
}

function compact(value: unknown): string {
  return value === null || value === undefined ? '' : JSON.stringify(value);
}

export function auditList(items: readonly AuditRecord[], query: AuditQuery, nextCursor: string | null): Html {
  const rows = items.map(
    (e) => html`<tr>
  <td class="mono small">${e.seq ?? '…'}</td>
  <td class="small nowrap">${formatTime(e.at)}</td>
  <td><code>${e.event}</code>${e.decision ? html`<div class="small">${e.decision}</div>` : ''}</td>
  <td class="small">${e.actor ?? ''}</td>
  <td>${e.agent ? html`<code>${e.agent}</code><div class="muted small">${e.agent_issuer}</div>` : ''}</td>
  <td>${e.lease_id ? html`<a class="mono small" href="/console/audit?lease_id=${e.lease_id}">${e.lease_id.slice(0, 8)}</a>` : ''}</td>
  <td>${e.template ? html`<code>${e.template}</code>` : ''}</td>
  <td class="policies">${(e.policies ?? []).map((p) => html`<code class="chip">${p}</code>`)}</td>
  <td class="mono small details">${compact(e.reasons)} ${compact(e.detail)}</td>
</tr>`,
  );
  return html`<h1>Audit trail</h1>
<p class="lead">Every decision and state change, newest first. The hash chain is checked by <code>GET /v1/audit/verify</code>.</p>
<form method="get" action="/console/audit" class="inline card">
  <label for="lease_id">Lease</label><input type="text" id="lease_id" name="lease_id" value="${query.leaseId ?? ''}" placeholder="lease id">
  <label for="agent">Agent</label><input type="text" id="agent" name="agent" value="${query.agent ?? ''}" placeholder="agent subject">
  <button type="submit">Filter</button> <a href="/console/audit">Clear</a>
</form>
${
  items.length === 0
    ? html`<div class="card muted">No audit event matches.</div>`
    : html`<table id="audit"><thead><tr><th>Seq</th><th>At</th><th>Event</th><th>Actor</th><th>Agent</th><th>Lease</th><th>Template</th><th>Policies</th><th>Details</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
${nextCursor === null ? '' : html`<p class="pager"><a href="${pageLink(query, nextCursor)}">Older events →</a></p>`}`;
}
