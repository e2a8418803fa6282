// The page frame every console page shares: a small inline stylesheet (allowed by its hash in the
// Content-Security-Policy, so no other style or any script can run), navigation, the signed-in
// staff member and the sign-out form.
import { createHash } from 'node:crypto';
import { html, raw } from 'hono/html';
import type { HumanIdentity } from '../../../identity/types.js';

export type Html = ReturnType<typeof html>;

const STYLESHEET = `
:root { --ink:#1d2433; --muted:#5b6577; --line:#dde2ea; --bg:#f6f7f9; --accent:#2f5bd3;
  --low:#1f7a3f; --low-bg:#e3f4e8; --medium:#8a5a00; --medium-bg:#fdf1d6; --high:#a8261b; --high-bg:#fbe3e0; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; align-items:center; gap:24px; padding:10px 24px; background:#fff; border-bottom:1px solid var(--line); }
header .brand { font-weight:700; letter-spacing:.2px; display:flex; align-items:center; gap:8px; }
header .brand .tag { font-weight:500; font-size:11px; color:var(--muted); border:1px solid var(--line); border-radius:10px; padding:1px 8px; text-transform:uppercase; letter-spacing:.5px; }
header nav a { margin-right:16px; color:var(--muted); text-decoration:none; padding:4px 0; }
header nav a.current { color:var(--ink); border-bottom:2px solid var(--accent); }
header .who { margin-left:auto; color:var(--muted); display:flex; align-items:center; gap:12px; }
main { padding:20px 24px; max-width:1400px; }
h1 { font-size:20px; margin:0 0 4px; display:flex; align-items:center; gap:10px; }
h1 .count { font-size:12px; font-weight:600; color:#fff; background:var(--accent); border-radius:10px; padding:1px 9px; } h2 { font-size:16px; margin:24px 0 8px; }
p.lead { color:var(--muted); margin:0 0 16px; }
table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
th, td { text-align:left; vertical-align:top; padding:10px 11px; border-bottom:1px solid var(--line); }
tbody tr:last-child td { border-bottom:none; } tbody tr:hover { background:#fafbfd; }
td code { white-space:nowrap; } .nowrap { white-space:nowrap; }
td.intent { min-width:320px; } td.risk-cell { min-width:190px; } code.template { font-weight:600; } td.policies code { white-space:normal; overflow-wrap:anywhere; } td.details { overflow-wrap:anywhere; min-width:240px; }
td .purpose { font-weight:500; margin:2px 0 4px; } dd.purpose { font-weight:500; }
th { font-size:11.5px; white-space:nowrap; text-transform:uppercase; letter-spacing:.4px; color:var(--muted); background:#fafbfc; }
code, .mono { font-family:ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size:12.5px; }
.chip { display:inline-block; padding:1px 6px; margin:1px 2px 1px 0; border-radius:4px; background:#eef1f6; }
.muted { color:var(--muted); } .small { font-size:12px; }
.risk { display:inline-block; padding:2px 8px; border-radius:10px; font-weight:600; font-size:12px; text-transform:uppercase; }
.risk-low { color:var(--low); background:var(--low-bg); } .risk-medium { color:var(--medium); background:var(--medium-bg); }
.risk-high { color:var(--high); background:var(--high-bg); }
ul.reasons { margin:4px 0 0; padding-left:16px; color:var(--muted); font-size:12px; }
.notice { padding:10px 14px; border-radius:6px; margin-bottom:16px; background:#e7eefc; border:1px solid #c9d7f7; }
.error { background:var(--high-bg); border-color:#f2c3bd; }
.card { background:#fff; border:1px solid var(--line); border-radius:6px; padding:16px; margin-bottom:16px; }
dl { display:grid; grid-template-columns:180px 1fr; gap:8px 16px; margin:0; } dt { color:var(--muted); } dd { margin:0; }
form.card label { display:block; margin-bottom:6px; font-weight:500; }
textarea, input[type=text] { width:100%; max-width:560px; padding:6px 8px; border:1px solid var(--line); border-radius:4px; font:inherit; }
button { font:inherit; padding:6px 14px; border-radius:4px; border:1px solid var(--line); background:#fff; cursor:pointer; }
button.approve { background:var(--low); border-color:var(--low); color:#fff; }
button.deny, button.revoke { background:var(--high); border-color:var(--high); color:#fff; }
button.link { border:none; background:none; color:var(--accent); padding:0; }
form.inline { display:flex; gap:6px; align-items:center; } form.inline input[type=text] { width:180px; }
.actions { display:flex; gap:8px; margin-top:10px; }
.pager { margin-top:12px; }
a { color:var(--accent); }
a.button { display:inline-block; white-space:nowrap; padding:4px 12px; border:1px solid var(--accent); border-radius:4px; text-decoration:none; font-weight:500; }
a.button:hover { background:var(--accent); color:#fff; }
`;

/** For the Content-Security-Policy header: the one style block the console serves. */
export const STYLESHEET_HASH = `sha256-${createHash('sha256').update(STYLESHEET).digest('base64')}`;

export type NavItem = 'approvals' | 'leases' | 'audit';

export interface PageFrame {
  title: string;
  staff?: HumanIdentity;
  csrf?: string;
  nav?: NavItem;
}

function navLink(item: NavItem, current: NavItem | undefined, href: string, label: string): Html {
  return html`<a href="${href}" class="${item === current ? 'current' : ''}">${label}</a>`;
}

export function staffLabel(staff: HumanIdentity): string {
  return staff.name ?? staff.email ?? staff.subject;
}

export function layout(frame: PageFrame, body: Html): Html {
  const { staff, csrf } = frame;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · jit-broker console</title>
<style>${raw(STYLESHEET)}</style>
</head>
<body>
<header>
  <span class="brand">jit-broker <span class="tag">staff console</span></span>
  ${
    staff
      ? html`<nav>
    ${navLink('approvals', frame.nav, '/console', 'Pending approvals')}
    ${navLink('leases', frame.nav, '/console/leases', 'Live leases')}
    ${navLink('audit', frame.nav, '/console/audit', 'Audit trail')}
  </nav>
  <span class="who"><span title="${staff.subject} (${staff.groups.join(', ')})">${staffLabel(staff)}</span>
    <form method="post" action="/console/logout"><input type="hidden" name="csrf" value="${csrf}"><button class="link" type="submit">Sign out</button></form>
  </span>`
      : ''
  }
</header>
<main>
${body}
</main>
</body>
</html>`;
}
