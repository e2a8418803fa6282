// The API's shapes under friendly names, all generated from openapi.yaml (src/openapi.ts).
import type { components } from './openapi.js';

type Schemas = components['schemas'];

export type IssuedCredential = Schemas['IssuedCredential'];
export type Credential = Schemas['Credential'];
export type JwtCredential = Extract<Credential, { type: 'jwt' }>;
export type PostgresCredential = Extract<Credential, { type: 'postgres' }>;
export type AwsStsCredential = Extract<Credential, { type: 'aws_sts' }>;
export type PendingApproval = Schemas['PendingApproval'];
export type Lease = Schemas['Lease'];
export type LeaseState = Lease['state'];
export type RenewedLease = Schemas['RenewedLease'];
export type TaskCompleted = Schemas['TaskCompleted'];
export type Introspection = Schemas['Introspection'];
export type LeaseList = Schemas['LeaseList'];
export type BulkRevokeResult = Schemas['BulkRevokeResult'];
export type Approval = Schemas['Approval'];
export type ApprovalStatus = Approval['status'];
export type ApprovalList = Schemas['ApprovalList'];
export type AuditVerification = Schemas['AuditVerification'];

/** What a task asks for: the credential request, in camelCase. */
export interface TaskSpec {
  template: string;
  taskId: string;
  purpose: string;
  actions: string[];
  resources?: string[];
  ttlSeconds?: number;
  /** The human's OIDC token (the `staff:` issuer) when the agent acts for someone. */
  onBehalfOf?: string;
}
