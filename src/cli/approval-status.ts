// Minting from the command line: waiting through a step-up approval with its status on stderr
// (the approval id, then the elapsed time: a ticking line on a terminal, a line per poll
// otherwise), or, with --no-wait, exit 75 (EX_TEMPFAIL) naming the approval.
import { ApprovalRequiredError, type IssuedCredential, type JitBroker, type TaskSpec } from '@jit-broker/sdk';
import { CliExit, EXIT } from './context.js';

export async function mintWithStatus(
  broker: JitBroker,
  spec: TaskSpec,
  options: { wait: boolean; signal?: AbortSignal },
): Promise<IssuedCredential> {
  const status = approvalStatus(process.stderr);
  try {
    return await broker.mint(spec, { wait: options.wait, signal: options.signal, onPending: status.update });
  } catch (error) {
    if (error instanceof ApprovalRequiredError) {
      throw new CliExit(
        EXIT.pending,
        `step-up approval ${error.approvalId} is pending (lease ${error.leaseId ?? '-'}); not waiting (--no-wait)`,
      );
    }
    throw error;
  } finally {
    status.done();
  }
}

function approvalStatus(stream: NodeJS.WriteStream) {
  let ticker: NodeJS.Timeout | undefined;
  let started = 0;
  let id = '';
  const tty = stream.isTTY === true;
  const frames = ['|', '/', '-', '\\'];
  return {
    update: (approval: { approval_id: string; lease_id: string }, elapsedMs: number) => {
      if (elapsedMs === 0 && id === '') {
        id = approval.approval_id;
        started = Date.now();
        stream.write(
          `jit-broker: waiting for step-up approval ${id} (lease ${approval.lease_id || '-'}); a reviewer approves it with \`jit-broker approve ${id}\` or in the console\n`,
        );
        if (tty) {
          let frame = 0;
          ticker = setInterval(() => {
            const seconds = Math.round((Date.now() - started) / 1000);
            stream.write(`\r${frames[frame++ % frames.length]} waiting for approval ${id}: ${seconds}s `);
          }, 1000);
          ticker.unref();
        }
        return;
      }
      if (!tty)
        stream.write(`jit-broker: still waiting for approval ${id} (${Math.round(elapsedMs / 1000)}s)\n`);
    },
    done: () => {
      if (ticker) {
        clearInterval(ticker);
        stream.write('\r\x1b[K');
      }
    },
  };
}
