// `exec --aws-server`: a container-credentials endpoint on 127.0.0.1 (as ECS and EKS Pod Identity
// serve them) from which the child's AWS SDK fetches, and refetches before expiry, the lease's
// current STS credentials. Only a caller holding the random authorization token gets an answer.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AwsStsCredential } from '@jit-broker/sdk';

export interface AwsCredentialsServer {
  /** AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN for the child. */
  env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: string; AWS_CONTAINER_AUTHORIZATION_TOKEN: string };
  /** Requests answered with credentials (for the log line on exit). */
  served(): number;
  close(): Promise<void>;
}

/** `current()` returns the credential to hand out, or undefined once the lease is gone. */
export async function startAwsCredentialsServer(
  current: () => AwsStsCredential | undefined,
): Promise<AwsCredentialsServer> {
  const token = randomBytes(32).toString('base64url');
  const expected = Buffer.from(token);
  let served = 0;
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return send(403, { code: 'AccessDenied', message: 'invalid Authorization token' });
    }
    if (req.method !== 'GET') return send(405, { code: 'MethodNotAllowed', message: 'GET only' });
    const credential = current();
    if (credential === undefined) {
      return send(503, { code: 'CredentialsUnavailable', message: 'the lease is no longer active' });
    }
    served++;
    send(200, {
      AccessKeyId: credential.access_key_id,
      SecretAccessKey: credential.secret_access_key,
      Token: credential.session_token,
      Expiration: credential.expires_at,
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    env: {
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/credentials`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN: token,
    },
    served: () => served,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
