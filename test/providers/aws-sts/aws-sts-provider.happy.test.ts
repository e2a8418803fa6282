import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import {
  type AwsStsProvider,
  createAwsStsProvider,
} from '../../../src/providers/aws-sts/aws-sts-provider.js';
import type { StsGrant } from '../../../src/providers/aws-sts/session-policy.js';
import type { AwsStsTemplate } from '../../../src/providers/templates.js';
import type { IssueInput } from '../../../src/providers/types.js';
import { type FakeSts, startFakeSts } from '../../helpers/fake-sts.js';
import { capturingLogger, intent, s3Reports, testCredentials } from './fixtures.js';

let sts: FakeSts;
let provider: AwsStsProvider;
let clock: ManualClock;

beforeAll(async () => {
  sts = await startFakeSts({ maxSessionDuration: 3600 });
});
afterAll(async () => {
  await sts.close();
});
beforeEach(() => {
  sts.requests.length = 0;
  sts.issued.length = 0;
  clock = new ManualClock(new Date());
  provider = createAwsStsProvider({
    endpoint: sts.url,
    logger: capturingLogger().logger,
    credentials: testCredentials,
    maxAttempts: 1,
    clock,
  });
  return () => provider.close();
});

function issueInput(
  overrides: Partial<IssueInput<AwsStsTemplate, StsGrant>> & { ttlSeconds?: number } = {},
): IssueInput<AwsStsTemplate, StsGrant> {
  const template = overrides.template ?? s3Reports;
  const scoped = provider.scope(
    template,
    intent(['s3:GetObject', 's3:ListBucket'], ['arn:aws:s3:::reports/2024/*']),
  );
  if (!scoped.ok) throw new Error(scoped.reason);
  const issuedAt = clock.now();
  return {
    leaseId: randomUUID(),
    template,
    grant: scoped.grant,
    agent: { subject: 'system:serviceaccount:agents:reporter', issuer: 'k8s-prod' },
    onBehalfOf: undefined,
    taskId: 't-42',
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + (overrides.ttlSeconds ?? 300) * 1000),
    ...overrides,
  };
}

