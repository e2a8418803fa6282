// Shared fixtures for the aws_sts tests: the s3-reports template of DESIGN.md, intents, and a
// logger whose output the tests can search for leaked secrets.
import { Writable } from 'node:stream';
import type { Intent } from '../../../src/core/intent.js';
import { createLogger, type Logger } from '../../../src/logger.js';
import type { AwsStsTemplate } from '../../../src/providers/templates.js';

export const s3Reports: AwsStsTemplate = {
  name: 's3-reports',
  provider: 'aws_sts',
  role_arn: 'arn:aws:iam::123456789012:role/agent-reports',
  region: 'eu-west-1',
  actions: ['s3:GetObject', 's3:ListBucket'],
  resources: ['arn:aws:s3:::reports', 'arn:aws:s3:::reports/*'],
  default_ttl: 900,
  max_ttl: 3600,
};

export function intent(actions: string[], resources: string[] = []): Intent {
  return { taskId: 't-42', purpose: 'monthly report', actions, resources };
}

/** Static credentials the SDK signs with when talking to the fake STS. */
export const testCredentials = { accessKeyId: 'AKIDBROKERTEST', secretAccessKey: 'broker-test-secret' };

export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('trace', sink), lines };
}
