// `jit-broker policy check [DIR]`: validates a policy directory offline, with the loader the
// broker starts with, so a policy repository's CI sees exactly the file:line problems start-up
// would print. Checks that need the running environment (TARGET_*_URL, key files) are left to start-up.
import { loadPolicyDir, PolicyLoadError } from '../policy/load-policy-dir.js';
import { EXIT } from './context.js';

export async function policyCheckCommand(dir: string, options: { json?: boolean }): Promise<number> {
  try {
    const set = await loadPolicyDir(dir);
    const summary = {
      ok: true,
      dir: set.dir,
      version: set.version,
      policies: set.policyIds.length,
      templates: set.templates.size,
      issuers: set.issuers.length,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      process.stdout.write(
        `${dir}: OK (${summary.policies} policies, ${summary.templates} templates, ${summary.issuers} issuers; version ${set.version})\n`,
      );
    }
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error;
    if (options.json)
      process.stdout.write(`${JSON.stringify({ ok: false, problems: error.problems }, null, 2)}\n`);
    // The same lines, with the same prefix, as a refused start-up.
    for (const problem of error.problems) process.stderr.write(`jit-broker: ${problem}\n`);
    return EXIT.failed;
  }
}
