import { IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAwsEmergencyDeny } from '../../../src/cli/aws-emergency-deny.js';
import {
  buildEmergencyDenyPolicy,
  EMERGENCY_DENY_POLICY_NAME,
  iamTimestamp,
  mergeEmergencyDeny,
  roleNameOf,
} from '../../../src/providers/aws-sts/emergency-deny.js';
import { sourceIdentityFor } from '../../../src/providers/aws-sts/sts-identifiers.js';
import { type QueryServer, queryErrorXml, startAwsQueryServer, xmlEscape } from '../../helpers/fake-sts.js';
import { testCredentials } from './fixtures.js';

const NOW = new Date('2025-03-01T12:00:00.250Z');

describe('emergency deny policy', () => {
  it('denies every session of the role issued before a moment (aws:TokenIssueTime)', () => {
    expect(JSON.stringify(buildEmergencyDenyPolicy({ issuedBefore: NOW }))).toBe(
      '{"Version":"2012-10-17","Statement":[{"Sid":"JitBrokerDenyTokensIssuedBefore","Effect":"Deny","Action":"*","Resource":"*",' +
        '"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2025-03-01T12:00:01Z"}}}]}',
    );
  });

  it("denies one agent's sessions by the SourceIdentity the broker gave them", () => {
    const policy = buildEmergencyDenyPolicy({ agent: 'system:serviceaccount:agents:reporter' });
    expect(policy.Statement).toHaveLength(1);
    const [statement] = policy.Statement;
    expect(statement).toMatchObject({
      Effect: 'Deny',
      Action: '*',
      Resource: '*',
      Condition: {
        StringEquals: { 'aws:SourceIdentity': sourceIdentityFor('system:serviceaccount:agents:reporter') },
      },
    });
    expect(statement!.Sid).toMatch(/^JitBrokerDenySourceIdentity[0-9a-f]{16}$/);
  });

  it('combines both conditions when both are given', () => {
    const [statement] = buildEmergencyDenyPolicy({ agent: 'reporter', issuedBefore: NOW }).Statement;
    expect(statement!.Condition).toEqual({
      StringEquals: { 'aws:SourceIdentity': 'reporter' },
      DateLessThan: { 'aws:TokenIssueTime': '2025-03-01T12:00:01Z' },
    });
  });

  it("denies one lease's session by its session name, the suffix of aws:userid", () => {
    const leaseId = '6f1c1a52-34d1-4c8e-9a43-2c3f0b1d9e77';
    const [statement] = buildEmergencyDenyPolicy({ leaseId }).Statement;
    expect(statement!.Condition).toEqual({ StringLike: { 'aws:userid': `*:${leaseId}` } });
    expect(statement!.Sid).toMatch(/^JitBrokerDenySession[0-9a-f]{16}$/);
  });

  it('needs an agent, a lease or a time', () => {
    expect(() => buildEmergencyDenyPolicy({})).toThrow(/an agent, a lease, a time/);
  });

  it('rounds the time up to a whole second so sessions issued in that second are included', () => {
    expect(iamTimestamp(new Date('2025-03-01T12:00:00.000Z'))).toBe('2025-03-01T12:00:00Z');
    expect(iamTimestamp(new Date('2025-03-01T12:00:00.001Z'))).toBe('2025-03-01T12:00:01Z');
  });
});

