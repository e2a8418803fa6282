// What every subcommand shares: the broker URL and token sources from flags and environment (the
// CLI's one reader of process.env), the SDK clients built from them, and how errors are printed:
// the problem's title and detail on one line on stderr, and a non-zero exit code.
import {
  BrokerError,
  DEFAULT_BROKER_URL,
  DeniedError,
  fileToken,
  JitBroker,
  JitBrokerStaff,
  NoWorkloadTokenError,
  OAuthError,
  workloadToken,
  workloadTokenOptionsFromEnv,
} from '@jit-broker/sdk';
import { InvalidArgumentError } from 'commander';

/** Options every subcommand accepts (declared on the program, read with optsWithGlobals()). */
export interface GlobalOptions {
  url?: string;
  tokenFile?: string;
  audience?: string;
  staffTokenFile?: string;
  json?: boolean;
}

/** Exit codes beyond 0/1: 2 for usage, 75 (EX_TEMPFAIL) for "approval pending" with --no-wait. */
export const EXIT = { ok: 0, failed: 1, usage: 2, pending: 75 } as const;

/** Ends the command with this code after printing `message` (if any) to stderr. */
export class CliExit extends Error {
  override name = 'CliExit';
  constructor(
    readonly code: number,
    message = '',
  ) {
    super(message);
  }
}

export type Env = Record<string, string | undefined>;

export function brokerUrl(options: GlobalOptions, env: Env): string {
  return options.url ?? env.JIT_BROKER_URL ?? DEFAULT_BROKER_URL;
}

/**
 * The agent client. The workload token source is chosen lazily, on the first request, so that
 * `--help` and usage errors never need a token; the file source re-reads the file every request.
 */
export function agentClient(options: GlobalOptions, env: Env): JitBroker {
  let source: (() => Promise<string>) | undefined;
  return new JitBroker({
    url: brokerUrl(options, env),
    token: () => {
      source ??= workloadToken(
        workloadTokenOptionsFromEnv(env, { file: options.tokenFile, audience: options.audience }),
      );
      return source();
    },
  });
}

export function staffClient(options: GlobalOptions, env: Env): JitBrokerStaff {
  const file = options.staffTokenFile;
  const token = env.JIT_STAFF_TOKEN?.trim();
  return new JitBrokerStaff({
    url: brokerUrl(options, env),
    staffToken: async () => {
      if (file !== undefined) return fileToken(file)();
      if (token) return token;
      throw new NoWorkloadTokenError(
        'no staff token: set --staff-token-file (a file holding your OIDC token) or JIT_STAFF_TOKEN',
      );
    },
  });
}

/** One line for stderr: a problem's title and detail, with the deciding policies of a denial. */
export function describeError(error: unknown): string {
  if (error instanceof OAuthError) {
    const policies = error.policies.length > 0 ? ` (policies: ${error.policies.join(', ')})` : '';
    return `${error.error}: ${error.detail}${policies}`;
  }
  if (error instanceof DeniedError) {
    const policies = error.policies.length > 0 ? ` (policies: ${error.policies.join(', ')})` : '';
    return `${error.title}: ${error.detail}${policies}`;
  }
  if (error instanceof BrokerError) return `${error.title}: ${error.detail}`;
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Runs a command's body; a thrown error becomes its one-line message and exit code. */
export async function run(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (error) {
    if (error instanceof CliExit) {
      if (error.message) process.stderr.write(`jit-broker: ${error.message}\n`);
      process.exitCode = error.code;
      return;
    }
    process.stderr.write(`jit-broker: ${describeError(error).replace(/[\r\n]+/g, ' ')}\n`);
    process.exitCode = EXIT.failed;
  }
}

/** `5m`, `90s`, `1h30m` or seconds, as in broker.yaml (a commander argument parser: exit 2 when bad). */
export function parseTtl(value: string): number {
  const text = value.trim();
  if (/^\d+$/.test(text) && Number(text) > 0) return Number(text);
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  if (!/^(\d+[smhd])+$/.test(text))
    throw new InvalidArgumentError('expected a duration such as 90s, 5m or 1h.');
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhd])/g)) total += Number(amount) * units[unit!]!;
  if (total <= 0) throw new InvalidArgumentError('must be positive.');
  return total;
}

/** A positive whole number (for --limit). */
export function parseCount(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('expected a positive whole number.');
  return Number(value);
}

/** For repeatable options: `--action a --action b`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
