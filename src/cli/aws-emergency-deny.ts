// Emergency revocation of STS sessions minted by the broker: prints (and with --apply, puts) an
// inline deny policy on the role. Usage:
//   jit-broker aws emergency-deny --role <name-or-arn> [--source-identity <agent>] [--lease <id>]
//     [--before <ISO time>] [--apply]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { IAMClient } from '@aws-sdk/client-iam';
import {
  applyEmergencyDeny,
  buildEmergencyDenyPolicy,
  EMERGENCY_DENY_POLICY_NAME,
  type EmergencyDenyTarget,
  roleNameOf,
} from '../providers/aws-sts/emergency-deny.js';
import { sourceIdentityFor } from '../providers/aws-sts/sts-identifiers.js';

export const AWS_EMERGENCY_DENY_USAGE = `usage: jit-broker aws emergency-deny --role <role-name-or-arn> [--source-identity <agent>] [--lease <lease id>]
                          [--before <ISO time>] [--apply] [--endpoint-url <IAM endpoint>]

  --role             the role the broker assumes (template role_arn, or its name)
  --source-identity  deny only this agent's sessions (its subject; the SourceIdentity is derived as at issue).
                     Without --before, the agent stays locked out of the role until the policy is removed.
  --lease            deny only this lease's session (aws:userid ends with :<lease id>), renewals included
  --before           deny sessions issued before this time (default: now, when neither of the above is given)
  --apply            put the policy on the role (IAM PutRolePolicy, merged into ${EMERGENCY_DENY_POLICY_NAME})
  --endpoint-url     IAM endpoint override (the SDK also honours AWS_ENDPOINT_URL_IAM)

Credentials and region come from the standard AWS SDK chain. IAM is eventually consistent: the deny
reaches every session within seconds, occasionally longer; verify before standing down.`;

/** IAM is a global service signed in its partition's home region. */
const PARTITION_REGIONS: Record<string, string> = {
  aws: 'us-east-1',
  'aws-cn': 'cn-north-1',
  'aws-us-gov': 'us-gov-west-1',
};

export interface CliIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  now: () => Date;
  createIamClient: (options: { region: string; endpoint: string | undefined }) => IAMClient;
}

const defaultIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  now: () => new Date(),
  createIamClient: ({ region, endpoint }) =>
    new IAMClient({ region, ...(endpoint === undefined ? {} : { endpoint }) }),
};

/** Runs the command; returns the process exit code (0 done, 1 AWS failure, 2 usage). */
export async function runAwsEmergencyDeny(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let values: {
    role?: string;
    'source-identity'?: string;
    lease?: string;
    before?: string;
    apply?: boolean;
    'endpoint-url'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        role: { type: 'string' },
        'source-identity': { type: 'string' },
        lease: { type: 'string' },
        before: { type: 'string' },
        apply: { type: 'boolean', default: false },
        'endpoint-url': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${AWS_EMERGENCY_DENY_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(AWS_EMERGENCY_DENY_USAGE);
    return 0;
  }
  if (values.role === undefined) {
    io.stderr(`--role is required\n${AWS_EMERGENCY_DENY_USAGE}`);
    return 2;
  }
  let role: ReturnType<typeof roleNameOf>;
  try {
    role = roleNameOf(values.role);
  } catch (error) {
    io.stderr((error as Error).message);
    return 2;
  }
  const agent = values['source-identity'];
  const leaseId = values.lease;
  let issuedBefore: Date | undefined;
  if (values.before !== undefined) {
    issuedBefore = new Date(values.before);
    if (Number.isNaN(issuedBefore.getTime())) {
      io.stderr(`--before "${values.before}" is not an ISO 8601 time`);
      return 2;
    }
  } else if (agent === undefined && leaseId === undefined) {
    issuedBefore = io.now();
  }
  const target: EmergencyDenyTarget = { issuedBefore, agent, leaseId };

  if (agent !== undefined) io.stderr(`agent ${agent} -> aws:SourceIdentity ${sourceIdentityFor(agent)}`);
  if (!values.apply) {
    io.stdout(JSON.stringify(buildEmergencyDenyPolicy(target), null, 2));
    io.stderr(
      `not applied. To apply: rerun with --apply, or\n  aws iam put-role-policy --role-name ${role.roleName} ` +
        `--policy-name ${EMERGENCY_DENY_POLICY_NAME} --policy-document file://<the JSON above>\n` +
        '(put-role-policy replaces an existing policy of that name; --apply merges into it instead)',
    );
    return 0;
  }

  const region = PARTITION_REGIONS[role.partition ?? 'aws'] ?? 'us-east-1';
  const iam = io.createIamClient({ region, endpoint: values['endpoint-url'] });
  try {
    const document = await applyEmergencyDeny(iam, role.roleName, target);
    io.stdout(JSON.stringify(document, null, 2));
    io.stderr(
      `applied as inline policy ${EMERGENCY_DENY_POLICY_NAME} on role ${role.roleName}. IAM is eventually consistent: ` +
        'sessions are denied within seconds, occasionally longer. Remove it with\n' +
        `  aws iam delete-role-policy --role-name ${role.roleName} --policy-name ${EMERGENCY_DENY_POLICY_NAME}`,
    );
    return 0;
  } catch (error) {
    const e = error as { name?: string; message?: string };
    io.stderr(`failed to apply the deny policy: ${e.name ?? 'Error'}: ${e.message ?? String(error)}`);
    return 1;
  } finally {
    iam.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await runAwsEmergencyDeny(process.argv.slice(2));
}
