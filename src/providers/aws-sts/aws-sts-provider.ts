// The aws_sts provider: temporary AWS credentials from STS AssumeRole, scoped by an inline session
// policy built from intent ∩ template. STS sessions cannot be recalled one by one, so revoke() is
// a confirmed no-op; docs/aws-sts.md explains the operator's real options.
import type { AssumeRoleCommandOutput, STSClient, STSClientConfig } from '@aws-sdk/client-sts';
import { type Clock, systemClock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { problems } from '../../problem.js';
import type { AwsStsTemplate } from '../templates.js';
import type { AwsStsCredential, Issued, IssueInput, Provider } from '../types.js';
import { assertSessionPolicyFits, type StsGrant, scopeIntent, sessionPolicyFor } from './session-policy.js';
import { stsErrorToProblem } from './sts-errors.js';
import { sessionNameFor, sourceIdentityFor, tagValueFor } from './sts-identifiers.js';

/** STS DurationSeconds bounds: 15 minutes, and the largest MaxSessionDuration a role can have. */
export const STS_MIN_DURATION_SECONDS = 900;
export const STS_MAX_DURATION_SECONDS = 43_200;

/** Warn when STS reports the packed policy+tags at this percentage of its limit or more. */
const PACKED_SIZE_WARN_PERCENT = 90;

export type StsCredentialsOption = NonNullable<STSClientConfig['credentials']>;

export interface AwsStsProviderOptions {
  /** STS endpoint override (config.awsEndpointUrlSts: LocalStack or any STS-compatible server). */
  endpoint?: string | undefined;
  logger: Logger;
  /** The broker's own AWS credentials; default: the SDK's standard provider chain. */
  credentials?: StsCredentialsOption | undefined;
  /** SDK attempts per call (retries throttling and network errors with backoff); default 3. */
  maxAttempts?: number | undefined;
  /** Per-request timeout in milliseconds; default 10 000. */
  requestTimeoutMs?: number | undefined;
  /** Measures the remaining lease lifetime on renewals and replays; default the system clock. */
  clock?: Clock | undefined;
}

/** What is stored on the lease to identify the session later. Never a secret. */
export interface StsRevocation {
  role_arn: string;
  session_name: string;
  source_identity: string;
  region: string;
  /** When STS says these credentials stop working, whatever happens to the lease. */
  sts_expires_at: string;
  [key: string]: unknown;
}

export interface AwsStsProvider extends Provider<AwsStsTemplate, StsGrant> {
  /** Closes the cached STS clients' sockets (process shutdown, tests). */
  close(): void;
}

/**
 * DurationSeconds for a lease: its remaining lifetime, rounded up, clamped to STS's minimum (the
 * credentials then outlive the lease: STS cannot issue shorter ones) and to the template maximum.
 */
export function durationSecondsFor(
  template: AwsStsTemplate,
  issuedAt: Date,
  expiresAt: Date,
  now: Date,
): number {
  const start = Math.max(issuedAt.getTime(), now.getTime());
  const remaining = Math.ceil((expiresAt.getTime() - start) / 1000);
  const max = Math.min(Math.max(template.max_ttl, STS_MIN_DURATION_SECONDS), STS_MAX_DURATION_SECONDS);
  return Math.min(Math.max(remaining, STS_MIN_DURATION_SECONDS), max);
}

function checkOptions(options: AwsStsProviderOptions): void {
  // `localhost:4566` parses as a URL with the scheme `localhost:`: insist on http(s).
  if (options.endpoint !== undefined && !/^https?:$/.test(URL.parse(options.endpoint)?.protocol ?? '')) {
    throw new Error(
      `createAwsStsProvider: endpoint "${options.endpoint}" is not an http(s) URL (AWS_ENDPOINT_URL_STS)`,
    );
  }
  if (
    options.maxAttempts !== undefined &&
    (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1)
  ) {
    throw new Error('createAwsStsProvider: maxAttempts must be an integer of at least 1');
  }
}

/**
 * The AWS SDK is loaded on the first AssumeRole: it costs ~20 MiB of memory, which a broker with no
 * aws_sts template should not pay.
 */
let sts: Promise<typeof import('@aws-sdk/client-sts')> | undefined;
function loadSts(): Promise<typeof import('@aws-sdk/client-sts')> {
  sts ??= import('@aws-sdk/client-sts');
  return sts;
}

export function createAwsStsProvider(options: AwsStsProviderOptions): AwsStsProvider {
  checkOptions(options);
  const log = options.logger.child({ provider: 'aws_sts' });
  const clock = options.clock ?? systemClock;
  const clients = new Map<string, STSClient>();

  async function clientFor(region: string): Promise<STSClient> {
    let client = clients.get(region);
    if (client === undefined) {
      const { STSClient } = await loadSts();
      client = new STSClient({
        region,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        maxAttempts: options.maxAttempts ?? 3,
        requestHandler: { requestTimeout: options.requestTimeoutMs ?? 10_000, connectionTimeout: 5_000 },
      });
      clients.set(region, client);
    }
    return client;
  }

  async function assumeRole(
    input: IssueInput<AwsStsTemplate, StsGrant>,
    operation: 'issue' | 'renew',
  ): Promise<Issued> {
    const { template, leaseId } = input;
    const now = clock.now();
    const policy = sessionPolicyFor(input.grant);
    assertSessionPolicyFits(policy);
    const sessionName = sessionNameFor(leaseId);
    const sourceIdentity = sourceIdentityFor(input.agent.subject);
    const durationSeconds = durationSecondsFor(template, input.issuedAt, input.expiresAt, now);

    let output: AssumeRoleCommandOutput;
    try {
      const [client, { AssumeRoleCommand }] = await Promise.all([clientFor(template.region), loadSts()]);
      output = await client.send(
        new AssumeRoleCommand({
          RoleArn: template.role_arn,
          RoleSessionName: sessionName,
          DurationSeconds: durationSeconds,
          Policy: policy,
          SourceIdentity: sourceIdentity,
          Tags: [
            { Key: 'task_id', Value: tagValueFor(input.taskId) },
            { Key: 'agent', Value: tagValueFor(input.agent.subject) },
          ],
        }),
      );
    } catch (error) {
      const problem = stsErrorToProblem(error, template.role_arn);
      log.warn(
        {
          event: 'aws_sts.assume_role_failed',
          operation,
          lease_id: leaseId,
          role_arn: template.role_arn,
          status: problem.status,
          err: problem.cause,
        },
        'AssumeRole failed',
      );
      throw problem;
    }

    const c = output.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
      throw problems.badGateway('AWS STS answered AssumeRole without complete credentials', {
        extensions: {
          aws_request_id: output.$metadata.requestId,
        },
      });
    }
    const expiresAt = c.Expiration.toISOString();
    const packed = output.PackedPolicySize;
    log.info(
      {
        event: 'aws_sts.assume_role',
        operation,
        lease_id: leaseId,
        role_arn: template.role_arn,
        session_name: sessionName,
        source_identity: sourceIdentity,
        duration_seconds: durationSeconds,
        packed_policy_percent: packed,
        sts_expires_at: expiresAt,
        aws_request_id: output.$metadata.requestId,
      },
      'assumed role',
    );
    if (packed !== undefined && packed >= PACKED_SIZE_WARN_PERCENT) {
      log.warn(
        { event: 'aws_sts.packed_policy_near_limit', lease_id: leaseId, packed_policy_percent: packed },
        'session policy near STS packed size limit',
      );
    }

    const credential: AwsStsCredential = {
      type: 'aws_sts',
      access_key_id: c.AccessKeyId,
      secret_access_key: c.SecretAccessKey,
      session_token: c.SessionToken,
      expires_at: expiresAt,
      region: template.region,
      env: {
        AWS_ACCESS_KEY_ID: c.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
        AWS_SESSION_TOKEN: c.SessionToken,
        AWS_CREDENTIAL_EXPIRATION: expiresAt,
        AWS_REGION: template.region,
        AWS_DEFAULT_REGION: template.region,
      },
    };
    const revocation: StsRevocation = {
      role_arn: template.role_arn,
      session_name: sessionName,
      source_identity: sourceIdentity,
      region: template.region,
      sts_expires_at: expiresAt,
    };
    return { credential, revocation };
  }

  return {
    kind: 'aws_sts',
    sideEffectFree: false,
    // The lease itself then never ends before its STS credentials could (DurationSeconds ≥ 900).
    minTtlSeconds: STS_MIN_DURATION_SECONDS,

    checkTemplate(template) {
      const found: string[] = [];
      template.resources.forEach((resource, i) => {
        if (resource !== '*' && !resource.startsWith('arn:')) {
          found.push(`resources[${i}]: "${resource}" is not an ARN or *`);
        }
      });
      if (template.max_ttl < STS_MIN_DURATION_SECONDS) {
        found.push(`max_ttl: STS minimum is ${STS_MIN_DURATION_SECONDS} seconds`);
      }
      return found;
    },

    scope: scopeIntent,

    issue: (input) => assumeRole(input, 'issue'),

    // STS cannot extend a session: a renewal is a new session under the same name, and the old
    // credentials stay valid until their own expiry.
    renew: (input) => assumeRole(input, 'renew'),

    async revoke(input) {
      const revocation = input.revocation as Partial<StsRevocation> | undefined;
      log.info(
        {
          event: 'aws_sts.revoke',
          lease_id: input.leaseId,
          role_arn: revocation?.role_arn,
          session_name: revocation?.session_name,
          sts_expires_at: revocation?.sts_expires_at,
        },
        'STS sessions cannot be recalled individually: credentials stay valid until sts_expires_at unless an emergency deny policy is applied',
      );
    },

    close() {
      for (const client of clients.values()) client.destroy();
      clients.clear();
    },
  };
}
