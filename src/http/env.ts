// Types shared by the app, its middleware and its routes.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { HumanIdentity, WorkloadIdentity } from '../identity/types.js';
import type { Logger } from '../logger.js';

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    identity: WorkloadIdentity;
    staff: HumanIdentity;
    /** Set on OAuth endpoints: errors render as `{ error, error_description }`. */
    errorShape: 'oauth' | undefined;
  };
}

export type App = OpenAPIHono<AppEnv>;
