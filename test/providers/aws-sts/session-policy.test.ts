import { describe, expect, it } from 'vitest';
import { Problem } from '../../../src/problem.js';
import {
  assertSessionPolicyFits,
  scopeIntent,
  sessionPolicyFor,
} from '../../../src/providers/aws-sts/session-policy.js';
import { intent, s3Reports } from './fixtures.js';

describe('aws_sts scope()', () => {
  it('grants exactly the requested actions on the requested resources', () => {
    const scoped = scopeIntent(s3Reports, intent(['s3:GetObject'], ['arn:aws:s3:::reports/2024/*']));
    expect(scoped).toEqual({
      ok: true,
      grant: { actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/2024/*'] },
    });
  });

  it("uses the ceiling's resources when the intent names none", () => {
    const scoped = scopeIntent(s3Reports, intent(['s3:ListBucket', 's3:GetObject']));
    expect(scoped).toEqual({
      ok: true,
      grant: {
        actions: ['s3:ListBucket', 's3:GetObject'],
        resources: ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'],
      },
    });
  });

  it('accepts an action in any case and drops case-insensitive duplicates', () => {
    const scoped = scopeIntent(s3Reports, intent(['S3:GETOBJECT', 's3:GetObject']));
    expect(scoped.ok && scoped.grant.actions).toEqual(['S3:GETOBJECT']);
  });

  it('denies naming the first action outside the ceiling, before looking at resources', () => {
    const scoped = scopeIntent(
      s3Reports,
      intent(['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], ['arn:aws:s3:::other/*']),
    );
    expect(scoped).toEqual({
      ok: false,
      reason: 'action "s3:PutObject" is not allowed by template "s3-reports"',
    });
  });

  it('denies naming the first resource outside the ceiling', () => {
    const scoped = scopeIntent(
      s3Reports,
      intent(['s3:GetObject'], ['arn:aws:s3:::reports/a', 'arn:aws:s3:::payroll/b', 'arn:aws:s3:::other/c']),
    );
    expect(scoped).toEqual({
      ok: false,
      reason: 'resource "arn:aws:s3:::payroll/b" is not allowed by template "s3-reports"',
    });
  });

  it('treats resource case as significant', () => {
    const scoped = scopeIntent(s3Reports, intent(['s3:GetObject'], ['arn:aws:s3:::REPORTS/a']));
    expect(scoped.ok).toBe(false);
  });

  it('refuses a wider wildcard than the ceiling allows', () => {
    expect(scopeIntent(s3Reports, intent(['s3:*'])).ok).toBe(false);
    expect(scopeIntent(s3Reports, intent(['*'])).ok).toBe(false);
    expect(scopeIntent(s3Reports, intent(['s3:GetObject'], ['*'])).ok).toBe(false);
    expect(scopeIntent(s3Reports, intent(['s3:GetObject'], ['arn:aws:s3:::rep*'])).ok).toBe(false);
  });

  it('refuses policy variables, which IAM would expand after the ceiling check', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a JS template
    const resource = 'arn:aws:s3:::reports/${aws:username}';
    expect(scopeIntent(s3Reports, intent(['s3:GetObject'], [resource]))).toEqual({
      ok: false,
      reason: `resource "${resource}" is not an ARN (policy variables are not accepted)`,
    });
  });

  it('refuses strings that are not IAM actions or ARNs', () => {
    const wide = { ...s3Reports, actions: ['*'], resources: ['*'] };
    expect(scopeIntent(wide, intent(['read everything']))).toEqual({
      ok: false,
      reason: 'action "read everything" is not an IAM action (service:Action)',
    });
    expect(scopeIntent(wide, intent(['s3:GetObject'], ['reports/*'])).ok).toBe(false);
    expect(scopeIntent(wide, intent(['s3:GetObject'], ['arn:aws:s3:::файл'])).ok).toBe(false);
  });
});

describe('aws_sts session policy', () => {
  it('is compact JSON allowing exactly the grant', () => {
    expect(
      sessionPolicyFor({ actions: ['s3:GetObject', 's3:ListBucket'], resources: ['arn:aws:s3:::reports/*'] }),
    ).toBe(
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::reports/*"]}]}',
    );
  });

  it('over 2,048 characters is a 422 naming the limit', () => {
    const resources = Array.from({ length: 48 }, (_, i) => `arn:aws:s3:::reports/department-${i}/monthly/*`);
    const policy = sessionPolicyFor({ actions: ['s3:GetObject'], resources });
    expect(policy.length).toBeGreaterThan(2048);
    let thrown: unknown;
    try {
      assertSessionPolicyFits(policy);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Problem);
    expect((thrown as Problem).status).toBe(422);
    expect((thrown as Problem).extensions).toEqual({
      limit: 'session_policy_chars',
      size: policy.length,
      max: 2048,
    });
  });
});
