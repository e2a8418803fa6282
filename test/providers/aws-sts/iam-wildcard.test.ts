import { describe, expect, it } from 'vitest';
import { covers, firstUncovered } from '../../../src/providers/aws-sts/iam-wildcard.js';

describe('IAM wildcard coverage', () => {
  it('matches actions case-insensitively, as IAM does', () => {
    expect(covers('s3:GetObject', 'S3:getobject', 'action')).toBe(true);
    expect(covers('s3:Get*', 's3:getobjectacl', 'action')).toBe(true);
    expect(covers('s3:Get*', 's3:PutObject', 'action')).toBe(false);
    expect(covers('s3:GetObjec?', 's3:GetObjectAcl', 'action')).toBe(false);
    expect(covers('s3:GetObjec?', 's3:GetObject', 'action')).toBe(true);
  });

  it('matches resources case-sensitively', () => {
    expect(covers('arn:aws:s3:::reports/*', 'arn:aws:s3:::reports/2024/jan.csv', 'resource')).toBe(true);
    expect(covers('arn:aws:s3:::reports/*', 'arn:aws:s3:::Reports/2024/jan.csv', 'resource')).toBe(false);
    expect(covers('arn:aws:s3:::reports', 'arn:aws:s3:::reports-private', 'resource')).toBe(false);
  });

  it('lets ? stand for exactly one character', () => {
    expect(covers('arn:aws:s3:::reports-202?/*', 'arn:aws:s3:::reports-2024/a', 'resource')).toBe(true);
    expect(covers('arn:aws:s3:::reports-202?/*', 'arn:aws:s3:::reports-20245/a', 'resource')).toBe(false);
    expect(covers('arn:aws:s3:::reports-202?/*', 'arn:aws:s3:::reports-202/a', 'resource')).toBe(false);
  });

  it('keeps a * inside its ARN segment unless it ends the segment', () => {
    const ceiling = 'arn:aws:sqs:eu-*-1:123456789012:jobs';
    expect(covers(ceiling, 'arn:aws:sqs:eu-west-1:123456789012:jobs', 'resource')).toBe(true);
    // A plain ".*" glob would accept this: the * would swallow "x:999999999999:y".
    expect(covers(ceiling, 'arn:aws:sqs:eu-x:999999999999:y-1:123456789012:jobs', 'resource')).toBe(false);
    expect(
      covers(
        'arn:aws:logs:*:123456789012:log-group:agents',
        'arn:aws:logs:eu-west-1:123456789012:log-group:agents',
        'resource',
      ),
    ).toBe(true);
    expect(covers('*', 'arn:aws:s3:::anything/at:all', 'resource')).toBe(true);
  });

  it('covers a requested wildcard only by a ceiling wildcard at least as wide', () => {
    expect(covers('arn:aws:s3:::reports/*', 'arn:aws:s3:::reports/2024/*', 'resource')).toBe(true);
    expect(covers('arn:aws:s3:::reports/*', 'arn:aws:s3:::report*', 'resource')).toBe(false);
    expect(covers('arn:aws:s3:::reports/*', '*', 'resource')).toBe(false);
    expect(covers('arn:aws:s3:::reports/a?c', 'arn:aws:s3:::reports/a*c', 'resource')).toBe(false);
    expect(covers('arn:aws:s3:::reports/a?c', 'arn:aws:s3:::reports/a?c', 'resource')).toBe(true);
    expect(covers('arn:aws:s3:::reports/a*', 'arn:aws:s3:::reports/a?c', 'resource')).toBe(true);
    expect(covers('s3:Get*', 's3:*', 'action')).toBe(false);
    expect(covers('*', 's3:*', 'action')).toBe(true);
    expect(covers('s3:GetObject', 's3:GetObjec?', 'action')).toBe(false);
    // A bounded ceiling * may not absorb a requested * that could run past a colon.
    expect(
      covers('arn:aws:sqs:eu-*-1:123456789012:jobs', 'arn:aws:sqs:*-1:123456789012:jobs', 'resource'),
    ).toBe(false);
    expect(
      covers('arn:aws:sqs:eu-*-1:123456789012:jobs', 'arn:aws:sqs:eu-*-1:123456789012:jobs', 'resource'),
    ).toBe(true);
  });

  it('names the first requested item no ceiling pattern covers', () => {
    expect(
      firstUncovered(
        ['s3:GetObject', 's3:List*'],
        ['s3:ListBucket', 's3:PutObject', 's3:DeleteObject'],
        'action',
      ),
    ).toBe('s3:PutObject');
    expect(firstUncovered(['s3:GetObject'], ['s3:getObject'], 'action')).toBeUndefined();
  });

  it('stays fast on hostile patterns', () => {
    const ceiling = `arn:aws:s3:::${'*a'.repeat(40)}`;
    const requested = `arn:aws:s3:::${'a'.repeat(2000)}b`;
    const started = performance.now();
    expect(covers(ceiling, requested, 'resource')).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
