// The staff console (server-rendered HTML) under /console; its pages live in src/http/console/.

import { createConsoleApp } from '../console/console-app.js';
import type { ConsoleDeps } from '../console/console-context.js';
import type { App } from '../env.js';

export function registerConsoleRoutes(app: App, deps: ConsoleDeps): void {
  app.route('/console', createConsoleApp(deps));
}
