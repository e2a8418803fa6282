// Structured JSON logs (pino), one event per line. Anything that could hold a credential is
// redacted by path as a second line of defence; code never passes a secret to the logger.
import { type Logger, pino } from 'pino';

export type { Logger };

const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'credential',
  '*.credential',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'secret_access_key',
  '*.secret_access_key',
  'session_token',
  '*.session_token',
  'on_behalf_of',
  '*.on_behalf_of',
  'privateKey',
  '*.privateKey',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'jit-broker' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
