// The aws_sts provider's public surface: the factory, the grant it scopes to, and the helpers the
// emergency-deny command shares with it.
export {
  type AwsStsProvider,
  type AwsStsProviderOptions,
  createAwsStsProvider,
  durationSecondsFor,
  STS_MAX_DURATION_SECONDS,
  STS_MIN_DURATION_SECONDS,
  type StsCredentialsOption,
  type StsRevocation,
} from './aws-sts-provider.js';
export {
  applyEmergencyDeny,
  buildEmergencyDenyPolicy,
  EMERGENCY_DENY_POLICY_NAME,
  type EmergencyDenyTarget,
  mergeEmergencyDeny,
  roleNameOf,
} from './emergency-deny.js';
export { covers, firstUncovered } from './iam-wildcard.js';
export {
  assertSessionPolicyFits,
  SESSION_POLICY_MAX_CHARS,
  type StsGrant,
  scopeIntent,
  sessionPolicyFor,
} from './session-policy.js';
export { STS_RETRY_AFTER_SECONDS, stsErrorToProblem } from './sts-errors.js';
export { sessionNameFor, sourceIdentityFor, tagValueFor } from './sts-identifiers.js';
