// Pending step-up requests: the list a reviewer works through, and one request with the approve
// and deny form. Everything shown comes from the approvals service's staff view (never a secret);
// every value is escaped by the html template.
import { html } from 'hono/html';
import type { ApprovalView } from '../../../approvals/types.js';
import type { ProviderKind } from '../../../providers/templates.js';
import type { RiskAssessment } from '../risk.js';
import { formatDuration, formatTime, relativeTime, shortId } from './format.js';
import type { Html } from './layout.js';

export interface ReviewedApproval {
  approval: ApprovalView;
  risk: RiskAssessment;
  /** The template's provider; undefined when the template is no longer in the policy set. */
  provider: ProviderKind | undefined;
}

/** jwt templates scope by actions alone: an empty resource list there says nothing. */
function resourcesApply(provider: ProviderKind | undefined, resources: readonly string[]): boolean {
  return provider !== 'jwt' || resources.length > 0;
}

function chips(values: readonly string[], empty: string): Html {
  return values.length === 0
    ? html`<span class="muted">${empty}</span>`
    : html`${values.map((v) => html`<code class="chip">${v}</code>`)}`;
}

function riskBadge(risk: RiskAssessment, withReasons: boolean): Html {
  return html`<span class="risk risk-${risk.level}" title="${risk.reasons.join('; ')}">${risk.level}</span>${
    withReasons && risk.reasons.length > 0
      ? html`<ul class="reasons">${risk.reasons.map((r) => html`<li>${r}</li>`)}</ul>`
      : ''
  }`;
}

function human(onBehalfOf: ApprovalView['on_behalf_of']): Html {
  return onBehalfOf === null
    ? html`<span class="muted">none</span>`
    : html`${onBehalfOf.sub}<div class="muted small">${onBehalfOf.issuer}</div>`;
}

function votes(approval: ApprovalView): Html {
  return html`<span class="nowrap">${approval.approvals.length} of ${approval.required_approvals}</span><div class="muted small">group <span class="nowrap">${approval.group}</span></div>`;
}

export function approvalsNotEnabled(): Html {
  return html`<h1>Pending approvals</h1>
<div class="notice">Approvals are not enabled on this broker: no step-up requests can be reviewed here.</div>`;
}

export function approvalList(
  items: readonly ReviewedApproval[],
  now: Date,
  nextCursor: string | null,
  notice: Html | '',
): Html {
  const rows = items.map(
    ({ approval: a, risk, provider }) => html`<tr data-approval-id="${a.approval_id}">
  <td><a href="/console/approvals/${a.approval_id}" title="${a.approval_id}"><code>${shortId(a.approval_id)}</code></a>
    <div class="muted small nowrap">${relativeTime(a.created_at, now)}</div></td>
  <td><code>${a.agent}</code><div class="muted small">${a.agent_issuer}</div></td>
  <td>${human(a.on_behalf_of)}</td>
  <td class="intent"><div><code class="template">${a.template}</code> <span class="muted">· task</span> <code>${a.intent.task_id}</code></div>
    <div class="purpose">${a.intent.purpose}</div>
    <div>${chips(a.intent.actions, 'no actions')}</div>
    ${resourcesApply(provider, a.intent.resources) ? html`<div class="small">${chips(a.intent.resources, 'all resources of the template')}</div>` : ''}</td>
  <td class="nowrap">${formatDuration(a.ttl_seconds)}</td>
  <td class="policies">${a.policies.map((p) => html`<div><code>${p}</code></div>`)}</td>
  <td>${votes(a)}</td>
  <td class="risk-cell">${riskBadge(risk, true)}</td>
  <td><a class="button" href="/console/approvals/${a.approval_id}">Review</a></td>
</tr>`,
  );
  const count =
    items.length === 0
      ? ''
      : html` <span class="count">${items.length}${nextCursor === null ? '' : '+'}</span>`;
  return html`<h1>Pending approvals${count}</h1>
<p class="lead">Step-up requests waiting for a decision. Open one to approve or deny it with a reason.</p>
${notice}
${
  items.length === 0
    ? html`<div class="card muted" id="no-pending">No request is waiting for approval.</div>`
    : html`<table id="pending">
<thead><tr><th>Request</th><th>Agent</th><th>On behalf of</th><th>Template and intent</th><th>TTL</th><th>Deciding policies</th><th>Approvals</th><th>Risk</th><th></th></tr></thead>
<tbody>${rows}</tbody>
</table>`
}
${nextCursor === null ? '' : html`<p class="pager"><a href="/console?cursor=${encodeURIComponent(nextCursor)}">Older requests →</a></p>`}`;
}

