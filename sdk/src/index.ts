// @jit-broker/sdk: a typed client for jit-broker (types generated from its openapi.yaml).
export { isPending, JitBroker, type JitBrokerOptions, type MintOptions, type WaitOptions } from './client.js';
export * from './errors.js';
export {
  type ExchangeRequest,
  GRANT_CIBA,
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  TOKEN_TYPE_JWT,
  type TokenResponse,
} from './exchange.js';
export type { components, paths } from './openapi.js';
export { keepRenewed, type Renewal, type RenewalEnd, type RenewalOptions } from './renewal.js';
export {
  type BulkRevokeTarget,
  JitBrokerStaff,
  type JitBrokerStaffOptions,
  type LeaseFilter,
} from './staff.js';
export {
  DEFAULT_AUDIENCE,
  fileToken,
  githubActionsToken,
  type TokenSource,
  tokenOf,
  type WorkloadTokenOptions,
  workloadToken,
  workloadTokenOptionsFromEnv,
} from './token-sources.js';
export { DEFAULT_BROKER_URL } from './transport.js';
export type * from './types.js';
export { type TaskCredential, type WithTaskOptions, withTask } from './with-task.js';
