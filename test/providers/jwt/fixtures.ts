// Shared setup of the jwt provider tests: a capturing logger (to prove nothing secret is logged),
// master keys and a template.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/logger.js';
import type { JwtTemplate } from '../../../src/providers/templates.js';

export interface CapturedLogger {
  logger: Logger;
  /** Every line written so far, raw. */
  lines: string[];
  text(): string;
}

export function captureLogger(level = 'debug'): CapturedLogger {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger(level, stream), lines, text: () => lines.join('') };
}

export function newMasterKey(): Buffer {
  return randomBytes(32);
}

export const reportsApi: JwtTemplate = {
  name: 'reports-api',
  provider: 'jwt',
  audience: 'https://reports.internal',
  scopes: ['reports:read', 'reports:export'],
  default_ttl: 300,
  max_ttl: 900,
};
