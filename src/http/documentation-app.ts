// The app with every route registered but no services behind them: enough to generate the
// OpenAPI document (npm run openapi) without a database. Any attempt to serve a request fails.
import { type AppDeps, createApp } from './app.js';
import type { App } from './env.js';
import { apiExtensions } from './extensions.js';

function unavailable(path: string): unknown {
  const fn = () => {
    throw new Error(`documentation app: ${path} is not available`);
  };
  return new Proxy(fn, {
    get: (_target, property) =>
      property === 'then' ? undefined : unavailable(`${path}.${String(property)}`),
    apply: () => fn(),
  });
}

export function buildDocumentationApp(): App {
  const deps = unavailable('deps') as AppDeps;
  const extensions = apiExtensions(deps);
  // Not `{ ...deps, extensions }`: spreading a Proxy copies only its target's own keys, which
  // would drop every dependency (createApp reads deps.config while registering routes).
  const withExtensions = new Proxy(deps, {
    get: (target, property, receiver) =>
      property === 'extensions' ? extensions : Reflect.get(target, property, receiver),
  });
  return createApp(withExtensions);
}
