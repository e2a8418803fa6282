// The security staff's subcommands: leases, bulk revoke, approvals, approve, deny, audit verify.
// Tables by default, the API's JSON with --json.
import type { ApprovalStatus, BulkRevokeTarget, LeaseState } from '@jit-broker/sdk';
import { CliExit, type Env, EXIT, type GlobalOptions, printJson, staffClient } from './context.js';
import { formatFields, formatTable } from './table.js';

export async function leasesCommand(
  global: GlobalOptions,
  env: Env,
  filter: { agent?: string; task?: string; state?: LeaseState; template?: string; limit?: number },
): Promise<number> {
  const page = await staffClient(global, env).listLeases({
    agent: filter.agent,
    taskId: filter.task,
    state: filter.state,
    template: filter.template,
    limit: filter.limit,
  });
  if (global.json) {
    printJson(page);
    return EXIT.ok;
  }
  const field = (row: Record<string, unknown>, name: string) => {
    const v = row[name];
    return typeof v === 'string' || typeof v === 'number' ? v : undefined;
  };
  process.stdout.write(
    formatTable(
      ['LEASE', 'STATE', 'TEMPLATE', 'AGENT', 'TASK', 'EXPIRES'],
      page.items.map((l) => [
        field(l, 'lease_id'),
        field(l, 'state'),
        field(l, 'template'),
        field(l, 'agent'),
        field(l, 'task_id'),
        field(l, 'expires_at'),
      ]),
    ),
  );
  if (page.next_cursor) process.stderr.write('(more leases: narrow the filter or use --json with --limit)\n');
  return EXIT.ok;
}

export async function bulkRevokeCommand(
  global: GlobalOptions,
  env: Env,
  options: { agent?: string; task?: string; template?: string; reason?: string },
): Promise<number> {
  const given = [options.agent, options.task, options.template].filter((v) => v !== undefined);
  if (given.length !== 1) {
    throw new CliExit(
      EXIT.usage,
      'revoke: give a LEASE, or exactly one of --agent, --task, --template (with --reason)',
    );
  }
  if (options.reason === undefined)
    throw new CliExit(EXIT.usage, 'revoke --agent/--task/--template needs --reason');
  const target: BulkRevokeTarget =
    options.agent !== undefined
      ? { agent: options.agent }
      : options.task !== undefined
        ? { taskId: options.task }
        : { template: options.template! };
  const result = await staffClient(global, env).bulkRevoke(target, options.reason);
  if (global.json) {
    printJson(result);
    return EXIT.ok;
  }
  process.stdout.write(
    `${result.revoked.length} lease(s) revoked (${result.counts.revoked} confirmed, ${result.counts.revoking} still revoking), ` +
      `${result.approvals_denied.length} pending approval(s) denied\n` +
      result.revoked.map((id) => `  ${id}\n`).join(''),
  );
  return EXIT.ok;
}

export async function approvalsCommand(
  global: GlobalOptions,
  env: Env,
  options: { status?: ApprovalStatus; limit?: number },
): Promise<number> {
  const page = await staffClient(global, env).listApprovals({ status: options.status, limit: options.limit });
  if (global.json) {
    printJson(page);
    return EXIT.ok;
  }
  process.stdout.write(
    formatTable(
      ['APPROVAL', 'STATUS', 'TEMPLATE', 'AGENT', 'TASK', 'ACTIONS', 'GROUP', 'VOTES', 'EXPIRES'],
      page.items.map((a) => [
        a.approval_id,
        a.status,
        a.template,
        a.agent,
        a.intent.task_id,
        a.intent.actions.join(','),
        a.group,
        `${a.approvals.length}/${a.required_approvals}`,
        a.expires_at,
      ]),
    ),
  );
  return EXIT.ok;
}

export async function decideCommand(
  global: GlobalOptions,
  env: Env,
  decision: 'approve' | 'deny',
  approvalId: string,
  reason: string | undefined,
): Promise<number> {
  const staff = staffClient(global, env);
  if (decision === 'deny' && reason === undefined) throw new CliExit(EXIT.usage, 'deny needs --reason');
  const view =
    decision === 'approve' ? await staff.approve(approvalId, reason) : await staff.deny(approvalId, reason!);
  if (global.json) {
    printJson(view);
    return EXIT.ok;
  }
  process.stdout.write(
    formatFields([
      ['approval_id', view.approval_id],
      ['status', view.status],
      ['template', view.template],
      ['agent', view.agent],
      ['task_id', view.intent.task_id],
      ['votes', `${view.approvals.length}/${view.required_approvals}`],
      ['reason', view.reason],
    ]),
  );
  return EXIT.ok;
}

export async function auditVerifyCommand(global: GlobalOptions, env: Env): Promise<number> {
  const result = await staffClient(global, env).verifyAudit();
  if (global.json) printJson(result);
  else if (result.ok) {
    process.stdout.write(
      `audit log intact: ${result.checked} record(s) checked${result.head ? `, head seq ${result.head.seq} ${result.head.hash}` : ''}` +
        `${result.unsealed > 0 ? `, ${result.unsealed} not yet sealed` : ''}\n`,
    );
  } else {
    const bad = result.first_bad;
    process.stdout.write(
      `audit log BROKEN${bad ? ` at seq ${bad.seq} (record ${bad.id}): ${bad.problem}` : ''}; ${result.checked} record(s) checked\n`,
    );
  }
  return result.ok ? EXIT.ok : EXIT.failed;
}
