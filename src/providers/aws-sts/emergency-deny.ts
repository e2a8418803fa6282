// Emergency revocation for STS sessions, which cannot be recalled one by one: an inline deny
// policy on the role, conditioned on aws:TokenIssueTime (every session issued before a moment),
// aws:SourceIdentity (every session of one agent) or aws:userid (one lease's session name). IAM
// applies it to live sessions of the role after its propagation delay (eventually consistent:
// usually seconds, sometimes longer).
import { createHash } from 'node:crypto';
import { GetRolePolicyCommand, type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { sessionNameFor, sourceIdentityFor } from './sts-identifiers.js';

export const EMERGENCY_DENY_POLICY_NAME = 'jit-broker-emergency-deny';

/** IAM's limit on the aggregate size of a role's inline policies (characters, whitespace excluded). */
const ROLE_INLINE_POLICY_MAX_CHARS = 10_240;

const SID_PREFIX = 'JitBrokerDeny';

export interface EmergencyDenyTarget {
  /** Deny sessions whose credentials were issued before this moment. */
  issuedBefore?: Date | undefined;
  /** Deny sessions of this agent (its subject; the SourceIdentity is derived as at issue). */
  agent?: string | undefined;
  /** Deny the session(s) of this lease (RoleSessionName = lease id; renewals reuse the name). */
  leaseId?: string | undefined;
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string>>;
  [key: string]: unknown;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** ISO 8601 without milliseconds, rounded up so sessions issued within that second are included. */
export function iamTimestamp(at: Date): string {
  const seconds = Math.ceil(at.getTime() / 1000);
  return new Date(seconds * 1000).toISOString().replace(/\.000Z$/, 'Z');
}

function sidHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

export function emergencyDenyStatement(target: EmergencyDenyTarget): PolicyStatement {
  if (target.issuedBefore === undefined && target.agent === undefined && target.leaseId === undefined) {
    throw new Error(
      'an emergency deny needs an agent, a lease, a time before which sessions are denied, or a mix',
    );
  }
  if (target.issuedBefore !== undefined && Number.isNaN(target.issuedBefore.getTime())) {
    throw new Error('issuedBefore is not a valid date');
  }
  const condition: Record<string, Record<string, string>> = {};
  // Sids are alphanumeric; hashes keep one statement per agent / lease when policies are merged.
  const sid: string[] = [SID_PREFIX];
  if (target.agent !== undefined) {
    const sourceIdentity = sourceIdentityFor(target.agent);
    condition.StringEquals = { 'aws:SourceIdentity': sourceIdentity };
    sid.push(`SourceIdentity${sidHash(sourceIdentity)}`);
  }
  if (target.leaseId !== undefined) {
    // For a role session aws:userid is "<role id>:<RoleSessionName>"; the role id is the same for
    // every session of the role, so matching the suffix names exactly one lease.
    const sessionName = sessionNameFor(target.leaseId);
    condition.StringLike = { 'aws:userid': `*:${sessionName}` };
    sid.push(`Session${sidHash(sessionName)}`);
  }
  if (target.issuedBefore !== undefined) {
    condition.DateLessThan = { 'aws:TokenIssueTime': iamTimestamp(target.issuedBefore) };
  }
  if (sid.length === 1) sid.push('TokensIssuedBefore');
  return { Sid: sid.join(''), Effect: 'Deny', Action: '*', Resource: '*', Condition: condition };
}

export function buildEmergencyDenyPolicy(target: EmergencyDenyTarget): PolicyDocument {
  return { Version: '2012-10-17', Statement: [emergencyDenyStatement(target)] };
}

function issuedBeforeOf(statement: PolicyStatement): number {
  const value = statement.Condition?.DateLessThan?.['aws:TokenIssueTime'];
  // No time condition denies every session: the broadest.
  return value === undefined ? Number.POSITIVE_INFINITY : Date.parse(value);
}

function parseExisting(existing: string): PolicyStatement[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(existing);
  } catch {
    throw new Error(
      `the role's existing ${EMERGENCY_DENY_POLICY_NAME} policy is not JSON; refusing to overwrite it`,
    );
  }
  const statements = (parsed as { Statement?: unknown } | null)?.Statement;
  if (Array.isArray(statements)) return statements as PolicyStatement[];
  if (typeof statements === 'object' && statements !== null) return [statements as PolicyStatement];
  throw new Error(
    `the role's existing ${EMERGENCY_DENY_POLICY_NAME} policy has no Statement; refusing to overwrite it`,
  );
}

/**
 * Adds a deny statement to the role's existing emergency policy without ever narrowing it:
 * PutRolePolicy replaces the whole document, so a second emergency must not lift the first.
 * A statement with the same Sid is kept or replaced by whichever denies more.
 */
export function mergeEmergencyDeny(existing: string | undefined, statement: PolicyStatement): PolicyDocument {
  const statements = existing === undefined ? [] : parseExisting(existing);
  const index = statements.findIndex((s) => s.Sid !== undefined && s.Sid === statement.Sid);
  if (index === -1) statements.push(statement);
  else if (issuedBeforeOf(statement) > issuedBeforeOf(statements[index]!)) statements[index] = statement;
  const document: PolicyDocument = { Version: '2012-10-17', Statement: statements };
  const size = JSON.stringify(document).length;
  if (size > ROLE_INLINE_POLICY_MAX_CHARS) {
    throw new Error(
      `the merged ${EMERGENCY_DENY_POLICY_NAME} policy would be ${size} characters, over IAM's ${ROLE_INLINE_POLICY_MAX_CHARS}; ` +
        'replace per-agent denies by one aws:TokenIssueTime deny',
    );
  }
  return document;
}

/** The role name PutRolePolicy wants, from a name or an ARN (any path), and the ARN's partition. */
export function roleNameOf(role: string): { roleName: string; partition: string | undefined } {
  const arn = /^arn:(aws[a-z-]*):iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/.exec(role);
  if (arn) return { roleName: arn[2]!, partition: arn[1]! };
  if (/^[\w+=,.@-]{1,64}$/.test(role)) return { roleName: role, partition: undefined };
  throw new Error(`"${role}" is neither an IAM role name nor a role ARN`);
}

function isNoSuchEntity(error: unknown): boolean {
  const e = error as { name?: unknown; Code?: unknown } | null;
  return e?.name === 'NoSuchEntityException' || e?.name === 'NoSuchEntity' || e?.Code === 'NoSuchEntity';
}

/** Reads the role's emergency policy, merges the new deny into it and writes it back. */
export async function applyEmergencyDeny(
  iam: IAMClient,
  roleName: string,
  target: EmergencyDenyTarget,
): Promise<PolicyDocument> {
  let existing: string | undefined;
  try {
    const current = await iam.send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: EMERGENCY_DENY_POLICY_NAME }),
    );
    // IAM returns policy documents URL-encoded (RFC 3986).
    existing = current.PolicyDocument === undefined ? undefined : decodeURIComponent(current.PolicyDocument);
  } catch (error) {
    if (!isNoSuchEntity(error)) throw error;
  }
  const document = mergeEmergencyDeny(existing, emergencyDenyStatement(target));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: roleName,
      PolicyName: EMERGENCY_DENY_POLICY_NAME,
      PolicyDocument: JSON.stringify(document),
    }),
  );
  return document;
}
