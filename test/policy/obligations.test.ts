import { describe, expect, it } from 'vitest';
import { combineObligations, readObligations } from '../../src/policy/obligations.js';

describe('readObligations', () => {
  it('reads the obligations of a permit with their defaults', () => {
    expect(readObligations('permit', { id: 'p', step_up: 'oncall' }, 3)).toEqual({
      obligations: {
        order: 3,
        maxTtlSeconds: undefined,
        stepUp: { group: 'oncall', approvals: 1, approvalTtlSeconds: 900 },
      },
      problems: [],
    });
  });

  it.each(['', '0', '-1', '1.5', '10m', ' 60', '1e3'])('rejects @max_ttl("%s")', (value) => {
    expect(readObligations('permit', { id: 'p', max_ttl: value }, 0).problems).toEqual([
      expect.stringMatching(/^@max_ttl\(".*"\) must be a whole number/),
    ]);
  });

  it('rejects an empty step-up group', () => {
    expect(readObligations('permit', { id: 'p', step_up: ' ' }, 0).problems).toEqual([
      expect.stringMatching(/@step_up needs the staff group/),
    ]);
  });
});

describe('combineObligations', () => {
  const stepUp = (group: string, approvals: number, approvalTtlSeconds: number) => ({
    group,
    approvals,
    approvalTtlSeconds,
  });

  it('is empty for permits without obligations', () => {
    expect(combineObligations([{ order: 0, maxTtlSeconds: undefined, stepUp: undefined }], false)).toEqual({
      maxTtlSeconds: undefined,
      stepUp: undefined,
    });
  });

  it('takes the smallest TTL, the most approvals, the shortest window and the first group', () => {
    const combined = combineObligations(
      [
        { order: 5, maxTtlSeconds: 600, stepUp: stepUp('late', 3, 900) },
        { order: 1, maxTtlSeconds: 300, stepUp: stepUp('early', 1, 120) },
        { order: 2, maxTtlSeconds: 900, stepUp: undefined },
      ],
      false,
    );
    expect(combined).toEqual({ maxTtlSeconds: 300, stepUp: stepUp('early', 3, 120) });
  });

  it('drops step-up once approved but keeps the TTL cap', () => {
    expect(combineObligations([{ order: 0, maxTtlSeconds: 60, stepUp: stepUp('g', 2, 900) }], true)).toEqual({
      maxTtlSeconds: 60,
      stepUp: undefined,
    });
  });
});