export function approvalDetail(
  reviewed: ReviewedApproval,
  csrf: string,
  now: Date,
  formError: string | undefined,
): Html {
  const { approval: a, risk, provider } = reviewed;
  const pending = a.status === 'pending';
  return html`<p><a href="/console">← Pending approvals</a></p>
<h1>Request <code>${a.approval_id}</code></h1>
<p class="lead">Status <strong>${a.status}</strong> · asked ${formatTime(a.created_at)} · ${
    pending ? html`expires ${relativeTime(a.expires_at, now)}` : html`decided ${formatTime(a.decided_at)}`
  }</p>
${formError === undefined ? '' : html`<div class="notice error" role="alert">${formError}</div>`}
<div class="card"><dl>
  <dt>Agent</dt><dd><code>${a.agent}</code> <span class="muted">from issuer ${a.agent_issuer}</span></dd>
  <dt>On behalf of</dt><dd>${human(a.on_behalf_of)}</dd>
  <dt>Template</dt><dd><code>${a.template}</code></dd>
  <dt>Task</dt><dd><code>${a.intent.task_id}</code></dd>
  <dt>Purpose</dt><dd class="purpose">${a.intent.purpose}</dd>
  <dt>Actions</dt><dd>${chips(a.intent.actions, 'none')}</dd>
  <dt>Resources</dt><dd>${
    resourcesApply(provider, a.intent.resources)
      ? chips(a.intent.resources, 'all resources of the template')
      : html`<span class="muted">not used by jwt templates (the scopes are the actions)</span>`
  }</dd>
  <dt>TTL</dt><dd>${formatDuration(a.ttl_seconds)}</dd>
  <dt>Deciding policies</dt><dd>${a.policies.map((p) => html`<code class="chip">${p}</code>`)} <span class="muted small">policy set ${a.policy_version.slice(0, 12)}</span></dd>
  <dt>Approvers</dt><dd>${a.approvals.length} of ${a.required_approvals} from group <code>${a.group}</code></dd>
  <dt>Risk</dt><dd>${riskBadge(risk, true)}</dd>
  <dt>Lease</dt><dd><code>${a.lease_id}</code></dd>
  ${a.decided_by === null ? '' : html`<dt>Decided by</dt><dd>${a.decided_by}${a.reason === null ? '' : html` — ${a.reason}`}</dd>`}
</dl></div>
${
  a.approvals.length === 0
    ? ''
    : html`<h2>Approvals so far</h2><table><thead><tr><th>Approver</th><th>Reason</th><th>At</th></tr></thead><tbody>${a.approvals.map(
        (v) => html`<tr><td>${v.approver}</td><td>${v.reason ?? ''}</td><td>${formatTime(v.at)}</td></tr>`,
      )}</tbody></table>`
}
${
  pending
    ? html`<h2>Decide</h2>
<form class="card" method="post" action="/console/approvals/${a.approval_id}/approve" id="decide">
  <input type="hidden" name="csrf" value="${csrf}">
  <label for="reason">Reason (required to deny; recorded in the audit trail)</label>
  <textarea id="reason" name="reason" rows="3" maxlength="1000"></textarea>
  <div class="actions">
    <button type="submit" class="approve" id="approve">Approve</button>
    <button type="submit" class="deny" id="deny" formaction="/console/approvals/${a.approval_id}/deny">Deny</button>
  </div>
</form>`
    : a.status === 'approved' && a.lease_state === 'pending_approval'
      ? html`<h2>Withdraw the approval</h2>
<form class="card" method="post" action="/console/approvals/${a.approval_id}/deny" id="withdraw">
  <input type="hidden" name="csrf" value="${csrf}">
  <p class="muted">Approved, but the agent has not collected the credential yet: until it does, the
  request can still be denied and no credential will be issued.</p>
  <label for="reason">Reason (required; recorded in the audit trail)</label>
  <textarea id="reason" name="reason" rows="3" maxlength="1000" required></textarea>
  <div class="actions">
    <button type="submit" class="deny" id="deny">Withdraw and deny</button>
  </div>
</form>`
      : ''
}`;
}
