// The environment a credential is handed over in (by `exec`, and by `mint --format env`):
// jwt → JIT_TOKEN; postgres → libpq's PG* and DATABASE_URL; aws_sts → the AWS SDKs' variables.
import type { Credential, IssuedCredential } from '@jit-broker/sdk';

/** Variables of other credential sources that would win over ours in the AWS SDKs' chains. */
export const AWS_COMPETING_VARIABLES = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_SECURITY_TOKEN',
  'AWS_CREDENTIAL_EXPIRATION',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
] as const;

export function credentialEnv(credential: Credential): Record<string, string> {
  switch (credential.type) {
    case 'jwt':
      return { JIT_TOKEN: credential.token };
    case 'postgres':
      return {
        PGHOST: credential.host,
        PGPORT: String(credential.port),
        PGDATABASE: credential.database,
        PGUSER: credential.username,
        PGPASSWORD: credential.password,
        DATABASE_URL: credential.url,
      };
    case 'aws_sts':
      return {
        AWS_ACCESS_KEY_ID: credential.access_key_id,
        AWS_SECRET_ACCESS_KEY: credential.secret_access_key,
        AWS_SESSION_TOKEN: credential.session_token,
        AWS_REGION: credential.region,
        AWS_DEFAULT_REGION: credential.region,
        AWS_CREDENTIAL_EXPIRATION: credential.expires_at,
      };
  }
}

/** Every variable `mint --format env` prints: the credential's and the lease's. */
export function issuedEnv(issued: IssuedCredential, taskId: string): Record<string, string> {
  return { ...credentialEnv(issued.credential), JIT_LEASE_ID: issued.lease_id, JIT_TASK_ID: taskId };
}

/** `export NAME='value'` lines, single-quoted for POSIX shells. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => `export ${name}='${value.replaceAll("'", `'\\''`)}'\n`)
    .join('');
}