describe('merging into the existing emergency policy', () => {
  const earlier = buildEmergencyDenyPolicy({ issuedBefore: new Date('2025-03-01T10:00:00Z') });
  const later = buildEmergencyDenyPolicy({ issuedBefore: new Date('2025-03-01T11:00:00Z') });

  it('keeps statements it did not write and adds per-agent denies side by side', () => {
    const foreign = { Sid: 'Other', Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' };
    const a = mergeEmergencyDeny(
      JSON.stringify({ Version: '2012-10-17', Statement: foreign }),
      buildEmergencyDenyPolicy({ agent: 'a' }).Statement[0]!,
    );
    const ab = mergeEmergencyDeny(JSON.stringify(a), buildEmergencyDenyPolicy({ agent: 'b' }).Statement[0]!);
    expect(ab.Statement.map((s) => s.Sid)).toEqual([
      'Other',
      a.Statement[1]!.Sid,
      expect.stringMatching(/^JitBrokerDenySourceIdentity/),
    ]);
    expect(ab.Statement[1]!.Sid).not.toBe(ab.Statement[2]!.Sid);
  });

  it('never narrows a deny: a later cut-off replaces an earlier one, not the reverse', () => {
    expect(mergeEmergencyDeny(JSON.stringify(earlier), later.Statement[0]!)).toEqual(later);
    expect(mergeEmergencyDeny(JSON.stringify(later), earlier.Statement[0]!)).toEqual(later);
    const always = buildEmergencyDenyPolicy({ agent: 'a' });
    const bounded = buildEmergencyDenyPolicy({ agent: 'a', issuedBefore: NOW });
    expect(mergeEmergencyDeny(JSON.stringify(always), bounded.Statement[0]!)).toEqual(always);
  });

  it('refuses to overwrite a policy it cannot read', () => {
    expect(() => mergeEmergencyDeny('not json', later.Statement[0]!)).toThrow(/refusing to overwrite/);
  });
});

describe('role names', () => {
  it('takes a role name or an ARN with a path', () => {
    expect(roleNameOf('agent-reports')).toEqual({ roleName: 'agent-reports', partition: undefined });
    expect(roleNameOf('arn:aws-cn:iam::123456789012:role/agents/prod/agent-reports')).toEqual({
      roleName: 'agent-reports',
      partition: 'aws-cn',
    });
    expect(() => roleNameOf('arn:aws:s3:::reports')).toThrow(/neither/);
  });
});

/** IAM's GetRolePolicy / PutRolePolicy over the Query protocol, one role's inline policies. */
let iam: QueryServer;
const stored = new Map<string, string>();
const iamCalls: Array<Record<string, string>> = [];

beforeAll(async () => {
  iam = await startAwsQueryServer(({ params }) => {
    const call = Object.fromEntries(params.entries());
    iamCalls.push(call);
    const key = `${call.RoleName}/${call.PolicyName}`;
    const meta = '<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>';
    const ns = 'xmlns="https://iam.amazonaws.com/doc/2010-05-08/"';
    if (call.Action === 'GetRolePolicy') {
      const document = stored.get(key);
      if (document === undefined) {
        return {
          status: 404,
          xml: queryErrorXml('NoSuchEntity', `The role policy with name ${call.PolicyName} cannot be found.`),
        };
      }
      return {
        status: 200,
        xml:
          `<GetRolePolicyResponse ${ns}><GetRolePolicyResult><RoleName>${xmlEscape(call.RoleName!)}</RoleName>` +
          `<PolicyName>${xmlEscape(call.PolicyName!)}</PolicyName>` +
          `<PolicyDocument>${xmlEscape(encodeURIComponent(document))}</PolicyDocument></GetRolePolicyResult>${meta}</GetRolePolicyResponse>`,
      };
    }
    if (call.Action === 'PutRolePolicy') {
      stored.set(key, call.PolicyDocument!);
      return { status: 200, xml: `<PutRolePolicyResponse ${ns}>${meta}</PutRolePolicyResponse>` };
    }
    return { status: 400, xml: queryErrorXml('InvalidAction', String(call.Action)) };
  });
});
afterAll(async () => {
  await iam.close();
});
beforeEach(() => {
  stored.clear();
  iamCalls.length = 0;
});

function cliIo() {
  const out: string[] = [];
  const err: string[] = [];
  const regions: string[] = [];
  return {
    out,
    err,
    regions,
    io: {
      stdout: (line: string) => out.push(line),
      stderr: (line: string) => err.push(line),
      now: () => NOW,
      createIamClient: ({ region, endpoint }: { region: string; endpoint: string | undefined }) => {
        regions.push(region);
        return new IAMClient({
          region,
          endpoint: endpoint ?? iam.url,
          credentials: testCredentials,
          maxAttempts: 1,
        });
      },
    },
  };
}

describe('aws-emergency-deny command', () => {
  it('prints the TokenIssueTime deny for now and changes nothing without --apply', async () => {
    const { io, out, err } = cliIo();
    expect(await runAwsEmergencyDeny(['--role', 'arn:aws:iam::123456789012:role/agent-reports'], io)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual(buildEmergencyDenyPolicy({ issuedBefore: NOW }));
    expect(err.join('\n')).toContain('not applied');
    expect(iamCalls).toHaveLength(0);
  });

  it('with --apply puts the policy on the role through IAM, merging into what is there', async () => {
    const first = cliIo();
    expect(
      await runAwsEmergencyDeny(
        [
          '--role',
          'arn:aws:iam::123456789012:role/agents/agent-reports',
          '--source-identity',
          'reporter',
          '--apply',
        ],
        first.io,
      ),
    ).toBe(0);
    expect(first.regions).toEqual(['us-east-1']);
    expect(iamCalls.map((c) => c.Action)).toEqual(['GetRolePolicy', 'PutRolePolicy']);
    expect(iamCalls[1]).toMatchObject({ RoleName: 'agent-reports', PolicyName: EMERGENCY_DENY_POLICY_NAME });
    expect(first.err.join('\n')).toMatch(/eventually consistent/);

    const second = cliIo();
    expect(
      await runAwsEmergencyDeny(
        ['--role', 'agent-reports', '--before', '2025-03-01T12:00:00Z', '--apply'],
        second.io,
      ),
    ).toBe(0);
    const document = JSON.parse(stored.get(`agent-reports/${EMERGENCY_DENY_POLICY_NAME}`)!);
    expect(
      document.Statement.map((s: { Condition: Record<string, unknown> }) => Object.keys(s.Condition)),
    ).toEqual([['StringEquals'], ['DateLessThan']]);
    expect(JSON.parse(second.out.join('\n'))).toEqual(document);
  });

  it('with --lease denies that session only, with no time condition', async () => {
    const { io, out } = cliIo();
    const leaseId = '6f1c1a52-34d1-4c8e-9a43-2c3f0b1d9e77';
    expect(await runAwsEmergencyDeny(['--role', 'agent-reports', '--lease', leaseId], io)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toEqual(buildEmergencyDenyPolicy({ leaseId }));
  });

  it('exits 2 on bad usage and 1 when IAM refuses', async () => {
    const { io, err } = cliIo();
    expect(await runAwsEmergencyDeny([], io)).toBe(2);
    expect(await runAwsEmergencyDeny(['--role', 'agent-reports', '--before', 'yesterday'], io)).toBe(2);
    expect(await runAwsEmergencyDeny(['--role', 'agent-reports', '--bogus'], io)).toBe(2);
    expect(
      await runAwsEmergencyDeny(
        ['--role', 'agent-reports', '--apply', '--endpoint-url', 'http://127.0.0.1:1'],
        io,
      ),
    ).toBe(1);
    expect(err.join('\n')).toMatch(/--role is required/);
  });
});
