// The audit log's keys, derived from BROKER_MASTER_KEY with HKDF under labels of their own: one
// MACs each row as it is written, one keys the chain the sealer builds. Without them nobody, not
// even someone who can write to the database, can add a row the sealer accepts or recompute a
// chain that verifies.
import { hkdfSync } from 'node:crypto';

export interface AuditKeys {
  /** Keys the per-row MAC, written with the row at insert. */
  readonly rowKey: Buffer;
  /** Keys the chain hash the sealer computes. */
  readonly chainKey: Buffer;
}

const ROW_INFO = 'jit-broker audit row mac v1';
const CHAIN_INFO = 'jit-broker audit chain v1';

export function deriveAuditKeys(masterKey: Buffer): AuditKeys {
  if (masterKey.length !== 32) throw new Error('deriveAuditKeys: the master key must be 32 bytes');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), info, 32));
  return { rowKey: derive(ROW_INFO), chainKey: derive(CHAIN_INFO) };
}

/*
 * One set of keys per process, installed by the composition root (src/broker.ts). Audit rows are
 * written from a couple of dozen places inside other services' transactions; the key is a property
 * of the deployment, not of any one call, so it is held here rather than threaded through each.
 */
let installed: AuditKeys | undefined;

export function installAuditKeys(keys: AuditKeys): void {
  installed = keys;
}

export function auditKeys(): AuditKeys {
  if (installed === undefined) {
    throw new Error('audit keys are not installed: createBroker installs them from BROKER_MASTER_KEY');
  }
  return installed;
}
