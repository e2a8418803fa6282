import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsStsProvider } from '../../../src/providers/aws-sts/aws-sts-provider.js';
import { type FakeSts, startFakeSts } from '../../helpers/fake-sts.js';
import { capturingLogger, intent, s3Reports, testCredentials } from './fixtures.js';

let sts: FakeSts;
beforeAll(async () => {
  sts = await startFakeSts();
});
afterAll(async () => {
  await sts.close();
});

describe('aws_sts security', () => {
  it('never writes a credential to the log, on success or failure', async () => {
    const { logger, lines } = capturingLogger();
    const provider = createAwsStsProvider({
      endpoint: sts.url,
      logger,
      credentials: testCredentials,
      maxAttempts: 1,
    });
    try {
      const scoped = provider.scope(s3Reports, intent(['s3:GetObject']));
      if (!scoped.ok) throw new Error(scoped.reason);
      const input = {
        leaseId: randomUUID(),
        template: s3Reports,
        grant: scoped.grant,
        agent: { subject: 'reporter', issuer: 'k8s-prod' },
        onBehalfOf: undefined,
        taskId: 't-42',
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 900_000),
      };
      const issued = await provider.issue(input);
      await provider.renew({ ...input, revocation: issued.revocation });
      sts.failNext({ code: 'AccessDenied', message: 'nope' });
      await provider.issue(input).catch(() => undefined);
      await provider.revoke({ leaseId: input.leaseId, revocation: issued.revocation, template: s3Reports });

      const log = lines.join('');
      expect(lines.length).toBeGreaterThan(0);
      for (const c of sts.issued) {
        expect(log).not.toContain(c.secretAccessKey);
        expect(log).not.toContain(c.sessionToken);
        expect(log).not.toContain(c.accessKeyId);
      }
      expect(log).not.toContain(testCredentials.secretAccessKey);
      expect(JSON.stringify(issued.revocation)).not.toContain(sts.issued[0]!.secretAccessKey);
    } finally {
      provider.close();
    }
  });

  it('keeps a hostile agent subject inside the SourceIdentity and tag character sets', async () => {
    const provider = createAwsStsProvider({
      endpoint: sts.url,
      logger: capturingLogger().logger,
      credentials: testCredentials,
      maxAttempts: 1,
    });
    try {
      sts.requests.length = 0;
      const agent = `aws:${'<script>&"\n'.repeat(40)}`;
      await provider.issue({
        leaseId: randomUUID(),
        template: s3Reports,
        grant: { actions: ['s3:GetObject'], resources: ['arn:aws:s3:::reports/*'] },
        agent: { subject: agent, issuer: 'k8s-prod' },
        onBehalfOf: undefined,
        taskId: 't-42',
        issuedAt: new Date(),
        expiresAt: new Date(Date.now() + 900_000),
      });
      const sent = sts.requests[0]!;
      expect(sent.sourceIdentity).toMatch(/^[\w+=,.@-]{2,64}$/);
      expect(sent.sourceIdentity!.startsWith('aws:')).toBe(false);
      expect(sent.tags[1]!.value).toMatch(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u);
    } finally {
      provider.close();
    }
  });

  it('denies an intent that asks for more than the ceiling without calling AWS', () => {
    const provider = createAwsStsProvider({
      endpoint: sts.url,
      logger: capturingLogger().logger,
      credentials: testCredentials,
    });
    expect(provider.scope(s3Reports, intent(['s3:GetObject', 's3:PutObjectAcl']))).toEqual({
      ok: false,
      reason: 'action "s3:PutObjectAcl" is not allowed by template "s3-reports"',
    });
    expect(provider.scope(s3Reports, intent(['s3:GetObject'], ['arn:aws:s3:::reports-archive/x']))).toEqual({
      ok: false,
      reason: 'resource "arn:aws:s3:::reports-archive/x" is not allowed by template "s3-reports"',
    });
    provider.close();
  });
});
