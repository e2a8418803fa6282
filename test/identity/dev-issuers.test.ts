import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import {
  DEV_STAFF_AUDIENCE,
  DEV_STAFF_ISSUER,
  DEV_STAFF_JWKS_FILE,
  DEV_WORKLOAD_AUDIENCE,
  DEV_WORKLOAD_ISSUER,
  DEV_WORKLOAD_JWKS_FILE,
  devIssuerPaths,
  ensureDevIssuers,
  signDevToken,
} from '../../src/identity/dev-issuers.js';
import { checkJwksFile } from '../../src/identity/key-sources.js';
import { createStaffVerifier } from '../../src/identity/staff-verifier.js';
import { createWorkloadVerifier } from '../../src/identity/workload-verifier.js';
import type { IssuerConfig, StaffConfig } from '../../src/policy-config/broker-yaml.js';

const run = promisify(execFile);
const TSX = path.resolve('node_modules/.bin/tsx');

// The layout of the quick start: ./policies trusts ../.data/dev-issuers/*.jwks.json.
const workloadIssuer: IssuerConfig = {
  name: 'dev',
  issuer: DEV_WORKLOAD_ISSUER,
  audience: DEV_WORKLOAD_AUDIENCE,
  jwks_file: DEV_WORKLOAD_JWKS_FILE,
  algorithms: ['ES256'],
  attributes: {
    namespace: ['kubernetes.io', 'namespace'],
    service_account: ['kubernetes.io', 'serviceaccount', 'name'],
  },
};
const staffIdp: StaffConfig = {
  issuer: DEV_STAFF_ISSUER,
  audience: DEV_STAFF_AUDIENCE,
  jwks_file: DEV_STAFF_JWKS_FILE,
  algorithms: ['ES256'],
  groups_claim: 'groups',
};

describe('development issuers', () => {
  let root: string;
  let dataDir: string;
  let policyDir: string;
  const clock = new ManualClock();
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'jit-dev-'));
    dataDir = path.join(root, '.data');
    policyDir = path.join(root, 'policies');
    await mkdir(policyDir);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('creates a key pair per issuer once, with private keys readable only by the owner', async () => {
    await ensureDevIssuers(dataDir);
    const first = await readFile(devIssuerPaths(dataDir, 'workload').jwks, 'utf8');
    await ensureDevIssuers(dataDir);

    expect(await readFile(devIssuerPaths(dataDir, 'workload').jwks, 'utf8')).toBe(first);
    for (const kind of ['workload', 'staff'] as const) {
      const paths = devIssuerPaths(dataDir, kind);
      expect((await stat(paths.privateJwk)).mode & 0o777).toBe(0o600);
      const jwks = JSON.parse(await readFile(paths.jwks, 'utf8'));
      expect(jwks.keys).toEqual([
        expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) }),
      ]);
      expect(jwks.keys[0]).not.toHaveProperty('d');
    }
  });

  it('agrees on one key when several processes start together', async () => {
    await Promise.all(Array.from({ length: 8 }, () => ensureDevIssuers(dataDir)));
    const token = await signDevToken({ dataDir, kind: 'workload', sub: 'agent-reports', ttlSeconds: 60 });
    const verifier = createWorkloadVerifier([workloadIssuer], { policyDir, clock });

    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'agent-reports' });
  });

  it('writes JWKS files the policy loader accepts at the paths broker.yaml names', async () => {
    await ensureDevIssuers(dataDir);

    await expect(checkJwksFile(policyDir, DEV_WORKLOAD_JWKS_FILE)).resolves.toEqual([]);
    await expect(checkJwksFile(policyDir, DEV_STAFF_JWKS_FILE)).resolves.toEqual([]);
  });

  it('signs workload and staff tokens the verifiers accept', async () => {
    const workloadToken = await signDevToken({
      dataDir,
      kind: 'workload',
      sub: 'agent-reports',
      ttlSeconds: 600,
      claims: { 'kubernetes.io': { namespace: 'reports', serviceaccount: { name: 'reports-agent' } } },
      now: clock.now(),
    });
    const staffToken = await signDevToken({
      dataDir,
      kind: 'staff',
      sub: 'alice@example.com',
      ttlSeconds: 600,
      claims: { groups: ['security-oncall'] },
      now: clock.now(),
    });

    await expect(
      createWorkloadVerifier([workloadIssuer], { policyDir, clock }).verify(workloadToken),
    ).resolves.toEqual({
      subject: 'agent-reports',
      issuer: 'dev',
      attributes: { namespace: 'reports', service_account: 'reports-agent' },
      expiresAt: new Date((Math.floor(clock.now().getTime() / 1000) + 600) * 1000),
    });
    await expect(
      createStaffVerifier(staffIdp, { policyDir, clock }).verify(staffToken),
    ).resolves.toMatchObject({
      subject: 'alice@example.com',
      issuer: DEV_STAFF_ISSUER,
      groups: ['security-oncall'],
    });
  });

  it('does not let extra claims override iss, aud or sub', async () => {
    const token = await signDevToken({
      dataDir,
      kind: 'workload',
      sub: 'agent-reports',
      ttlSeconds: 60,
      claims: { iss: 'https://evil.example', aud: 'other', sub: 'root' },
      now: clock.now(),
    });

    await expect(
      createWorkloadVerifier([workloadIssuer], { policyDir, clock }).verify(token),
    ).resolves.toMatchObject({
      subject: 'agent-reports',
    });
  });

  describe('npm run dev:token', () => {
    const devToken = (...args: string[]) =>
      run(TSX, ['src/cli/dev-token.ts', ...args], { env: { ...process.env, DATA_DIR: dataDir } });

    it('prints only a workload token with the example attributes by default', async () => {
      const { stdout } = await devToken();
      const identity = await createWorkloadVerifier([workloadIssuer], {
        policyDir,
        clock: { now: () => new Date() },
      }).verify(stdout.trim());

      expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect(identity).toMatchObject({
        subject: 'agent-reports',
        attributes: { namespace: 'reports', service_account: 'reports-agent' },
      });
    });

    it('prints a staff token with the given groups and claims', async () => {
      const { stdout } = await devToken(
        '--staff',
        '--sub',
        'bob@example.com',
        '--groups',
        'security-oncall,sre',
      );
      const human = await createStaffVerifier(staffIdp, {
        policyDir,
        clock: { now: () => new Date() },
      }).verify(stdout.trim());

      expect(human).toMatchObject({
        subject: 'bob@example.com',
        groups: ['security-oncall', 'sre'],
        email: 'bob@example.com',
      });
    });

    it('parses --claim values as JSON when they parse and honours --ttl', async () => {
      const { stdout } = await devToken(
        '--ttl',
        '120',
        '--claim',
        'kubernetes.io={"namespace":"billing"}',
        '--claim',
        'team=data',
      );
      const payload = JSON.parse(Buffer.from(stdout.trim().split('.')[1]!, 'base64url').toString('utf8'));

      expect(payload).toMatchObject({ 'kubernetes.io': { namespace: 'billing' }, team: 'data' });
      expect(payload.exp - payload.iat).toBe(120);
    });

    it('exits 1 with usage on stderr and nothing on stdout for a bad flag', async () => {
      const failure = await devToken('--claim', 'sub=root').catch(
        (e: { code: number; stdout: string; stderr: string }) => e,
      );

      expect(failure).toMatchObject({ code: 1, stdout: '' });
      expect((failure as { stderr: string }).stderr).toContain('--claim sub: set by the dev issuer');
    });
  });
});
