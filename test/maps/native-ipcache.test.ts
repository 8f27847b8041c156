/**
 * Differential: the native ipcache (native/lpm.h via src/maps/native.ts) answers exactly as the
 * TypeScript reference (src/maps/ipcache.ts), whose semantics mirror bpf/lib/eps.h and the LPM
 * trie `cilium_ipcache_v2`: longest prefix of the same family, bits beyond a prefix ignored, a new
 * prefix in a full map fails and is counted, -1 on a miss. Random prefixes of both families and
 * every length, nested around a few bases, with replacements and deletes; lookups single, batch,
 * `lookupEntry` and `entries()`; node views over a shared map.
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Ipcache, IpcacheView } from '../../src/maps/ipcache.js';
import { NativeIpcache, NativeIpcacheView } from '../../src/maps/native.js';
import { nativeOrFail, plainEntry, rng, sameJson } from './native-helpers.js';

test('the native addon is built and loads', () => {
  const m = nativeOrFail();
  expect(typeof m.Ipcache).toBe('function');
});

const BASES4 = [0x0a000000, 0x0a000180, 0xc0a80101, 0, 0xffffffff, 0x7f000001];
const BASES6: number[][] = [
  [0xfd000000, 0, 0, 0],
  [0xfd000000, 0, 1, 0],
  [0x20010db8, 0x00010000, 0, 0x10],
  [0, 0, 0xffff, 0x0a000001],
  [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
  [0, 0, 0, 0],
];

/** An IPv4 address sharing its top `keep` bits with one of a few bases (so prefixes nest). */
const addr4 = fc
  .tuple(fc.constantFrom(...BASES4), fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }))
  .map(([b, noise, keep]) => (b ^ (keep >= 32 ? 0 : noise >>> keep)) >>> 0);

const words6 = fc
  .tuple(fc.constantFrom(...BASES6), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 128 }))
  .map(([b, noise, keep]) => {
    const w = new Uint32Array(4);
    for (let k = 0; k < 4; k++) {
      const kb = Math.max(0, Math.min(32, keep - 32 * k));
      w[k] = (b[k]! ^ (kb >= 32 ? 0 : noise[k]! >>> kb)) >>> 0;
    }
    return w;
  });

type Addr = { family: 4 | 6; words: Uint32Array };
const address: fc.Arbitrary<Addr> = fc.oneof(
  addr4.map((a) => ({ family: 4 as const, words: new Uint32Array([0, 0, 0xffff, a]) })),
  words6.map((w) => ({ family: 6 as const, words: w })),
);

const identity = fc.oneof(fc.constantFrom(1, 2, 6, 9, 10, 256, 40000, 16777217), fc.integer({ min: 0, max: 0xffffffff }));

type Op =
  | { kind: 'upsert'; a: Addr; plen: number; identity: number; tunnel: number; flags: number }
  | { kind: 'delete'; a: Addr; plen: number }
  | { kind: 'deleteEarlier'; i: number }
  | { kind: 'clear' };

const upsertOp = fc
  .tuple(address, fc.integer({ min: 0, max: 128 }), identity, fc.constantFrom(0, 0x0a000001, 0xffffffff), fc.integer({ min: 0, max: 255 }))
  .map(([a, len, id, tunnel, flags]): Op => ({ kind: 'upsert', a, plen: a.family === 4 ? len % 33 : len, identity: id, tunnel, flags }));

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: upsertOp },
  { weight: 2, arbitrary: fc.tuple(address, fc.integer({ min: 0, max: 128 })).map(([a, len]): Op => ({ kind: 'delete', a, plen: a.family === 4 ? len % 33 : len })) },
  { weight: 4, arbitrary: fc.nat().map((i): Op => ({ kind: 'deleteEarlier', i })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'clear' }) },
);

const capacity = fc.oneof(fc.constant(512_000), fc.integer({ min: 1, max: 40 }));

