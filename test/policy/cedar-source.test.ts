import { describe, expect, it } from 'vitest';
import { SourceFile, splitPolicies } from '../../src/policy/cedar-source.js';

describe('splitPolicies', () => {
  it('ends a policy only at a ; outside strings and comments', () => {
    const text = [
      '// first; with a semicolon in a comment',
      '@id("a;b") permit (principal, action, resource)',
      'when { context.intent.purpose == "x; \\"y;\\" z" }; // trailing; comment',
      '',
      '@id("c")',
      'forbid (principal, action, resource) when { context.intent.purpose like "*;*" };',
      '// the end;',
    ].join('\n');
    const file = new SourceFile('a.cedar', text);
    const spans = splitPolicies(file);
    expect(spans.map((s) => s.line)).toEqual([2, 5]);
    expect(text.slice(spans[0]!.start, spans[0]!.end)).toMatch(/^@id\("a;b"\).*z" };$/s);
    expect(text.slice(spans[1]!.start, spans[1]!.end)).toMatch(/^@id\("c"\)\nforbid.*\*;\*" };$/s);
  });

  it('maps byte offsets to lines across multi-byte characters', () => {
    const file = new SourceFile('a.cedar', 'é\n✓\nx');
    expect(file.lineOfByte(Buffer.byteLength('é\n✓\n'))).toBe(3);
    expect(file.lineOfChar('é\n✓\n'.length)).toBe(3);
  });
});
