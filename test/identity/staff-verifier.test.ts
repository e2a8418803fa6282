import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { createStaffVerifier, type StaffVerifier } from '../../src/identity/staff-verifier.js';
import { createTestIssuer, staffConfig, type TestIssuer, unsignedToken } from '../helpers/issuer.js';

describe('staff verifier', () => {
  const clock = new ManualClock();
  let sso: TestIssuer;
  let workloads: TestIssuer;
  let verifier: StaffVerifier;
  beforeAll(async () => {
    sso = await createTestIssuer({ alg: 'RS256', jwks: 'http', clock, issuer: 'https://sso.example.com' });
    workloads = await createTestIssuer({ jwks: 'http', clock });
    verifier = createStaffVerifier(
      staffConfig(sso, { audience: 'jit-broker-console', algorithms: ['RS256', 'ES256'] }),
      {
        policyDir: '.',
        clock,
      },
    );
  });
  afterAll(async () => {
    await Promise.all([sso.close(), workloads.close()]);
  });
  const staffToken = (claims: Record<string, unknown>) =>
    sso.sign({ aud: 'jit-broker-console', sub: 'alice@example.com', ...claims });

  it('reads groups from an array claim, with the token iss as issuer and name and email when present', async () => {
    const token = await staffToken({
      groups: ['security-oncall', 'sre'],
      name: 'Alice',
      email: 'alice@example.com',
    });

    await expect(verifier.verify(token)).resolves.toEqual({
      subject: 'alice@example.com',
      issuer: 'https://sso.example.com',
      groups: ['security-oncall', 'sre'],
      name: 'Alice',
      email: 'alice@example.com',
    });
  });

  it('reads groups from a space-separated string', async () => {
    const token = await staffToken({ groups: ' security-oncall  sre ' });

    await expect(verifier.verify(token)).resolves.toMatchObject({ groups: ['security-oncall', 'sre'] });
  });

  it('reads groups from the configured claim and ignores entries that are not strings', async () => {
    const custom = createStaffVerifier(
      staffConfig(sso, { audience: 'jit-broker-console', groups_claim: 'roles' }),
      {
        policyDir: '.',
        clock,
      },
    );
    const token = await staffToken({ roles: ['approver', 7, null, ''], groups: ['ignored'] });

    await expect(custom.verify(token)).resolves.toMatchObject({ groups: ['approver'] });
  });

  it('gives no groups when the claim is missing', async () => {
    await expect(verifier.verify(await staffToken({}))).resolves.toMatchObject({ groups: [] });
  });

  it('refuses a workload token presented as a human (another issuer)', async () => {
    await expect(verifier.verify(await workloads.sign())).rejects.toMatchObject({
      status: 401,
      detail: expect.stringMatching(/^unknown issuer/),
    });
  });

  it('refuses a staff token minted for another audience', async () => {
    await expect(verifier.verify(await sso.sign({ aud: 'grafana' }))).rejects.toMatchObject({
      status: 401,
      detail: 'token aud does not include jit-broker-console',
    });
  });

  it('refuses an expired staff token even after it was cached', async () => {
    const token = await staffToken({ exp: Math.floor(clock.now().getTime() / 1000) + 10 });
    await verifier.verify(token);

    clock.advance(41);

    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, detail: 'token has expired' });
  });

  it('refuses an unsigned staff token', async () => {
    await expect(verifier.verify(unsignedToken(sso, { aud: 'jit-broker-console' }))).rejects.toMatchObject({
      status: 401,
      detail: expect.stringMatching(/alg none/),
    });
  });
});