/** Applies one op to both maps and checks they agree on its result and counters. */
function apply(ts: Ipcache, nat: NativeIpcache, o: Op, upserted: Array<Extract<Op, { kind: 'upsert' }>>): void {
  let a: boolean;
  let b: boolean;
  if (o.kind === 'upsert') {
    a = ts.upsert(o.a.family, o.a.words, o.plen, o.identity, o.tunnel, o.flags);
    b = nat.upsert(o.a.family, o.a.words, o.plen, o.identity, o.tunnel, o.flags);
    upserted.push(o);
  } else if (o.kind === 'delete' || o.kind === 'deleteEarlier') {
    const d = o.kind === 'delete' ? o : upserted[o.i % Math.max(1, upserted.length)];
    if (!d) return;
    a = ts.delete(d.a.family, d.a.words, d.plen);
    b = nat.delete(d.a.family, d.a.words, d.plen);
  } else {
    ts.clear();
    nat.clear();
    a = b = true;
  }
  if (a !== b || ts.size !== nat.size || ts.overflow !== nat.overflow) {
    expect({ result: b, size: nat.size, overflow: nat.overflow }, JSON.stringify(o)).toEqual({ result: a, size: ts.size, overflow: ts.overflow });
  }
}

/** Every way of asking, for the given addresses. */
function compareLookups(ts: Ipcache, nat: NativeIpcache, addrs: Addr[]): void {
  const v4 = addrs.filter((x) => x.family === 4);
  const v6 = addrs.filter((x) => x.family === 6);
  for (const x of addrs) {
    sameJson(nat.lookup(x.family, x.words), ts.lookup(x.family, x.words), `lookup ${x.family} ${[...x.words]}`);
    sameJson(plainEntry(nat.lookupEntry(x.family, x.words)), plainEntry(ts.lookupEntry(x.family, x.words)), `lookupEntry ${[...x.words]}`);
    if (x.family === 4) sameJson(nat.lookup4(x.words[3]!), ts.lookup4(x.words[3]!), `lookup4 ${x.words[3]}`);
  }
  const in4 = new Uint32Array(v4.map((x) => x.words[3]!));
  const out4 = new Int32Array(in4.length);
  nat.lookupBatch4(in4, out4);
  sameJson([...out4], v4.map((x) => ts.lookup4(x.words[3]!) | 0), 'lookupBatch4');
  const in6 = new Uint32Array(v6.length * 4);
  v6.forEach((x, i) => in6.set(x.words, i * 4));
  const out6 = new Int32Array(v6.length);
  nat.lookupBatch6(in6, out6);
  sameJson([...out6], v6.map((x) => ts.lookup(6, x.words) | 0), 'lookupBatch6');
  sameJson([...nat.entries()].map(plainEntry), [...ts.entries()].map(plainEntry), 'entries');
}

describe('random operations', () => {
  test('both backends agree after every upsert, delete and clear, and on every lookup', () => {
    nativeOrFail();
    fc.assert(
      fc.property(capacity, fc.array(op, { maxLength: 220 }), fc.array(address, { minLength: 1, maxLength: 80 }), (cap, ops, probes) => {
        const ts = new Ipcache(cap);
        const nat = new NativeIpcache(cap);
        const upserted: Array<Extract<Op, { kind: 'upsert' }>> = [];
        for (const o of ops) apply(ts, nat, o, upserted);
        // Probe the stored prefixes themselves and their neighbours too.
        const extra = upserted.slice(-20).flatMap((u) => {
          const w = Uint32Array.from(u.a.words);
          const n = Uint32Array.from(w);
          n[3] = (n[3]! ^ 1) >>> 0;
          return [{ family: u.a.family, words: w }, { family: u.a.family, words: n }];
        });
        compareLookups(ts, nat, [...probes, ...extra]);
      }),
      { numRuns: 150 },
    );
  });

  test('bits beyond the prefix are ignored on upsert, delete and lookup', () => {
    nativeOrFail();
    fc.assert(
      fc.property(address, fc.integer({ min: 0, max: 128 }), address, (a, len, probe) => {
        const plen = a.family === 4 ? len % 33 : len;
        const ts = new Ipcache();
        const nat = new NativeIpcache();
        ts.upsert(a.family, a.words, plen, 77);
        nat.upsert(a.family, a.words, plen, 77);
        compareLookups(ts, nat, [a, probe]);
        const other = Uint32Array.from(a.words);
        other[3] = (other[3]! ^ 0xff) >>> 0; // host bits of most prefixes
        sameJson(nat.delete(a.family, other, plen), ts.delete(a.family, other, plen), 'delete with other host bits');
        expect(nat.size).toBe(ts.size);
      }),
      { numRuns: 300 },
    );
  });
});

