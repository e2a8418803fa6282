// `jit-broker exec … -- CMD ARGS…`: mint → hand the credential to CMD in its environment (or, for
// AWS with --aws-server, through a local container-credentials endpoint) → renew in the background
// while CMD runs → complete the task when CMD exits → exit with CMD's code (128+signal if killed).
// SIGINT, SIGTERM and SIGHUP are forwarded to CMD; the task is completed whatever ends it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { type Credential, type IssuedCredential, keepRenewed, type TaskSpec } from '@jit-broker/sdk';
import { mintWithStatus } from './approval-status.js';
import { type AwsCredentialsServer, startAwsCredentialsServer } from './aws-credentials-server.js';
import { agentClient, CliExit, describeError, type Env, EXIT, type GlobalOptions } from './context.js';
import { AWS_COMPETING_VARIABLES, credentialEnv } from './credential-env.js';

export interface ExecOptions {
  spec: TaskSpec;
  wait: boolean;
  awsServer: boolean;
}

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long CMD has to exit after the SIGTERM that follows a refused renewal. */
const KILL_GRACE_MS = 10_000;

export async function execCommand(
  global: GlobalOptions,
  env: Env,
  options: ExecOptions,
  argv: string[],
): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined)
    throw new CliExit(EXIT.usage, 'exec needs a command: jit-broker exec [options] -- CMD ARGS…');
  const broker = agentClient(global, env);
  const { spec } = options;

  // Signals before CMD runs abandon the mint (or the wait for approval); after, they go to CMD.
  let child: ChildProcess | undefined;
  let received: NodeJS.Signals | undefined;
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (child) child.kill(signal);
    else {
      received = signal;
      abort.abort(new CliExit(128 + constants.signals[signal], `interrupted by ${signal}`));
    }
  };
  for (const signal of FORWARDED) process.on(signal, onSignal);

  let issued: IssuedCredential | undefined;
  let credentialDir: string | undefined;
  let awsServer: AwsCredentialsServer | undefined;
  try {
    try {
      issued = await mintWithStatus(broker, spec, { wait: options.wait, signal: abort.signal });
    } catch (error) {
      if (received !== undefined)
        throw new CliExit(128 + constants.signals[received], `interrupted by ${received}`);
      throw error;
    }
    if (options.awsServer && issued.credential.type !== 'aws_sts') {
      throw new CliExit(
        EXIT.usage,
        `--aws-server needs an aws_sts template; "${spec.template}" is ${issued.credential.type}`,
      );
    }

    let credential: Credential | undefined = issued.credential;
    credentialDir = await mkdtemp(path.join(tmpdir(), 'jit-broker-'));
    const credentialFile = path.join(credentialDir, 'credential.json');
    await writeCredentialFile(credentialFile, issued.lease_id, credential);
    if (options.awsServer) {
      awsServer = await startAwsCredentialsServer(() =>
        credential?.type === 'aws_sts' ? credential : undefined,
      );
    }

    const childEnv = buildChildEnv(env, issued, spec.taskId, credentialFile, awsServer);
    const leaseId = issued.lease_id;
    const renewal = keepRenewed(broker, issued, {
      ttlSeconds: spec.ttlSeconds,
      onRenewed: (_lease, fresh) => {
        credential = fresh;
        void writeCredentialFile(credentialFile, leaseId, fresh).catch(() => {});
      },
      onMaxTtl: (expiresAt) =>
        process.stderr.write(
          `jit-broker: lease ${leaseId} reached its max TTL and cannot be renewed; it expires at ${expiresAt.toISOString()}\n`,
        ),
      onRefused: (error) => {
        credential = undefined;
        process.stderr.write(
          `jit-broker: renewal of lease ${leaseId} refused (${describeError(error)}); stopping ${command}\n`,
        );
        if (child && child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          setTimeout(() => child?.kill('SIGKILL'), KILL_GRACE_MS).unref();
        }
      },
    });
    try {
      return await runChild(command, args, childEnv, (spawned) => {
        child = spawned;
      });
    } finally {
      renewal.stop();
    }
  } finally {
    for (const signal of FORWARDED) process.off(signal, onSignal);
    await awsServer?.close();
    if (credentialDir) await rm(credentialDir, { recursive: true, force: true });
    // Also after an interrupted wait: the pending request is withdrawn with the task.
    if (issued !== undefined || received !== undefined) await completeTask(broker, spec.taskId);
  }
}

function buildChildEnv(
  env: Env,
  issued: IssuedCredential,
  taskId: string,
  credentialFile: string,
  awsServer: AwsCredentialsServer | undefined,
): NodeJS.ProcessEnv {
  const childEnv: NodeJS.ProcessEnv = { ...env };
  // CMD gets the scoped credential, not the identity that could mint others (a token file stays
  // readable where it is mounted; that is the deployment's choice).
  delete childEnv.JIT_WORKLOAD_TOKEN;
  delete childEnv.JIT_STAFF_TOKEN;
  if (issued.credential.type === 'aws_sts') {
    // Credentials from the parent's environment or profile would win over ours in the SDK chain.
    for (const name of AWS_COMPETING_VARIABLES) delete childEnv[name];
  }
  if (awsServer && issued.credential.type === 'aws_sts') {
    Object.assign(childEnv, awsServer.env, {
      AWS_REGION: issued.credential.region,
      AWS_DEFAULT_REGION: issued.credential.region,
    });
  } else {
    Object.assign(childEnv, credentialEnv(issued.credential));
  }
  childEnv.JIT_LEASE_ID = issued.lease_id;
  childEnv.JIT_TASK_ID = taskId;
  childEnv.JIT_CREDENTIAL_FILE = credentialFile;
  return childEnv;
}

/** Runs CMD with the terminal; resolves with its exit code, or 128+signal when a signal ended it. */
function runChild(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  started: (child: ChildProcess) => void,
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    started(child);
    child.once('error', (error: NodeJS.ErrnoException) => {
      process.stderr.write(`jit-broker: cannot run ${command}: ${error.code ?? error.message}\n`);
      // As shells do: 127 not found, 126 found but not runnable.
      resolve(error.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

/** The current credential as JSON (0600, in a 0700 directory), replaced atomically on renewal. */
async function writeCredentialFile(file: string, leaseId: string, credential: Credential): Promise<void> {
  const next = `${file}.${process.pid}.tmp`;
  await writeFile(next, `${JSON.stringify({ lease_id: leaseId, credential })}\n`, { mode: 0o600 });
  await rename(next, file);
}

async function completeTask(broker: ReturnType<typeof agentClient>, taskId: string): Promise<void> {
  try {
    await broker.completeTask(taskId);
  } catch (error) {
    process.stderr.write(
      `jit-broker: could not complete task ${taskId} (${describeError(error)}); its leases stay live until they expire or are revoked\n`,
    );
  }
}
