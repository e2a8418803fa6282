// The audit log's public surface: record rows inside a state change's transaction, seal them
// into a hash chain in the background, verify the chain, list rows for the API.
export {
  type AuditContent,
  auditRowHash,
  canonicalJson,
  GENESIS_HASH,
  keyedChainHash,
} from './audit-hash.js';
export { type AuditKeys, auditKeys, deriveAuditKeys, installAuditKeys } from './audit-keys.js';
export {
  type AuditHead,
  type CheckpointKeys,
  openCheckpoint,
  readAuditHead,
  signCheckpoint,
} from './checkpoint.js';
export {
  AUDIT_PAGE_MAX,
  type AuditFilters,
  type AuditPage,
  type AuditRecord,
  encodeAuditCursor,
  listAudit,
  toAuditRecord,
} from './list.js';
export { type AuditEntry, auditInsert, recordAudit } from './record.js';
export { AUDIT_SEAL_LOCK_KEY, type RefusedAuditRow, type SealOptions, sealAuditLog } from './seal.js';
export { type AuditVerification, type VerifyOptions, verifyAuditLog } from './verify.js';
