import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.js';
import { Problem } from '../../../src/problem.js';
import {
  type AwsStsProvider,
  createAwsStsProvider,
} from '../../../src/providers/aws-sts/aws-sts-provider.js';
import type { StsGrant } from '../../../src/providers/aws-sts/session-policy.js';
import type { AwsStsTemplate } from '../../../src/providers/templates.js';
import type { IssueInput } from '../../../src/providers/types.js';
import { type FakeSts, startFakeSts } from '../../helpers/fake-sts.js';
import { capturingLogger, s3Reports, testCredentials } from './fixtures.js';

let sts: FakeSts;
let provider: AwsStsProvider;
const clock = new ManualClock(new Date());

beforeAll(async () => {
  sts = await startFakeSts({ maxSessionDuration: 3600 });
});
afterAll(async () => {
  await sts.close();
});
beforeEach(() => {
  sts.requests.length = 0;
  sts.failAlways(undefined);
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
  grant: StsGrant = { actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'] },
  template: AwsStsTemplate = s3Reports,
) {
  const issuedAt = clock.now();
  return {
    leaseId: randomUUID(),
    template,
    grant,
    agent: { subject: 'reporter', issuer: 'k8s-prod' },
    onBehalfOf: undefined,
    taskId: 't-42',
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + 900_000),
  } satisfies IssueInput<AwsStsTemplate, StsGrant>;
}

async function problemFrom(promise: Promise<unknown>): Promise<Problem> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Problem) return error;
    throw error;
  }
  throw new Error('expected a Problem');
}

describe('aws_sts STS errors', () => {
  it('AccessDenied is a 502 carrying the AWS error code and message', async () => {
    const message =
      'User: arn:aws:iam::123456789012:user/broker is not authorized to perform: sts:AssumeRole';
    sts.failNext({ code: 'AccessDenied', message });
    const problem = await problemFrom(provider.issue(issueInput()));
    expect(problem.status).toBe(502);
    expect(problem.extensions).toMatchObject({ aws_error_code: 'AccessDenied', aws_message: message });
    expect(typeof problem.extensions.aws_request_id).toBe('string');
    expect(problem.detail).toContain(s3Reports.role_arn);
  });

  it('throttling is a 503 with Retry-After', async () => {
    sts.failNext({ code: 'Throttling', message: 'Rate exceeded' });
    const problem = await problemFrom(provider.issue(issueInput()));
    expect(problem.status).toBe(503);
    expect(problem.headers['Retry-After']).toBe('5');
    expect(problem.extensions).toMatchObject({ aws_error_code: 'Throttling', aws_message: 'Rate exceeded' });
  });

  it('an STS endpoint that is down is a 503 "STS endpoint unreachable"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const down = createAwsStsProvider({
      endpoint: `http://127.0.0.1:${port}`,
      logger: capturingLogger().logger,
      credentials: testCredentials,
      maxAttempts: 1,
      clock,
    });
    try {
      const problem = await problemFrom(down.issue(issueInput()));
      expect(problem.status).toBe(503);
      expect(problem.detail).toBe('STS endpoint unreachable');
      expect(problem.headers['Retry-After']).toBe('5');
    } finally {
      down.close();
    }
  });

  it('PackedPolicyTooLarge from STS is a 422, not an upstream error', async () => {
    sts.failNext({ code: 'PackedPolicyTooLarge', message: 'Packed policy consumes 112% of allotted space' });
    const problem = await problemFrom(provider.issue(issueInput()));
    expect(problem.status).toBe(422);
    expect(problem.extensions).toMatchObject({ aws_error_code: 'PackedPolicyTooLarge' });
    expect(problem.detail).toContain('112%');
  });

  it('MalformedPolicyDocument is a 422', async () => {
    sts.failNext({ code: 'MalformedPolicyDocument', message: 'Syntax errors in policy.' });
    const problem = await problemFrom(provider.issue(issueInput()));
    expect(problem.status).toBe(422);
    expect(problem.extensions).toMatchObject({ aws_error_code: 'MalformedPolicyDocument' });
  });

  it('any other STS error is a 502 naming its code (a role whose MaxSessionDuration is below max_ttl)', async () => {
    const input = issueInput(undefined, { ...s3Reports, max_ttl: 7200 });
    const problem = await problemFrom(
      provider.issue({ ...input, expiresAt: new Date(input.issuedAt.getTime() + 7200_000) }),
    );
    expect(sts.requests[0]!.durationSeconds).toBe(7200);
    expect(problem.status).toBe(502);
    expect(problem.extensions).toMatchObject({
      aws_error_code: 'ValidationError',
      aws_message: 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    });
  });

  it('RegionDisabledException is a 502 naming its code', async () => {
    sts.failNext({ code: 'RegionDisabledException', message: 'STS is not activated in this region' });
    const problem = await problemFrom(provider.issue(issueInput()));
    expect(problem.status).toBe(502);
    expect(problem.extensions).toMatchObject({ aws_error_code: 'RegionDisabledException' });
  });

  it('renew() maps errors the same way', async () => {
    sts.failNext({ code: 'AccessDenied', message: 'denied' });
    const problem = await problemFrom(provider.renew({ ...issueInput(), revocation: undefined }));
    expect(problem.status).toBe(502);
  });
});

describe('aws_sts limits checked before AWS is called', () => {
  it('a session policy over 2,048 characters is a 422 and no request reaches STS', async () => {
    const resources = Array.from({ length: 48 }, (_, i) => `arn:aws:s3:::reports/department-${i}/monthly/*`);
    const problem = await problemFrom(provider.issue(issueInput({ actions: ['s3:GetObject'], resources })));
    expect(problem.status).toBe(422);
    expect(problem.detail).toContain('2048');
    expect(sts.requests).toHaveLength(0);
  });
});

describe('aws_sts configuration', () => {
  it('refuses an endpoint that is not a URL, naming the option', () => {
    expect(() =>
      createAwsStsProvider({ endpoint: 'localhost:4566', logger: capturingLogger().logger }),
    ).toThrow(/AWS_ENDPOINT_URL_STS/);
  });
});
