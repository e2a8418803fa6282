// Tampering with the audit log is never silent: a refused row and a broken chain are each an
// error log line and a metric an operator can alert on.
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { RefusedAuditRow } from './seal.js';
import type { AuditVerification } from './verify.js';

export function reportRefusedRows(logger: Logger, metrics: Metrics): (rows: RefusedAuditRow[]) => void {
  return (rows) => {
    metrics.auditRowsRefused.inc(rows.length);
    for (const row of rows) {
      logger.error(
        { auditId: row.id, event: row.event, reason: row.reason },
        'audit row refused by the sealer: not sealed into the chain',
      );
    }
  };
}

export function reportVerification(logger: Logger, metrics: Metrics, result: AuditVerification): void {
  metrics.auditChainBroken.set(result.ok ? 0 : 1);
  if (!result.ok)
    logger.error({ firstBad: result.firstBad, checked: result.checked }, 'audit chain does not verify');
}