describe('large maps (the length indexes, table growth, many deletes)', () => {
  test.each([
    ['IPv4, mostly /32 hosts under CIDRs of every length', 4, 30_000],
    ['IPv6, mostly /128 hosts under /48../64 and shorter prefixes', 6, 8_000],
  ])('%s', (_name, family, count) => {
    nativeOrFail();
    const next = rng(family * 7919 + count);
    const ts = new Ipcache();
    const nat = new NativeIpcache();
    const stored: Array<{ words: Uint32Array; plen: number }> = [];
    const max = family === 4 ? 32 : 128;
    const randomWords = (): Uint32Array => {
      const w = family === 4 ? new Uint32Array([0, 0, 0xffff, 0]) : new Uint32Array(4);
      const base = BASES6[next() % 3]!;
      for (let k = family === 4 ? 3 : 0; k < 4; k++) w[k] = family === 4 ? (0x0a000000 | (next() & 0x00ffffff)) >>> 0 : k < 2 ? base[k]! ^ (next() & 0xff) : next();
      return w;
    };
    for (let i = 0; i < count; i++) {
      const r = next() % 100;
      if (r < 10 && stored.length > 0) {
        const victim = stored[next() % stored.length]!;
        expect(nat.delete(family as 4 | 6, victim.words, victim.plen)).toBe(ts.delete(family as 4 | 6, victim.words, victim.plen));
        continue;
      }
      const plen = r < 80 ? max : next() % (max + 1);
      const w = randomWords();
      const id = 256 + (next() % 60_000);
      expect(nat.upsert(family as 4 | 6, w, plen, id)).toBe(ts.upsert(family as 4 | 6, w, plen, id));
      stored.push({ words: w, plen });
    }
    expect(nat.size).toBe(ts.size);
    const n = 40_000;
    const words = new Uint32Array(n * 4);
    for (let i = 0; i < n; i++) {
      const w = i % 2 === 0 && stored.length > 0 ? Uint32Array.from(stored[next() % stored.length]!.words) : randomWords();
      if (i % 3 === 0) w[3] = (w[3]! ^ (next() & 0xff)) >>> 0;
      words.set(w, i * 4);
    }
    const out = new Int32Array(n);
    let expected: number[];
    if (family === 4) {
      const a4 = new Uint32Array(n);
      for (let i = 0; i < n; i++) a4[i] = words[i * 4 + 3]!;
      nat.lookupBatch4(a4, out);
      expected = Array.from(a4, (a) => ts.lookup4(a) | 0);
    } else {
      nat.lookupBatch6(words, out);
      expected = Array.from({ length: n }, (_, i) => ts.lookup(6, words.subarray(i * 4, i * 4 + 4)) | 0);
    }
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (out[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
    sameJson([...nat.entries()].map(plainEntry), [...ts.entries()].map(plainEntry), 'entries');
  });
});

describe('IPv4 two-choice tables (native/two_choice.h: hosts and CIDRs apart, keys moved between their two buckets)', () => {
  // A few hundred addresses of one /23 and every length over them: crowded small tables, where
  // inserts move keys, walks give up and the table grows; deletes and reinserts of the same keys
  // in between. Checked after every batch of ops (single, batch, entry and dump answers).
  const universe = fc.tuple(fc.integer({ min: 0, max: 511 }), fc.oneof({ weight: 6, arbitrary: fc.constant(32) }, { weight: 2, arbitrary: fc.integer({ min: 23, max: 31 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 22 }) }));
  const op4 = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(universe, fc.integer({ min: 1, max: 0xffffffff })).map(([[a, plen], id]) => ({ kind: 'upsert' as const, a, plen, id })) },
    { weight: 2, arbitrary: universe.map(([a, plen]) => ({ kind: 'delete' as const, a, plen })) },
    { weight: 2, arbitrary: fc.nat().map((i) => ({ kind: 'deleteEarlier' as const, i })) },
  );
  test('random upserts, deletes and reinserts in crowded tables answer as TS through every growth', () => {
    nativeOrFail();
    fc.assert(
      fc.property(fc.array(fc.array(op4, { minLength: 1, maxLength: 120 }), { minLength: 1, maxLength: 8 }), (rounds) => {
        const ts = new Ipcache();
        const nat = new NativeIpcache();
        const v4 = (a: number): Uint32Array => new Uint32Array([0, 0, 0xffff, (0x0a000000 + a) >>> 0]);
        const upserted: Array<{ a: number; plen: number }> = [];
        const probes = new Uint32Array(1024 + 64);
        for (let i = 0; i < probes.length; i++) probes[i] = (0x0a000000 + (i < 1024 ? i - 256 : i * 0x01000193)) >>> 0;
        for (const ops of rounds) {
          for (const o of ops) {
            if (o.kind === 'upsert') {
              expect(nat.upsert(4, v4(o.a), o.plen, o.id)).toBe(ts.upsert(4, v4(o.a), o.plen, o.id));
              upserted.push(o);
            } else {
              const d = o.kind === 'delete' ? o : upserted[o.i % Math.max(1, upserted.length)];
              if (d) expect(nat.delete(4, v4(d.a), d.plen)).toBe(ts.delete(4, v4(d.a), d.plen));
            }
          }
          expect(nat.size).toBe(ts.size);
          const out = new Int32Array(probes.length);
          nat.lookupBatch4(probes, out);
          sameJson([...out], Array.from(probes, (a) => ts.lookup4(a) | 0), 'lookupBatch4');
          sameJson(Array.from(probes, (a) => nat.lookup4(a)), Array.from(probes, (a) => ts.lookup4(a)), 'lookup4');
          const sorted = (m: Ipcache | NativeIpcache): unknown[] => [...m.entries()].map(plainEntry).sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
          sameJson(sorted(nat), sorted(ts), 'entries');
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('dense /16s (native/lpm.h Dir24Blocks: exact lengths 17..31 per /24)', () => {
  test('CIDRs of lengths 17..31 over hosts answer as TS while /16s gain, lose and regain their blocks', () => {
    nativeOrFail();
    const next = rng(2424);
    const ts = new Ipcache();
    const nat = new NativeIpcache();
    const v4 = (a: number): Uint32Array => new Uint32Array([0, 0, 0xffff, a >>> 0]);
    const both = (f: (m: Ipcache | NativeIpcache) => boolean): void => expect(f(nat)).toBe(f(ts));
    // 20,000 hosts (past the blocks' threshold) in 10.0/16..10.7/16, and the short prefixes.
    for (let i = 0; i < 20_000; i++) {
      const a = (0x0a000000 | (next() & 0x0007ffff)) >>> 0;
      both((m) => m.upsert(4, v4(a), 32, 256 + i));
    }
    both((m) => m.upsert(4, v4(0x0a000000), 8, 3));
    both((m) => m.upsert(4, v4(0x0a000000), 14, 4));
    const cidrs: Array<{ a: number; plen: number }> = [];
    const addCidrs = (count: number, top16: number): void => {
      for (let i = 0; i < count; i++) {
        const plen = 17 + (next() % 15);
        const mask = (0xffffffff << (32 - plen)) >>> 0;
        const a = ((top16 << 16) | (next() & 0xffff)) & mask;
        both((m) => m.upsert(4, v4(a >>> 0), plen, 1000 + plen));
        cidrs.push({ a: a >>> 0, plen });
      }
    };
    // Lookups: hosts, addresses under every CIDR and random ones in the /16s.
    const check = (label: string): void => {
      const n = 6_000;
      const look = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const c = cidrs.length > 0 ? cidrs[next() % cidrs.length]! : { a: 0x0a000000, plen: 16 };
        const keep = i % 3 === 0 ? 16 : c.plen;
        look[i] = i % 5 === 4 ? (0x0a000000 | (next() & 0x000fffff)) >>> 0 : ((c.a & ((0xffffffff << (32 - keep)) >>> 0)) | (next() & (0xffffffff >>> keep))) >>> 0;
      }
      const out = new Int32Array(n);
      nat.lookupBatch4(look, out);
      let mismatches = 0;
      for (let i = 0; i < n; i++) {
        const want = ts.lookup4(look[i]!) | 0;
        if (out[i] !== want || nat.lookup4(look[i]!) !== ts.lookup4(look[i]!)) mismatches++;
      }
      expect(mismatches, label).toBe(0);
    };
    // 10.0/16 and 10.1/16 get dense, 10.2/16 stays sparse.
    addCidrs(200, 0x0a00);
    addCidrs(40, 0x0a01);
    addCidrs(5, 0x0a02);
    check('dense');
    // Most of 10.1/16's CIDRs go (its block is dropped), some of 10.0/16's: bits cleared.
    for (let i = cidrs.length - 1; i >= 0; i--) {
      const c = cidrs[i]!;
      const top = c.a >>> 16;
      if ((top === 0x0a01 && i % 8 !== 0) || (top === 0x0a00 && i % 3 === 0)) {
        both((m) => m.delete(4, v4(c.a), c.plen));
        cidrs.splice(i, 1);
      }
    }
    check('after deletes');
    // 10.1/16 regains a block, built from the table and the counts.
    addCidrs(60, 0x0a01);
    check('dense again');
    sameJson([...nat.entries()].map(plainEntry), [...ts.entries()].map(plainEntry), 'entries');
    // Cleared and refilled: the blocks are rebuilt from nothing (sparse /16s read the all-zero
    // block 0 again, which a clear frees with the rest).
    const kept = [...ts.entries()].map((e) => ({ family: e.family, words: [...e.words], plen: e.prefixLen, identity: e.identity }));
    for (const m of [ts, nat]) m.clear();
    check('cleared');
    for (const e of kept) both((m) => m.upsert(e.family, e.words, e.plen, e.identity));
    check('refilled');
    sameJson([...nat.entries()].map(plainEntry), [...ts.entries()].map(plainEntry), 'entries after refill');
  });
});

describe('capacity and overflow, as the TypeScript map', () => {
  test('a new prefix in a full map fails, is counted and replaces nothing; updates still work', () => {
    nativeOrFail();
    for (const make of [(c: number) => new Ipcache(c), (c: number) => new NativeIpcache(c)]) {
      const cache = make(2);
      const v4 = (a: number) => new Uint32Array([0, 0, 0xffff, a]);
      expect(cache.upsert(4, v4(0x0a000001), 32, 1)).toBe(true);
      expect(cache.upsert(6, new Uint32Array([0xfd000000, 0, 0, 1]), 128, 2)).toBe(true);
      expect(cache.upsert(4, v4(0x0a000002), 32, 3)).toBe(false);
      expect(cache.upsert(4, v4(0), 0, 9)).toBe(false);
      expect(cache.upsert(4, v4(0x0a000001), 32, 5)).toBe(true);
      expect([cache.size, cache.overflow, cache.lookup4(0x0a000001), cache.lookup4(0x0a000002)]).toEqual([2, 2, 5, -1]);
      expect(cache.delete(4, v4(0x0a000001), 32)).toBe(true);
      expect(cache.upsert(4, v4(0x0a000002), 32, 3)).toBe(true);
      cache.clear();
      expect([cache.size, cache.overflow]).toEqual([0, 0]);
    }
  });

  test('onChange is called after the same operations', () => {
    nativeOrFail();
    const calls: string[][] = [[], []];
    const maps = [new Ipcache(1), new NativeIpcache(1)];
    maps.forEach((m, i) => (m.onChange = () => calls[i]!.push('change')));
    for (const m of maps) {
      const w = new Uint32Array([0, 0, 0xffff, 0x0a000001]);
      m.upsert(4, w, 32, 1);
      m.upsert(4, new Uint32Array([0, 0, 0xffff, 2]), 32, 1); // full: no change
      m.delete(4, w, 24); // absent: no change
      m.delete(4, w, 32);
      m.clear();
    }
    expect(calls[1]).toEqual(calls[0]);
    expect(calls[0]!.length).toBe(3);
  });

  test.each([
    ['family 5', () => [5, new Uint32Array(4), 0, 1]],
    ['three words', () => [4, new Uint32Array(3), 0, 1]],
    ['IPv4 /33', () => [4, new Uint32Array(4), 33, 1]],
    ['IPv6 /129', () => [6, new Uint32Array(4), 129, 1]],
    ['a fractional length', () => [4, new Uint32Array(4), 8.5, 1]],
    ['a negative identity', () => [4, new Uint32Array(4), 8, -1]],
    ['an identity beyond u32', () => [4, new Uint32Array(4), 8, 2 ** 32]],
  ])('bad arguments throw the same RangeError: %s', (_name, args) => {
    nativeOrFail();
    const [family, words, plen, id] = args() as [4 | 6, Uint32Array, number, number];
    const msg = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
      return 'no error';
    };
    const a = msg(() => new Ipcache().upsert(family, words, plen, id));
    expect(a).toMatch(/^RangeError/);
    expect(msg(() => new NativeIpcache().upsert(family, words, plen, id))).toBe(a);
  });

  test('the memory is the addon\'s own: a bigger map reports more bytes', () => {
    const m = nativeOrFail();
    const before = m.bytesAllocated();
    const nat = new NativeIpcache();
    for (let i = 0; i < 10_000; i++) nat.upsert(4, new Uint32Array([0, 0, 0xffff, 0x0a000000 + i]), 32, 300);
    expect(nat.bytesAllocated()).toBeGreaterThan(10_000 * 16);
    expect(nat.bytesAllocated()).toBeLessThan(10_000 * 64 + 300_000);
    expect(m.bytesAllocated() - before).toBeGreaterThanOrEqual(nat.bytesAllocated());
  });
});

describe('node views', () => {
  test('a native view answers as IpcacheView over the same shared and local entries', () => {
    nativeOrFail();
    fc.assert(
      fc.property(fc.array(upsertOp, { maxLength: 120 }), fc.array(upsertOp, { maxLength: 30 }), fc.array(address, { minLength: 1, maxLength: 60 }), (sharedOps, localOps, probes) => {
        const tsShared = new Ipcache();
        const tsLocal = new Ipcache(64);
        const natShared = new NativeIpcache();
        const natLocal = new NativeIpcache(64);
        const sink: Array<Extract<Op, { kind: 'upsert' }>> = [];
        for (const o of sharedOps) apply(tsShared, natShared, o, sink);
        for (const o of localOps) apply(tsLocal, natLocal, o, sink);
        const tv = new IpcacheView(tsShared, tsLocal);
        const nv = new NativeIpcacheView(natShared, natLocal);
        const all = [...probes, ...sink.map((u) => u.a)];
        for (const x of all) {
          sameJson(nv.lookup(x.family, x.words), tv.lookup(x.family, x.words), `view lookup ${[...x.words]}`);
          sameJson(plainEntry(nv.lookupEntry(x.family, x.words)), plainEntry(tv.lookupEntry(x.family, x.words)), 'view lookupEntry');
          if (x.family === 4) sameJson(nv.lookup4(x.words[3]!), tv.lookup4(x.words[3]!), 'view lookup4');
        }
        const v4 = all.filter((x) => x.family === 4);
        const in4 = new Uint32Array(v4.map((x) => x.words[3]!));
        const out4 = new Int32Array(in4.length);
        nv.lookupBatch4(in4, out4);
        sameJson([...out4], v4.map((x) => tv.lookup4(x.words[3]!) | 0), 'view lookupBatch4');
        const v6 = all.filter((x) => x.family === 6);
        const in6 = new Uint32Array(v6.length * 4);
        v6.forEach((x, i) => in6.set(x.words, i * 4));
        const out6 = new Int32Array(v6.length);
        nv.lookupBatch6(in6, out6);
        sameJson([...out6], v6.map((x) => tv.lookup(6, x.words) | 0), 'view lookupBatch6');
        sameJson([...nv.entries()].map(plainEntry), [...tv.entries()].map(plainEntry), 'view entries');
      }),
      { numRuns: 120 },
    );
  });

  test('batch arguments that do not fit are refused before the addon sees them', () => {
    nativeOrFail();
    const nat = new NativeIpcache();
    expect(() => nat.lookupBatch4(new Uint32Array(4), new Int32Array(2), 4)).toThrow(RangeError);
    expect(() => nat.lookupBatch6(new Uint32Array(7), new Int32Array(2), 2)).toThrow(RangeError);
    expect(() => nat.lookupBatch4(new Uint32Array(4), new Int32Array(4), -1)).toThrow(RangeError);
  });
});
