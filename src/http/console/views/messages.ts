// Pages that only say something: a refused or failed request, and the signed-out page.
import { html } from 'hono/html';
import type { Problem } from '../../../problem.js';
import type { Html } from './layout.js';

/** A problem as a page: its title, message and field errors, the request id for the logs; never a stack. */
export function problemPage(problem: Problem, requestId: string | undefined, signedIn: boolean): Html {
  return html`<h1>${problem.title}</h1>
<div class="notice error" role="alert" id="problem">${problem.detail ?? problem.title}${
    problem.errors === undefined || problem.errors.length === 0
      ? ''
      : html`<ul class="reasons">${problem.errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}</ul>`
  }</div>
<p class="muted small">HTTP ${problem.status}${requestId ? html` · request id <code>${requestId}</code>` : ''}</p>
<p>${signedIn ? html`<a href="/console">Back to the console</a>` : html`<a href="/console/login">Sign in</a>`}</p>`;
}

export function signedOutPage(): Html {
  return html`<h1>Signed out</h1>
<p class="lead">Your console session has ended. Your session at the identity provider is not affected.</p>
<p><a href="/console/login">Sign in again</a></p>`;
}

export const NOTICES = {
  approved: 'The request was approved.',
  'approval-recorded': 'Your approval was recorded; the request needs more approvers.',
  denied: 'The request was denied.',
  revoked: 'The lease was revoked.',
  'not-live': 'The lease was no longer live: nothing was revoked.',
} as const;
export type NoticeKey = keyof typeof NOTICES;

/** Only fixed messages can be shown, so a crafted link cannot put words on a console page. */
export function noticeFor(key: string | undefined): Html | '' {
  if (key === undefined || !Object.hasOwn(NOTICES, key)) return '';
  return html`<div class="notice" role="status" id="notice">${NOTICES[key as NoticeKey]}</div>`;
}
