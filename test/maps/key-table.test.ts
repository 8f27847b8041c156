/**
 * The typed-array hash table under the TS maps: random inserts, replacements and deletes
 * (backward-shift deletion, growth) must keep it equal to a JS Map, for every key width.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { KeyTable, type KeyWidth } from '../../src/maps/key-table.js';

// A tiny key domain so that probe runs overlap and deletions have to shift.
const word = fc.constantFrom(0, 1, 2, 0xffffffff, 0x80000000, 12345);

describe.each<[KeyWidth]>([[1], [2], [4]])('width %d', (width) => {
  test('behaves as a Map under random operations', () => {
    const keyArb = fc.tuple(word, word, word, word).map((k) => k.slice(0, width) as number[]);
    const opArb = fc.tuple(fc.constantFrom('set', 'set', 'delete'), keyArb, fc.nat(1000));
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200, size: 'max' }), (ops) => {
        const t = new KeyTable(width);
        const model = new Map<string, number>();
        for (const [kind, key, v] of ops) {
          const [a = 0, b = 0, c = 0, d = 0] = key;
          const k = key.join(',');
          const before = model.get(k) ?? -1;
          const ret = kind === 'set' ? t.set(v, a, b, c, d) : t.delete(a, b, c, d);
          if (kind === 'set') model.set(k, v);
          else model.delete(k);
          if (ret !== before || t.size !== model.size) expect([kind, k, ret, t.size]).toEqual([kind, k, before, model.size]);
        }
        const got: Array<[string, number, number]> = [];
        const want: Array<[string, number, number]> = [];
        for (const [k, v] of model) {
          const [a = 0, b = 0, c = 0, d = 0] = k.split(',').map(Number);
          const fast = width === 1 ? t.get1(a) : width === 2 ? t.get2(a, b) : t.get4(a, b, c, d);
          got.push([k, t.get(a, b, c, d), fast]);
          want.push([k, v, v]);
        }
        expect(got).toEqual(want);
        const seen: number[] = [];
        t.forEachSlot((s) => seen.push(s));
        expect(seen.sort()).toEqual([...model.values()].sort());
      }),
      { numRuns: 200 },
    );
  });
});

test('many keys with deletes in between keep every lookup right', () => {
  const t = new KeyTable(1);
  for (let i = 0; i < 5000; i++) t.set(i, Math.imul(i, 2654435761) >>> 0);
  for (let i = 0; i < 5000; i += 3) t.delete(Math.imul(i, 2654435761) >>> 0);
  const wrong: number[] = [];
  for (let i = 0; i < 5000; i++) if (t.get1(Math.imul(i, 2654435761) >>> 0) !== (i % 3 === 0 ? -1 : i)) wrong.push(i);
  expect(wrong).toEqual([]);
  expect(t.size).toBe(5000 - 1667);
  expect(t.buckets).toBeGreaterThanOrEqual(2 * t.size);
});
