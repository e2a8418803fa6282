// What SIGHUP does (src/main.ts): reload POLICY_DIR and log the outcome. A refused set is logged
// with every problem (file, line, problem) and the version of the set that stays in force.
import type { Logger } from '../logger.js';
import type { PolicyStore, ReloadResult } from './policy-store.js';

export async function reloadPolicies(policies: PolicyStore, logger: Logger): Promise<ReloadResult> {
  const previous = policies.current().version;
  const result = await policies.reload();
  if (result.ok) {
    logger.info(
      { version: result.version, previousVersion: previous, changed: result.changed },
      'policies reloaded',
    );
  } else {
    logger.error(
      { problems: result.problems, version: policies.current().version },
      `policy reload refused; the previous policy set stays in force: ${result.problems.join('; ')}`,
    );
  }
  return result;
}
