/**
 * The length indexes behind large ipcaches: after any sequence of adds and removes, each mask
 * holds exactly the lengths that some stored prefix has there (a missing bit would make a
 * lookup skip a prefix; a stale one would only cost probes, but the indexes claim exactness).
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { Dir16LengthIndex, Word0LengthIndex } from '../../src/maps/length-index.js';

function mask32(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

test('Dir16LengthIndex masks are exactly the lengths covering each top-16 value', () => {
  const prefix = fc.tuple(
    fc.constantFrom(0x0a000000, 0x0a010000, 0xc0a80000, 0xffff0000),
    fc.integer({ min: 0, max: 0xffff }),
    fc.oneof(fc.integer({ min: 1, max: 32 }), fc.constantFrom(8, 16, 20, 24)),
  );
  fc.assert(
    // Ops pick from a small pool so that removes hit stored prefixes and lengths share tops.
    fc.property(fc.array(prefix, { minLength: 1, maxLength: 10 }), fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 60, size: 'max' }), (pool, ops) => {
      const index = new Dir16LengthIndex();
      const model = new Map<string, [number, number]>();
      for (const [add, pick] of ops) {
        const [base, r, len] = pool[pick % pool.length]!;
        const value = ((base ^ r) & mask32(len)) >>> 0;
        const key = `${value}/${len}`;
        if (add && !model.has(key)) {
          model.set(key, [value, len]);
          index.add(value, len);
        } else if (!add && model.delete(key)) index.remove(value, len);
      }
      const expected = new Uint32Array(65536);
      for (const [value, len] of model.values()) {
        const top = value >>> 16;
        const span = len >= 16 ? 1 : 1 << (16 - len);
        for (let i = top; i < top + span; i++) expected[i] = (expected[i]! | (1 << (len - 1))) >>> 0;
      }
      const diff: number[] = [];
      for (let i = 0; i < 65536; i++) if (index.masks[i] !== expected[i]) diff.push(i);
      expect(diff).toEqual([]);
    }),
    { numRuns: 100 },
  );
});

test('Word0LengthIndex masks are exactly the lengths present under each word 0', () => {
  const entry = fc.tuple(fc.constantFrom(0xfd000000, 0x20010db8, 0), fc.oneof(fc.integer({ min: 33, max: 128 }), fc.constantFrom(64, 128)), fc.integer({ min: 0, max: 3 }));
  fc.assert(
    fc.property(fc.array(entry, { minLength: 1, maxLength: 10 }), fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 60, size: 'max' }), (pool, ops) => {
      const index = new Word0LengthIndex();
      const model = new Map<string, [number, number]>();
      for (const [add, pick] of ops) {
        const [w0, len, tag] = pool[pick % pool.length]!;
        const key = `${w0}/${len}/${tag}`; // tag: distinct prefixes of the same length
        if (add && !model.has(key)) {
          model.set(key, [w0, len]);
          index.add(w0, len);
        } else if (!add && model.delete(key)) index.remove(w0, len);
      }
      for (const w0 of [0xfd000000, 0x20010db8, 0]) {
        const lens = [...model.values()].filter(([w]) => w === w0).map(([, l]) => l);
        const g = index.group(w0);
        if (lens.length === 0) {
          expect(g).toBe(-1);
          continue;
        }
        const got: number[] = [];
        for (let k = 0; k < 3; k++) for (let b = 0; b < 32; b++) if ((index.masks[g * 3 + k]! >>> b) & 1) got.push(33 + 32 * k + b);
        expect(got).toEqual([...new Set(lens)].sort((a, b) => a - b));
      }
    }),
    { numRuns: 200 },
  );
});
