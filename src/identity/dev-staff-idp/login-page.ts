// The staff IdP's two pages: the login form and an error page. Every value is HTML-escaped.

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;margin:0;display:grid;place-items:center;min-height:100vh}
main{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:2rem;width:22rem}
h1{font-size:1.25rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #b8bfcc;border-radius:4px;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:4px;background:#1f4fd1;color:#fff;font:inherit;font-weight:600}
.error{color:#a11;margin:0 0 .5rem}.hint{color:#555;font-size:.875rem;margin-top:1rem}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

export function loginPage(opts: {
  action: string;
  hint?: string | undefined;
  error?: string;
  login?: string;
}): string {
  return page(
    'Sign in: jit-broker staff',
    `<h1>Sign in to review access requests</h1>
${opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : ''}<form method="post" action="${escapeHtml(opts.action)}" autocomplete="off">
<label for="login">Login</label><input id="login" name="login" required autofocus value="${escapeHtml(opts.login ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>
${opts.hint ? `<p class="hint">${escapeHtml(opts.hint)}</p>` : ''}`,
  );
}

export function errorPage(error: string, description: string): string {
  return page(
    'Sign-in error',
    `<h1>Sign-in error</h1><p class="error">${escapeHtml(error)}</p><p>${escapeHtml(description)}</p>`,
  );
}
