// The agent's one-shot subcommands: mint (table, JSON or `export` lines), renew, revoke, complete,
// lease, and credential-process (the AWS `credential_process` JSON for ~/.aws/config).
import type { IssuedCredential, Lease, TaskSpec } from '@jit-broker/sdk';
import { mintWithStatus } from './approval-status.js';
import { agentClient, CliExit, type Env, EXIT, type GlobalOptions, printJson } from './context.js';
import { exportLines, issuedEnv } from './credential-env.js';
import { formatFields } from './table.js';

export type MintFormat = 'table' | 'json' | 'env';

export async function mintCommand(
  global: GlobalOptions,
  env: Env,
  spec: TaskSpec,
  options: { format: MintFormat; wait: boolean },
): Promise<number> {
  const issued = await mintWithStatus(agentClient(global, env), spec, { wait: options.wait });
  if (options.format === 'json') printJson(issued);
  else if (options.format === 'env') process.stdout.write(exportLines(issuedEnv(issued, spec.taskId)));
  else process.stdout.write(describeIssued(issued, spec.taskId));
  return EXIT.ok;
}

function describeIssued(issued: IssuedCredential, taskId: string): string {
  const c = issued.credential;
  const fields: [string, string | number][] = [
    ['lease_id', issued.lease_id],
    ['task_id', taskId],
    ['template', issued.template],
    ['expires_at', issued.expires_at],
    ['type', c.type],
  ];
  if (c.type === 'jwt') fields.push(['token', c.token]);
  if (c.type === 'postgres') {
    fields.push(['host', c.host], ['port', c.port], ['database', c.database], ['username', c.username]);
    fields.push(['password', c.password], ['url', c.url]);
  }
  if (c.type === 'aws_sts') {
    fields.push(['region', c.region], ['access_key_id', c.access_key_id]);
    fields.push(['secret_access_key', c.secret_access_key], ['session_token', c.session_token]);
  }
  return formatFields(fields);
}

export function describeLease(lease: Lease): string {
  return formatFields([
    ['lease_id', lease.lease_id],
    ['state', lease.state],
    ['template', lease.template],
    ['task_id', lease.task_id],
    ['agent', lease.agent],
    ['expires_at', lease.expires_at],
    ['revoked_at', lease.revoked_at],
    ['revoke_reason', lease.revoke_reason],
  ]);
}

export async function leaseCommand(
  global: GlobalOptions,
  env: Env,
  run: (broker: ReturnType<typeof agentClient>) => Promise<Lease>,
): Promise<number> {
  const lease = await run(agentClient(global, env));
  if (global.json) printJson(lease);
  else process.stdout.write(describeLease(lease));
  return EXIT.ok;
}

export async function completeCommand(global: GlobalOptions, env: Env, taskId: string): Promise<number> {
  const done = await agentClient(global, env).completeTask(taskId);
  if (global.json) printJson(done);
  else
    process.stdout.write(
      `task ${done.task_id}: ${done.revoked.length} lease(s) revoked${done.revoked.map((id) => `\n  ${id}`).join('')}\n`,
    );
  return EXIT.ok;
}

/**
 * AWS credential_process (Version 1). The AWS SDKs run it when their cached credentials near
 * `Expiration`; each run is a new lease of the same task, ended by its TTL or `complete TASK`.
 */
export async function credentialProcessCommand(
  global: GlobalOptions,
  env: Env,
  spec: TaskSpec,
  options: { wait: boolean },
): Promise<number> {
  const broker = agentClient(global, env);
  const issued = await mintWithStatus(broker, spec, { wait: options.wait });
  const c = issued.credential;
  if (c.type !== 'aws_sts') {
    await broker.revoke(issued.lease_id).catch(() => {});
    throw new CliExit(
      EXIT.usage,
      `credential-process needs an aws_sts template; "${spec.template}" is ${c.type}`,
    );
  }
  process.stdout.write(
    `${JSON.stringify({
      Version: 1,
      AccessKeyId: c.access_key_id,
      SecretAccessKey: c.secret_access_key,
      SessionToken: c.session_token,
      Expiration: c.expires_at,
    })}\n`,
  );
  return EXIT.ok;
}
