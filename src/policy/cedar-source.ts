// Cedar source text as operators see it: a file of policies with line numbers. Splits a file into
// its policies (so each one can be named by its @id) and turns Cedar's byte offsets into lines.
import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';

/** One policy's text inside its file, from its first token (comments before it excluded) to its `;`. */
export interface PolicySpan {
  /** Character offsets into the file. */
  start: number;
  end: number;
  /** 1-based line of the policy's first token (its first annotation or `permit`/`forbid`). */
  line: number;
}

export class SourceFile {
  readonly label: string;
  readonly text: string;
  #bytes: Buffer | undefined;

  constructor(label: string, text: string) {
    this.label = label;
    this.text = text;
  }

  /** 1-based line of a character offset. */
  lineOfChar(offset: number): number {
    let line = 1;
    for (let i = this.text.indexOf('\n'); i !== -1 && i < offset; i = this.text.indexOf('\n', i + 1)) line++;
    return line;
  }

  /** 1-based line of a UTF-8 byte offset: Cedar (Rust) reports source spans in bytes, not UTF-16 units. */
  lineOfByte(offset: number): number {
    this.#bytes ??= Buffer.from(this.text, 'utf8');
    let line = 1;
    for (let i = this.#bytes.indexOf(0x0a); i !== -1 && i < offset; i = this.#bytes.indexOf(0x0a, i + 1))
      line++;
    return line;
  }

  /** Byte offset of a character offset, to place a span reported relative to a policy's text. */
  byteOffsetOf(charOffset: number): number {
    return Buffer.byteLength(this.text.slice(0, charOffset), 'utf8');
  }

  /** `file:line: problem` for a Cedar error whose offsets are relative to `text.slice(baseChar)`. */
  describe(error: DetailedError, baseChar = 0, fallbackLine?: number): string {
    const at = error.sourceLocations?.[0];
    const line = at === undefined ? fallbackLine : this.lineOfByte(this.byteOffsetOf(baseChar) + at.start);
    return `${line === undefined ? this.label : `${this.label}:${line}`}: ${cedarMessage(error)}`;
  }
}

/** Cedar's message with its label and help, without the wrapper prefixes that only add noise. */
export function cedarMessage(error: DetailedError): string {
  let text = error.message.replace(
    /^failed to parse (policies|schema) from string: |^for policy `[^`]*`, /,
    '',
  );
  const label = error.sourceLocations?.[0]?.label;
  if (label) text += ` (${label})`;
  if (error.help) text += `; ${error.help}`;
  return text;
}

/**
 * Splits valid Cedar policy text into its policies. A `;` ends a policy everywhere except inside a
 * string literal or a `//` comment (Cedar has no other comment form), so a small lexer suffices.
 * Only call it on text Cedar has already parsed: on invalid text the spans mean nothing.
 */
export function splitPolicies(file: SourceFile): PolicySpan[] {
  const text = file.text;
  const spans: PolicySpan[] = [];
  let firstToken = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '/' && text[i + 1] === '/') {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n') continue;
    if (firstToken === -1) firstToken = i;
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (ch === ';') {
      spans.push({ start: firstToken, end: i + 1, line: file.lineOfChar(firstToken) });
      firstToken = -1;
    }
  }
  return spans;
}
