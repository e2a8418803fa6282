// The one small interface every credential provider implements. Providers know their target
// system and their template's ceiling; they never touch the lease table (the lease service does).
import type { Intent } from '../core/intent.js';
import type { ActClaim, LeaseTokenType } from '../db/schema/leases.js';
import type { ProviderKind, Template } from './templates.js';

export interface JwtCredential {
  type: 'jwt';
  token: string;
  expires_at: string;
}
export interface PostgresCredential {
  type: 'postgres';
  username: string;
  password: string;
  host: string;
  port: number;
  database: string;
  url: string;
  expires_at: string;
}
export interface AwsStsCredential {
  type: 'aws_sts';
  access_key_id: string;
  secret_access_key: string;
  session_token: string;
  expires_at: string;
  region: string;
  env: Record<string, string>;
}
export type Credential = JwtCredential | PostgresCredential | AwsStsCredential;

/** Result of narrowing an intent to a template's ceiling. Pure: no I/O. */
export type Scoped<G> = { ok: true; grant: G } | { ok: false; reason: string };

export interface IssueInput<T extends Template, G> {
  leaseId: string;
  template: T;
  grant: G;
  agent: { subject: string; issuer: string };
  onBehalfOf: { sub: string; issuer: string } | undefined;
  taskId: string;
  issuedAt: Date;
  expiresAt: Date;
  /** A delegated lease (RFC 8693 §4.1): the chain's subject and its nested actors. jwt only. */
  delegation?: { subject: string; act: ActClaim } | undefined;
  /** jwt only: a transaction token instead of an access token. */
  tokenType?: LeaseTokenType | undefined;
  /** The granted intent (a transaction token carries it as `tctx`). */
  intent?: Intent | undefined;
}

export interface Issued {
  credential: Credential;
  /** Everything revoke() needs later, stored on the lease. Never a secret. */
  revocation: Record<string, unknown>;
}

export interface RevokeInput {
  leaseId: string;
  /** What issue() returned as `revocation`; `undefined` when issue may have crashed half-way. */
  revocation: Record<string, unknown> | undefined;
  /** The lease's template name and provider config at issue time, when still configured. */
  template: Template | undefined;
}

export interface Provider<T extends Template = Template, G = unknown> {
  readonly kind: T['provider'];
  /**
   * True when issue() has no effect outside this process (the JWT provider only signs): the lease
   * can then be written as `active` in the same transaction that records the decision.
   */
  readonly sideEffectFree: boolean;
  /** Shortest credential the target can mint (STS: 900 s). Defaults to 1. */
  readonly minTtlSeconds?: number;
  /** Checks a template at policy load (e.g. that TARGET_<NAME>_URL is set); returns problems. */
  checkTemplate(template: T): string[];
  /** Narrows the intent to the template's ceiling, or says which action/resource does not fit. */
  scope(template: T, intent: Intent): Scoped<G>;
  /**
   * Creates the credential. Called again with the same leaseId to re-derive the secret of an
   * idempotent replay or of a renewal, so it must be idempotent per lease.
   */
  issue(input: IssueInput<T, G>): Promise<Issued>;
  /** Moves the credential's expiry (renewal). Returns a fresh credential when one is needed. */
  renew(input: IssueInput<T, G> & { revocation: Record<string, unknown> | undefined }): Promise<Issued>;
  /** Removes the credential. Idempotent: already gone is success. Throws to be retried later. */
  revoke(input: RevokeInput): Promise<void>;
  /**
   * Periodic clean-up at the target of what a crash can leave behind (a role created for a lease
   * that then failed). `ended` says which of the given leases are over; their credentials are
   * removed. Returns how many were. Providers with nothing outside the broker have none.
   */
  reconcile?(ended: EndedLeases): Promise<number>;
}

/** Of these lease ids, the ones whose lease is over (the lease table's answer; unknown ids are left out). */
export type EndedLeases = (leaseIds: readonly string[]) => Promise<string[]>;

export type AnyProvider = Provider<Template, unknown>;
export type ProviderRegistry = Partial<Record<ProviderKind, AnyProvider>>;
