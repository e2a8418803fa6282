import { describe, expect, it } from 'vitest';
import {
  sessionNameFor,
  sourceIdentityFor,
  tagValueFor,
} from '../../../src/providers/aws-sts/sts-identifiers.js';

const STS_NAME = /^[\w+=,.@-]{2,64}$/;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;

describe('STS session names and source identities', () => {
  it('uses a lease id (a UUID) unchanged as RoleSessionName', () => {
    expect(sessionNameFor('6f1c1a52-34d1-4c8e-9a43-2c3f0b1d9e77')).toBe(
      '6f1c1a52-34d1-4c8e-9a43-2c3f0b1d9e77',
    );
  });

  it('keeps an agent subject that already fits', () => {
    expect(sourceIdentityFor('reporter@agents.example')).toBe('reporter@agents.example');
  });

  it("replaces characters outside AWS's set and appends a hash of the original", () => {
    const id = sourceIdentityFor('system:serviceaccount:agents:reporter');
    expect(id).toMatch(/^system-serviceaccount-agents-reporter\.[0-9a-f]{12}$/);
    expect(id).toMatch(STS_NAME);
  });

  it('keeps distinct agents distinct when they sanitise alike', () => {
    expect(sourceIdentityFor('agents:a')).not.toBe(sourceIdentityFor('agents/a'));
    const long = 'x'.repeat(100);
    expect(sourceIdentityFor(`${long}1`)).not.toBe(sourceIdentityFor(`${long}2`));
  });

  it('fits every subject into 2–64 characters, and is idempotent', () => {
    for (const subject of [
      'a',
      '',
      'x'.repeat(300),
      'aws:root',
      'AWS:evil',
      'üñï©ødé 🤖',
      'spiffe://cluster/ns/agents/sa/reporter',
    ]) {
      const id = sourceIdentityFor(subject);
      expect(id).toMatch(STS_NAME);
      expect(id.toLowerCase().startsWith('aws:')).toBe(false);
      expect(sourceIdentityFor(id)).toBe(id);
    }
  });
});

describe('STS session tag values', () => {
  it('keeps letters of any script, digits and the allowed punctuation', () => {
    expect(tagValueFor('spiffe://cluster/ns/agents/sa/José')).toBe('spiffe://cluster/ns/agents/sa/José');
    expect(tagValueFor('')).toBe('');
  });

  it('sanitises and bounds everything else to 256 characters', () => {
    for (const value of ['bot 🤖 #1', 'é'.repeat(300), 'a,b;c']) {
      const tag = tagValueFor(value);
      expect(tag).toMatch(TAG_VALUE);
      expect(tag).not.toBe(value);
    }
  });
});
