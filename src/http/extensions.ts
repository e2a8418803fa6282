// Route modules that live beside their services rather than in app.ts (approvals, console).
// Listed once here so the served API and the documentation app can never differ.
import type { AppDeps } from './app.js';
import type { App } from './env.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerConsoleRoutes } from './routes/console.js';

export function apiExtensions(deps: AppDeps): ((app: App) => void)[] {
  const extensions: ((app: App) => void)[] = [];
  const { approvals } = deps;
  if (approvals)
    extensions.push((app) => registerApprovalRoutes(app, { approvals, verifiers: deps.verifiers }));
  extensions.push((app) => registerConsoleRoutes(app, deps));
  return extensions;
}
