// Reads a token request body: application/x-www-form-urlencoded only (RFC 6749 §4.1.3), each
// parameter at most once (§3.2), an empty value the same as an absent one (§3.1).
import { oauthErrors } from './errors.js';

/** RFC 8707 §2 and RFC 8693 §2.1 allow several `resource` / `audience` values; nothing else repeats. */
const REPEATABLE = new Set(['resource', 'audience']);

/** Enough for every parameter this endpoint reads; a longer value is hostile, not a request. */
const MAX_VALUE_LENGTH = 32 * 1024;
const MAX_PARAMETERS = 32;

export interface TokenForm {
  /** The first (for a repeatable parameter, every) non-empty value by name. */
  get(name: string): string | undefined;
  all(name: string): string[];
  names(): string[];
}

export function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [mediaType] = contentType.split(';');
  return mediaType!.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

export function parseTokenForm(contentType: string | undefined, body: string): TokenForm {
  if (!isFormContentType(contentType)) {
    throw oauthErrors.invalidRequest(
      'the token request must be sent as application/x-www-form-urlencoded',
      `content-type ${contentType ?? '(none)'}`,
    );
  }
  const values = new Map<string, string[]>();
  let count = 0;
  for (const [name, value] of new URLSearchParams(body)) {
    if (++count > MAX_PARAMETERS) throw oauthErrors.invalidRequest('too many parameters');
    if (value.length > MAX_VALUE_LENGTH)
      throw oauthErrors.invalidRequest(`parameter ${safeName(name)} is too long`);
    if (value === '') continue;
    const seen = values.get(name);
    if (seen === undefined) {
      values.set(name, [value]);
      continue;
    }
    if (!REPEATABLE.has(name)) {
      throw oauthErrors.invalidRequest(`parameter ${safeName(name)} is included more than once`);
    }
    seen.push(value);
  }
  return {
    get: (name) => values.get(name)?.[0],
    all: (name) => values.get(name) ?? [],
    names: () => [...values.keys()],
  };
}

/** A parameter name as an error may repeat it: short, printable, nothing the caller can smuggle. */
function safeName(name: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : '(unnamed)';
}

export function required(form: TokenForm, name: string): string {
  const value = form.get(name);
  if (value === undefined) throw oauthErrors.invalidRequest(`missing required parameter ${name}`);
  return value;
}
