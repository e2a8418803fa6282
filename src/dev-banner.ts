// The quick start that `npm start` prints once the broker is ready on an embedded database: each
// command is the one that works against this broker (its URL, its POLICY_DIR, its demo users).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DevStaffIdp } from './identity/dev-staff-idp/dev-staff-idp.js';

/** policies/ of this checkout (src/ and dist/ are both one level below the root). */
const EXAMPLE_POLICY_DIR = fileURLToPath(new URL('../policies', import.meta.url));
const DEFAULT_POLICY_DIR = './policies';
/** What `npm run dev:token` reads when DATA_DIR is not set. */
const DEFAULT_DATA_DIR = './.data';

export interface DevBannerInput {
  publicUrl: string;
  policyDir: string;
  /**
   * The DATA_DIR whose development keys the policies trust (their jwks_file), per kind: not
   * always DATA_DIR, since the example policies name `../.data` relative to themselves.
   */
  devKeysDir: { workload: string; staff: string };
  /** Where /console signs in; the development IdP when it runs. */
  staffIssuer: string | undefined;
  devIdp: DevStaffIdp | undefined;
}

function shellQuote(value: string): string {
  return /^[\w./:@=-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

export function devBanner(input: DevBannerInput): string {
  const base = input.publicUrl;
  const isExample = path.resolve(input.policyDir) === path.resolve(EXAMPLE_POLICY_DIR);
  // dev:token must sign with the key this broker trusts, and a staff token with its staff issuer.
  const env = (keysDir: string, policyDir: boolean) =>
    [
      path.resolve(keysDir) === path.resolve(DEFAULT_DATA_DIR) ? '' : `DATA_DIR=${shellQuote(keysDir)} `,
      policyDir && input.policyDir !== DEFAULT_POLICY_DIR ? `POLICY_DIR=${shellQuote(input.policyDir)} ` : '',
    ].join('');
  const devToken = () => `${env(input.devKeysDir.workload, false)}npm run -s dev:token`;
  const staffToken = () => `${env(input.devKeysDir.staff, true)}npm run -s dev:token -- --staff`;
  const credentials = (template: string, task: string, purpose: string, action: string) => [
    `       curl -s -X POST ${base}/v1/credentials -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\`,
    `         -d '{"template":"${template}","intent":{"task_id":"${task}","purpose":"${purpose}","actions":["${action}"],"resources":[]}}'`,
  ];
  const lines = [
    '',
    `jit-broker is ready on ${base} (embedded PostgreSQL, ${isExample ? 'example policies' : 'policies'} in ${input.policyDir})`,
    '  1. Get a development workload token:',
    `       TOKEN=$(${devToken()})`,
    '  2. Ask for a credential scoped to a task:',
    ...credentials('reports-api', 't-42', 'monthly report', 'reports:read'),
    `  3. Inspect or revoke it: GET ${base}/v1/leases/<lease_id>, POST ${base}/v1/leases/<lease_id>/revoke`,
  ];
  if (input.devIdp !== undefined) {
    const width = Math.max(...input.devIdp.users.map((u) => u.login.length));
    lines.push(
      '  4. Ask for one that needs a human to approve (202, pending):',
      ...credentials('reports-admin', 't-44', 'rebuild the report index', 'reports:admin'),
      `     then open ${base}/console and sign in at the development staff IdP (${input.devIdp.issuer}):`,
      ...input.devIdp.users.map(
        (u) =>
          `       ${u.login.padEnd(width)}  password ${u.password}   (${u.groups.join(', ')}${u.groups.includes('security-oncall') ? ': may approve' : ': may not approve'})`,
      ),
      `     or approve over the API: STAFF=$(${staffToken()}); curl -s ${base}/v1/approvals?status=pending -H "Authorization: Bearer $STAFF"`,
    );
  } else if (input.staffIssuer !== undefined) {
    lines.push(`  4. Review step-up requests at ${base}/console (staff sign in at ${input.staffIssuer})`);
  }
  lines.push('');
  return lines.join('\n');
}
