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
  };
}

export type App = OpenAPIHono<AppEnv>;