describe('aws_sts issue()', () => {
  it('sends AssumeRole with the role, the lease id as session name, the agent, tags and the session policy', async () => {
    const input = issueInput();
    await provider.issue(input);

    expect(sts.requests).toHaveLength(1);
    const sent = sts.requests[0]!;
    expect(sent.contentType).toBe('application/x-www-form-urlencoded');
    expect(sent.action).toBe('AssumeRole');
    expect(sent.version).toBe('2011-06-15');
    expect(sent.roleArn).toBe('arn:aws:iam::123456789012:role/agent-reports');
    expect(sent.roleSessionName).toBe(input.leaseId);
    expect(sent.sourceIdentity).toMatch(/^system-serviceaccount-agents-reporter\.[0-9a-f]{12}$/);
    expect(sent.tags).toEqual([
      { key: 'task_id', value: 't-42' },
      { key: 'agent', value: 'system:serviceaccount:agents:reporter' },
    ]);
    expect(sent.policy).toBe(
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports/2024/*"]}]}',
    );
    expect(sent.signingRegion).toBe('eu-west-1');
    expect(sent.accessKeyId).toBe(testCredentials.accessKeyId);
    // Nothing else: no managed policy ARNs, no transitive tags, no MFA, no external id.
    expect(Object.keys(sent.params).sort()).toEqual(
      [
        'Action',
        'Version',
        'RoleArn',
        'RoleSessionName',
        'DurationSeconds',
        'Policy',
        'SourceIdentity',
        'Tags.member.1.Key',
        'Tags.member.1.Value',
        'Tags.member.2.Key',
        'Tags.member.2.Value',
      ].sort(),
    );
  });

  it('asks for at least 900 seconds, the STS minimum, when the lease is shorter', async () => {
    await provider.issue(issueInput({ ttlSeconds: 300 }));
    expect(sts.requests[0]!.durationSeconds).toBe(900);
  });

  it("asks for the lease's TTL, rounded up to a whole second, when it is longer than 900 seconds", async () => {
    const input = issueInput({ ttlSeconds: 1800 });
    await provider.issue({ ...input, expiresAt: new Date(input.expiresAt.getTime() + 400) });
    expect(sts.requests[0]!.durationSeconds).toBe(1801);
  });

  it("never asks for more than the template's max_ttl", async () => {
    await provider.issue(issueInput({ ttlSeconds: 7200 }));
    expect(sts.requests[0]!.durationSeconds).toBe(3600);
  });

  it("sends the ceiling's resources when the intent names none", async () => {
    const scoped = provider.scope(s3Reports, intent(['s3:ListBucket']));
    if (!scoped.ok) throw new Error(scoped.reason);
    await provider.issue({ ...issueInput(), grant: scoped.grant });
    expect(JSON.parse(sts.requests[0]!.policy!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:ListBucket'],
          Resource: ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'],
        },
      ],
    });
  });

  it('returns the credential shape of DESIGN.md with the STS expiry and an env block', async () => {
    const { credential } = await provider.issue(issueInput());
    const issued = sts.issued[0]!;
    expect(credential).toEqual({
      type: 'aws_sts',
      access_key_id: issued.accessKeyId,
      secret_access_key: issued.secretAccessKey,
      session_token: issued.sessionToken,
      expires_at: issued.expiration.toISOString(),
      region: 'eu-west-1',
      env: {
        AWS_ACCESS_KEY_ID: issued.accessKeyId,
        AWS_SECRET_ACCESS_KEY: issued.secretAccessKey,
        AWS_SESSION_TOKEN: issued.sessionToken,
        AWS_CREDENTIAL_EXPIRATION: issued.expiration.toISOString(),
        AWS_REGION: 'eu-west-1',
        AWS_DEFAULT_REGION: 'eu-west-1',
      },
    });
  });

  it('records what identifies the session, and nothing secret, for revocation', async () => {
    const input = issueInput();
    const { revocation } = await provider.issue(input);
    expect(revocation).toEqual({
      role_arn: s3Reports.role_arn,
      session_name: input.leaseId,
      source_identity: sts.requests[0]!.sourceIdentity,
      region: 'eu-west-1',
      sts_expires_at: sts.issued[0]!.expiration.toISOString(),
    });
  });

  it('assumes the role again under the same session name when an idempotent replay re-derives the secret', async () => {
    const input = issueInput();
    const first = await provider.issue(input);
    const replay = await provider.issue(input);
    expect(sts.requests.map((r) => r.roleSessionName)).toEqual([input.leaseId, input.leaseId]);
    expect(replay.credential.type).toBe('aws_sts');
    expect(replay.revocation.session_name).toBe(first.revocation.session_name);
  });

  it('signs with the region of each template', async () => {
    await provider.issue(issueInput({ template: { ...s3Reports, name: 'us-reports', region: 'us-east-1' } }));
    await provider.issue(issueInput());
    expect(sts.requests.map((r) => r.signingRegion)).toEqual(['us-east-1', 'eu-west-1']);
  });
});

describe('aws_sts renew()', () => {
  it('assumes the role again with the same session name for the time left on the lease', async () => {
    const input = issueInput({ ttlSeconds: 1800 });
    const first = await provider.issue(input);
    clock.advance(600);
    const renewed = await provider.renew({
      ...input,
      expiresAt: new Date(input.issuedAt.getTime() + 3000 * 1000),
      revocation: first.revocation,
    });
    expect(sts.requests.map((r) => r.roleSessionName)).toEqual([input.leaseId, input.leaseId]);
    expect(sts.requests[1]!.durationSeconds).toBe(2400);
    expect(renewed.credential.type === 'aws_sts' && renewed.credential.access_key_id).toBe(
      sts.issued[1]!.accessKeyId,
    );
    expect(renewed.revocation.sts_expires_at).toBe(sts.issued[1]!.expiration.toISOString());
  });
});

describe('aws_sts revoke()', () => {
  it('succeeds without calling AWS: STS sessions cannot be recalled one by one', async () => {
    const { revocation } = await provider.issue(issueInput());
    sts.requests.length = 0;
    await expect(
      provider.revoke({ leaseId: randomUUID(), revocation, template: s3Reports }),
    ).resolves.toBeUndefined();
    await expect(
      provider.revoke({ leaseId: randomUUID(), revocation: undefined, template: undefined }),
    ).resolves.toBeUndefined();
    expect(sts.requests).toHaveLength(0);
  });
});

describe('aws_sts checkTemplate()', () => {
  it('accepts the s3-reports template and names resources that are not ARNs', () => {
    expect(provider.checkTemplate(s3Reports)).toEqual([]);
    expect(
      provider.checkTemplate({ ...s3Reports, resources: ['arn:aws:s3:::reports', 'reports/*'] }),
    ).toEqual(['resources[1]: "reports/*" is not an ARN or *']);
  });

  it('is not side-effect free: the lease is written as issuing before AWS is called', () => {
    expect(provider.kind).toBe('aws_sts');
    expect(provider.sideEffectFree).toBe(false);
  });

  it('tells the broker that STS credentials last at least 900 seconds', () => {
    expect(provider.minTtlSeconds).toBe(900);
  });
});
