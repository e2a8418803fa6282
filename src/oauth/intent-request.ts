// Turns `scope` (RFC 6749 §3.3) and `authorization_details` (RFC 9396, type `task_intent`) into
// the task intent the broker decides on. Bounded: a hostile body cannot make parsing expensive.
import { z } from 'zod';
import { intentSchema } from '../core/intent.js';
import { oauthErrors } from './errors.js';
import { AUTHORIZATION_DETAILS_TYPE } from './vocabulary.js';

/** The intent of one task fits in a few hundred bytes; 8 KiB leaves room and bounds JSON.parse. */
export const MAX_AUTHORIZATION_DETAILS_BYTES = 8 * 1024;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
const MAX_SCOPES = 64;

const taskIntentSchema = intentSchema.extend({
  type: z.literal(AUTHORIZATION_DETAILS_TYPE),
  template: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
});

export interface RequestedIntent {
  /** From authorization_details; undefined when the request named none. */
  taskId: string | undefined;
  purpose: string | undefined;
  /** undefined when neither scope nor authorization_details asked for anything. */
  actions: string[] | undefined;
  resources: string[];
  template: string | undefined;
  /** Whether authorization_details was sent (the response echoes it then). */
  detailed: boolean;
}

export function parseScope(scope: string | undefined): string[] | undefined {
  if (scope === undefined) return undefined;
  const tokens = scope.split(' ').filter((s) => s !== '');
  if (tokens.length === 0) return undefined;
  if (tokens.length > MAX_SCOPES) throw oauthErrors.invalidScope(`at most ${MAX_SCOPES} scopes`);
  for (const token of tokens) {
    if (token.length > 256 || !SCOPE_TOKEN.test(token))
      throw oauthErrors.invalidScope('a scope is malformed');
  }
  return [...new Set(tokens)];
}

export function parseAuthorizationDetails(
  raw: string | undefined,
): z.output<typeof taskIntentSchema> | undefined {
  if (raw === undefined) return undefined;
  if (Buffer.byteLength(raw, 'utf8') > MAX_AUTHORIZATION_DETAILS_BYTES) {
    throw oauthErrors.invalidAuthorizationDetails(
      `authorization_details is over ${MAX_AUTHORIZATION_DETAILS_BYTES} bytes`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw oauthErrors.invalidAuthorizationDetails('authorization_details is not JSON');
  }
  // RFC 9396 §2: a JSON array of objects. The broker decides one task per token.
  if (!Array.isArray(parsed) || parsed.length !== 1) {
    throw oauthErrors.invalidAuthorizationDetails(
      'authorization_details must be an array holding one task_intent object',
    );
  }
  const [detail] = parsed as unknown[];
  if (
    typeof detail !== 'object' ||
    detail === null ||
    (detail as { type?: unknown }).type !== AUTHORIZATION_DETAILS_TYPE
  ) {
    throw oauthErrors.invalidAuthorizationDetails('the authorization_details type must be "task_intent"');
  }
  const result = taskIntentSchema.safeParse(detail);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.map(String).join('.') || '(object)';
    throw oauthErrors.invalidAuthorizationDetails(
      issue.code === 'unrecognized_keys'
        ? `unknown field ${issue.keys.join(', ')}`
        : `${field}: ${issue.message}`,
    );
  }
  return result.data;
}

/** `scope` alone means actions = those scopes; with authorization_details both must agree. */
export function requestedIntent(scope: string | undefined, details: string | undefined): RequestedIntent {
  const scopes = parseScope(scope);
  const detail = parseAuthorizationDetails(details);
  if (detail === undefined) {
    return {
      taskId: undefined,
      purpose: undefined,
      actions: scopes,
      resources: [],
      template: undefined,
      detailed: false,
    };
  }
  const actions = [...new Set(detail.actions)];
  if (
    scopes !== undefined &&
    (scopes.length !== actions.length || scopes.some((s) => !actions.includes(s)))
  ) {
    throw oauthErrors.invalidScope('scope and the actions of authorization_details differ');
  }
  return {
    taskId: detail.task_id,
    purpose: detail.purpose,
    actions,
    resources: [...new Set(detail.resources)],
    template: detail.template,
    detailed: true,
  };
}
