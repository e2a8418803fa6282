// Maps what the AWS SDK throws from AssumeRole to the one Problem a client sees. Only the error's
// code, message and request id are kept: the SDK error itself never reaches a client or a log.
import { Problem, problems } from '../../problem.js';

/** Seconds a client is told to wait after STS throttled us or could not be reached. */
export const STS_RETRY_AFTER_SECONDS = 5;

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);
const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
]);
const POLICY_REJECTED = new Set([
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
  'MalformedPolicyDocument',
  'MalformedPolicyDocumentException',
]);
// Node socket errors and the SDK's own timeouts: STS never answered.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
]);

/** The non-secret facts of an SDK error, safe to log as a Problem's cause. */
export interface StsErrorSummary {
  code: string;
  message: string;
  requestId: string | undefined;
  httpStatus: number | undefined;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

export function summariseStsError(error: unknown): StsErrorSummary {
  const metadata = field(error, '$metadata');
  const status = field(metadata, 'httpStatusCode');
  return {
    // Modelled errors carry the wire code in `Code` and a class name in `name`
    // (PackedPolicyTooLarge vs PackedPolicyTooLargeException); socket errors carry `code`.
    code:
      str(field(error, 'Code')) ??
      str(field(field(error, 'Error'), 'Code')) ??
      str(field(error, 'code')) ??
      str(field(error, 'name')) ??
      'UnknownError',
    message: str(field(error, 'message')) ?? '',
    requestId: str(field(metadata, 'requestId')),
    httpStatus: typeof status === 'number' ? status : undefined,
  };
}

export function stsErrorToProblem(error: unknown, roleArn: string): Problem {
  if (error instanceof Problem) return error;
  const summary = summariseStsError(error);
  const name = str(field(error, 'name'));
  const is = (codes: Set<string>) => codes.has(summary.code) || (name !== undefined && codes.has(name));
  const aws = {
    aws_error_code: summary.code,
    aws_message: summary.message,
    aws_request_id: summary.requestId,
  };

  if (is(ACCESS_DENIED)) {
    return problems.badGateway(`AWS STS refused to let the broker assume ${roleArn}: ${summary.message}`, {
      extensions: aws,
      cause: summary,
    });
  }
  if (is(THROTTLED)) {
    return problems.unavailable('AWS STS is throttling the broker; retry later', {
      extensions: aws,
      retryAfterSeconds: STS_RETRY_AFTER_SECONDS,
      cause: summary,
    });
  }
  if (is(POLICY_REJECTED)) {
    return problems.unprocessable(
      `AWS STS rejected the session policy built from this intent (${summary.code}): ${summary.message}. ` +
        'Request fewer actions or resources.',
      { errors: [{ field: 'intent', message: summary.code }], extensions: aws },
    );
  }
  if (is(UNREACHABLE)) {
    return problems.unavailable('STS endpoint unreachable', {
      retryAfterSeconds: STS_RETRY_AFTER_SECONDS,
      cause: summary,
    });
  }
  return problems.badGateway(
    `AWS STS AssumeRole on ${roleArn} failed (${summary.code}): ${summary.message}`,
    { extensions: aws, cause: summary },
  );
}
