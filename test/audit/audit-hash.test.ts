import { describe, expect, it } from 'vitest';
import { type AuditContent, auditRowHash, canonicalJson, GENESIS_HASH } from '../../src/audit/audit-log.js';

const content: AuditContent = {
  id: 1,
  at: '2025-01-01T12:00:00.000Z',
  event: 'decision',
  request_id: null,
  agent: 'a',
  agent_issuer: 'k8s',
  on_behalf_of: null,
  actor: null,
  lease_id: null,
  template: 'reports-api',
  intent: { b: 1, a: 2 },
  decision: 'deny',
  policies: ['forbid-x'],
  reasons: ['no'],
  policy_version: 'v1',
  detail: null,
};

describe('canonicalJson', () => {
  it('sorts object keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: { d: 1, c: [3, { z: 1, y: 2 }] }, a: 'x' })).toBe(
      '{"a":"x","b":{"c":[3,{"y":2,"z":1}],"d":1}}',
    );
  });

  it('is the same for objects that differ only in key order', () => {
    expect(canonicalJson({ a: 1, b: [1, 2] })).toBe(canonicalJson({ b: [1, 2], a: 1 }));
  });

  it('drops undefined members as JSON does and escapes strings as JSON.stringify does', () => {
    expect(canonicalJson({ a: undefined, b: 'é"\n' })).toBe('{"b":"é\\"\\n"}');
  });

  it('refuses values that are not JSON', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson(new Date())).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
  });
});

describe('auditRowHash', () => {
  it('is sha256 of prev_hash followed by the canonical row', async () => {
    const { createHash } = await import('node:crypto');
    const canonical =
      '{"actor":null,"agent":"a","agent_issuer":"k8s","at":"2025-01-01T12:00:00.000Z","decision":"deny",' +
      '"detail":null,"event":"decision","id":1,"intent":{"a":2,"b":1},"lease_id":null,"on_behalf_of":null,' +
      '"policies":["forbid-x"],"policy_version":"v1","reasons":["no"],"request_id":null,"template":"reports-api"}';
    expect(auditRowHash(GENESIS_HASH, content)).toBe(
      createHash('sha256')
        .update(GENESIS_HASH + canonical)
        .digest('hex'),
    );
  });

  it('changes when any content field or the previous hash changes', () => {
    const base = auditRowHash(GENESIS_HASH, content);
    expect(auditRowHash(GENESIS_HASH, { ...content, decision: 'allow' })).not.toBe(base);
    expect(auditRowHash(GENESIS_HASH, { ...content, intent: { a: 2, b: 2 } })).not.toBe(base);
    expect(auditRowHash('f'.repeat(64), content)).not.toBe(base);
  });

  it('ignores fields that are not content, such as seq and hash', () => {
    const withChainFields = { ...content, seq: 9, hash: 'x' } as AuditContent;
    expect(auditRowHash(GENESIS_HASH, withChainFields)).toBe(auditRowHash(GENESIS_HASH, content));
  });
});
