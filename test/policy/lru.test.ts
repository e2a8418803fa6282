// The decision cache's storage: never more entries than its capacity, and the entry evicted is
// always the one used least recently.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Lru } from '../../src/policy/lru.js';

describe('Lru', () => {
  it('evicts the least recently used entry', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
    expect(lru.size).toBe(2);
  });

  it('capacity 0 stores nothing, and a negative or fractional capacity is refused', () => {
    const off = new Lru<string, number>(0);
    off.set('a', 1);
    expect(off.get('a')).toBeUndefined();
    expect(off.size).toBe(0);
    expect(() => new Lru(-1)).toThrow(RangeError);
    expect(() => new Lru(1.5)).toThrow(RangeError);
  });

  it('never holds more than its capacity and always keeps the most recently used entries', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
        const lru = new Lru<number, number>(capacity);
        // The model: keys in order of use, most recent last.
        let model: number[] = [];
        for (const { kind, key } of ops) {
          if (kind === 'set') {
            lru.set(key, key * 10);
            if (capacity > 0) model = [...model.filter((k) => k !== key), key].slice(-capacity);
          } else {
            const present = model.includes(key);
            expect(lru.get(key)).toBe(present ? key * 10 : undefined);
            if (present) model = [...model.filter((k) => k !== key), key];
          }
          expect(lru.size).toBeLessThanOrEqual(capacity);
          expect(lru.size).toBe(model.length);
        }
      }),
    );
  });
});
