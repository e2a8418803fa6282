// A real HTTP server on 127.0.0.1 speaking the AWS Query protocol (form-encoded request, XML
// response) the AWS SDK for STS and IAM uses, so tests drive the real SDK over the wire and
// assert exactly what it sent. startFakeSts() answers AssumeRole like STS does and records every
// request, and GetCallerIdentity for the sessions it issued (signed with their access key);
// startAwsQueryServer() is the bare protocol for other services (IAM).
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface QueryRequest {
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
  method: string;
  path: string;
}

export interface QueryReply {
  status: number;
  xml: string;
  headers?: Record<string, string>;
}

export interface QueryServer {
  url: string;
  close(): Promise<void>;
}

export function xmlEscape(value: string): string {
  return value.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** The XML error document of the Query protocol (what STS and IAM send on failure). */
export function queryErrorXml(
  code: string,
  message: string,
  type: 'Sender' | 'Receiver' = 'Sender',
  requestId = randomUUID(),
) {
  return (
    `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>${type}</Type>` +
    `<Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startAwsQueryServer(
  handle: (request: QueryRequest) => QueryReply,
): Promise<QueryServer> {
  const server: Server = createServer((req, res) => {
    readBody(req)
      .then((body) => {
        const reply = handle({
          params: new URLSearchParams(body),
          headers: req.headers,
          method: req.method ?? 'GET',
          path: req.url ?? '/',
        });
        const requestId = randomUUID();
        res.writeHead(reply.status, {
          'content-type': 'text/xml',
          'x-amzn-requestid': requestId,
          ...reply.headers,
        });
        res.end(reply.xml);
      })
      .catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/xml' });
        res.end(queryErrorXml('InternalFailure', String(error), 'Receiver'));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** One AssumeRole call as the fake received it, parsed from the form body. */
export interface RecordedAssumeRole {
  action: string | null;
  version: string | null;
  roleArn: string | null;
  roleSessionName: string | null;
  durationSeconds: number | undefined;
  /** The session policy exactly as sent (a JSON string). */
  policy: string | null;
  sourceIdentity: string | null;
  tags: Array<{ key: string; value: string }>;
  /** Every form parameter, for assertions on what else was (not) sent. */
  params: Record<string, string>;
  /** From the SigV4 Authorization header's credential scope. */
  signingRegion: string | undefined;
  accessKeyId: string | undefined;
  contentType: string | undefined;
}

/** Credentials the fake handed out, to compare with what the broker returned. */
export interface IssuedStsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

export interface FakeStsError {
  code: string;
  message?: string;
  /** HTTP status; by default the one STS uses for that code. */
  status?: number;
}

export interface FakeSts extends QueryServer {
  requests: RecordedAssumeRole[];
  issued: IssuedStsCredentials[];
  /** The next call(s) fail with these errors, in order; later calls succeed again. */
  failNext(...errors: FakeStsError[]): void;
  /** Every call fails with this error until called with undefined. */
  failAlways(error: FakeStsError | undefined): void;
}

export interface FakeStsOptions {
  /** The role's MaxSessionDuration (STS refuses longer DurationSeconds); default 3600. */
  maxSessionDuration?: number;
  /** Clock of the fake, for Expiration; default real time. */
  now?: () => Date;
}

const DEFAULT_STATUS: Record<string, number> = {
  AccessDenied: 403,
  RegionDisabledException: 403,
  ExpiredToken: 400,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  Throttling: 400,
  PackedPolicyTooLarge: 400,
  MalformedPolicyDocument: 400,
  ValidationError: 400,
  InternalFailure: 500,
  ServiceUnavailable: 503,
};

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

function parseAssumeRole(request: QueryRequest): RecordedAssumeRole {
  const p = request.params;
  const tags: Array<{ key: string; value: string }> = [];
  for (let n = 1; p.has(`Tags.member.${n}.Key`); n++) {
    tags.push({ key: p.get(`Tags.member.${n}.Key`)!, value: p.get(`Tags.member.${n}.Value`) ?? '' });
  }
  const auth = request.headers.authorization ?? '';
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/sts\/aws4_request/.exec(auth);
  const duration = p.get('DurationSeconds');
  return {
    action: p.get('Action'),
    version: p.get('Version'),
    roleArn: p.get('RoleArn'),
    roleSessionName: p.get('RoleSessionName'),
    durationSeconds: duration === null ? undefined : Number(duration),
    policy: p.get('Policy'),
    sourceIdentity: p.get('SourceIdentity'),
    tags,
    params: Object.fromEntries(p.entries()),
    signingRegion: scope?.[2],
    accessKeyId: scope?.[1],
    contentType: request.headers['content-type'],
  };
}

/** STS's own input validation, so a broker bug shows up as the error real STS would give. */
function validate(r: RecordedAssumeRole, maxSessionDuration: number): FakeStsError | undefined {
  const invalid = (message: string): FakeStsError => ({ code: 'ValidationError', message });
  if (r.version !== '2011-06-15')
    return { code: 'InvalidAction', message: `unknown Version ${r.version}`, status: 400 };
  if (!r.roleArn || r.roleArn.length < 20) return invalid("Value at 'roleArn' failed to satisfy constraint");
  if (!r.roleSessionName || !SESSION_NAME.test(r.roleSessionName)) {
    return invalid("Value at 'roleSessionName' failed to satisfy constraint");
  }
  if (r.durationSeconds !== undefined) {
    if (!Number.isInteger(r.durationSeconds) || r.durationSeconds < 900 || r.durationSeconds > 43200) {
      return invalid("Value at 'durationSeconds' failed to satisfy constraint");
    }
    if (r.durationSeconds > maxSessionDuration) {
      return invalid('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    }
  }
  if (r.policy !== null) {
    if (r.policy.length > 2048) {
      return invalid(
        "Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048",
      );
    }
    try {
      JSON.parse(r.policy);
    } catch {
      return { code: 'MalformedPolicyDocument', message: 'Syntax errors in policy.' };
    }
  }
  if (
    r.sourceIdentity !== null &&
    (!SESSION_NAME.test(r.sourceIdentity) || /^aws:/i.test(r.sourceIdentity))
  ) {
    return invalid("Value at 'sourceIdentity' failed to satisfy constraint");
  }
  if (r.tags.length > 50)
    return invalid(
      "Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50",
    );
  for (const tag of r.tags) {
    if (tag.key.length < 1 || tag.key.length > 128)
      return invalid("Value at 'tags.member.key' failed to satisfy constraint");
    if ([...tag.value].length > 256 || !TAG_VALUE.test(tag.value)) {
      return invalid("Value at 'tags.member.value' failed to satisfy constraint");
    }
  }
  return undefined;
}

function successXml(r: RecordedAssumeRole, creds: IssuedStsCredentials, packedPolicySize: number): string {
  const [, account = '000000000000', roleName = 'role'] =
    /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(r.roleArn ?? '') ?? [];
  const session = r.roleSessionName ?? '';
  return (
    '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>' +
    (r.sourceIdentity === null ? '' : `<SourceIdentity>${xmlEscape(r.sourceIdentity)}</SourceIdentity>`) +
    '<AssumedRoleUser>' +
    `<Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(session)}</Arn>` +
    `<AssumedRoleId>AROA${randomBytes(8).toString('hex').toUpperCase()}:${xmlEscape(session)}</AssumedRoleId>` +
    '</AssumedRoleUser><Credentials>' +
    `<AccessKeyId>${creds.accessKeyId}</AccessKeyId>` +
    `<SecretAccessKey>${creds.secretAccessKey}</SecretAccessKey>` +
    `<SessionToken>${creds.sessionToken}</SessionToken>` +
    `<Expiration>${creds.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')}</Expiration>` +
    `</Credentials><PackedPolicySize>${packedPolicySize}</PackedPolicySize>` +
    `</AssumeRoleResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`
  );
}

function errorReply(error: FakeStsError): QueryReply {
  const status = error.status ?? DEFAULT_STATUS[error.code] ?? 400;
  return {
    status,
    xml: queryErrorXml(error.code, error.message ?? error.code, status >= 500 ? 'Receiver' : 'Sender'),
  };
}

/** Who the caller is, for a session this fake issued (by the access key it signed with). */
function callerIdentity(
  r: RecordedAssumeRole,
  issued: IssuedStsCredentials[],
  sessions: Map<string, RecordedAssumeRole>,
): QueryReply {
  const session = r.accessKeyId === undefined ? undefined : sessions.get(r.accessKeyId);
  const creds = issued.find((c) => c.accessKeyId === r.accessKeyId);
  if (!session || !creds || creds.expiration.getTime() <= Date.now()) {
    return errorReply({
      code: 'InvalidClientTokenId',
      message: 'The security token included in the request is invalid.',
      status: 403,
    });
  }
  const [, account = '000000000000', roleName = 'role'] =
    /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(session.roleArn ?? '') ?? [];
  const name = session.roleSessionName ?? '';
  return {
    status: 200,
    xml:
      '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
      `<Arn>arn:aws:sts::${account}:assumed-role/${xmlEscape(roleName)}/${xmlEscape(name)}</Arn>` +
      `<UserId>AROA${account}:${xmlEscape(name)}</UserId><Account>${account}</Account>` +
      `</GetCallerIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
  };
}

export async function startFakeSts(options: FakeStsOptions = {}): Promise<FakeSts> {
  const requests: RecordedAssumeRole[] = [];
  const issued: IssuedStsCredentials[] = [];
  const sessions = new Map<string, RecordedAssumeRole>();
  const queue: FakeStsError[] = [];
  let always: FakeStsError | undefined;
  const now = options.now ?? (() => new Date());

  const server = await startAwsQueryServer((request) => {
    if (request.method !== 'POST') return errorReply({ code: 'InvalidAction', message: 'POST only' });
    const recorded = parseAssumeRole(request);
    requests.push(recorded);
    if (!/^AWS4-HMAC-SHA256 Credential=/.test(request.headers.authorization ?? '')) {
      return errorReply({
        code: 'MissingAuthenticationToken',
        message: 'Request is missing Authentication Token',
        status: 403,
      });
    }
    if (recorded.action === 'GetCallerIdentity') return callerIdentity(recorded, issued, sessions);
    if (recorded.action !== 'AssumeRole') {
      return errorReply({ code: 'InvalidAction', message: `Could not find operation ${recorded.action}` });
    }
    const configured = queue.shift() ?? always;
    if (configured) return errorReply(configured);
    const invalid = validate(recorded, options.maxSessionDuration ?? 3600);
    if (invalid) return errorReply(invalid);

    const creds: IssuedStsCredentials = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(96).toString('base64'),
      // STS expirations are whole seconds.
      expiration: new Date(
        Math.floor(now().getTime() / 1000) * 1000 + (recorded.durationSeconds ?? 3600) * 1000,
      ),
    };
    issued.push(creds);
    sessions.set(creds.accessKeyId, recorded);
    const packed = Math.min(100, Math.ceil(((recorded.policy?.length ?? 0) * 100) / 2048 / 2));
    return { status: 200, xml: successXml(recorded, creds, packed) };
  });

  return {
    ...server,
    requests,
    issued,
    failNext: (...errors) => queue.push(...errors),
    failAlways: (error) => {
      always = error;
    },
  };
}
