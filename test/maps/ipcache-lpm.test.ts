/**
 * The ipcache as an LPM map (bpf/lib/eps.h `ipcache_lookup4/6`, the LPM trie `cilium_ipcache_v2`):
 * the longest stored prefix of the same family covering the address answers; the family is part
 * of the key (so 0.0.0.0/0 never answers an IPv6 lookup); host bits are ignored; delete removes
 * exactly one prefix. Checked against a brute-force reference with random prefixes of both
 * families.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { IPCACHE_STATIC_PREFIX, Ipcache, kernelIpcachePrefixLen, type IpcacheEntry } from '../../src/maps/ipcache.js';
import { ipv4Words, maskWords } from '../../src/net/addr.js';
import { del, ip, ipv4Number, lookupText, put, refIpcacheLookup } from './builders.js';

describe('longest prefix', () => {
  const cache = new Ipcache();
  put(cache, '0.0.0.0/0', 9);
  put(cache, '10.0.0.0/8', 16777217);
  put(cache, '10.0.1.0/24', 16777218);
  put(cache, '10.0.1.5/32', 40000);
  put(cache, '::/0', 10);
  put(cache, 'fd00::/8', 16777219);
  put(cache, 'fd00:0:0:1::/64', 16777220);
  put(cache, 'fd00:0:0:1::5/128', 40001);
  put(cache, '::ffff:0:0/96', 16777221);

  test.each([
    ['a host entry beats every covering prefix', '10.0.1.5', 40000],
    ['the /24 covers its other hosts', '10.0.1.6', 16777218],
    ['the /8 covers the rest of 10/8', '10.200.0.1', 16777217],
    ['0.0.0.0/0 answers everything else in IPv4', '192.0.2.1', 9],
    ['an IPv6 host entry beats its /64', 'fd00:0:0:1::5', 40001],
    ['the /64 covers its other hosts', 'fd00:0:0:1::6', 16777220],
    ['the /8 covers the rest of fd00::/8', 'fd12::1', 16777219],
    ['::/0 answers everything else in IPv6', '2001:db8::1', 10],
    ['an IPv6 address in ::ffff:0:0/96 is IPv6, not IPv4', '::ffff:10.0.1.5', 16777221],
  ])('%s', (_rule, addr, identity) => {
    expect(lookupText(cache, addr)).toBe(identity);
  });

  test('lookup4 takes the address as a u32', () => {
    expect(cache.lookup4(ipv4Number('10.0.1.5'))).toBe(40000);
    expect(cache.lookup4(0xffffffff)).toBe(9);
  });

  test('lookupEntry reports the matching prefix', () => {
    const e = cache.lookupEntry(4, ip('10.0.1.77').words);
    expect(e).toMatchObject({ family: 4, prefixLen: 24, identity: 16777218, tunnelEndpoint: 0, flags: 0 });
    expect([...e!.words]).toEqual([0, 0, 0xffff, ipv4Number('10.0.1.0')]);
  });
});

describe('key semantics', () => {
  test('nothing matches: -1 (the datapath then uses the world identity)', () => {
    const cache = new Ipcache();
    put(cache, '10.0.0.0/8', 5);
    expect(lookupText(cache, '11.0.0.1')).toBe(-1);
    expect(lookupText(cache, 'fd00::1')).toBe(-1);
    expect(cache.lookupEntry(4, ip('11.0.0.1').words)).toBeUndefined();
  });

  test('the family is part of the key: 0.0.0.0/0 never answers IPv6, ::/0 never IPv4', () => {
    const cache = new Ipcache();
    put(cache, '0.0.0.0/0', 9);
    expect(lookupText(cache, '::1')).toBe(-1);
    const other = new Ipcache();
    put(other, '::/0', 10);
    expect(lookupText(other, '1.2.3.4')).toBe(-1);
  });

  test('host bits beyond the prefix are ignored on upsert, delete and in entries', () => {
    const cache = new Ipcache();
    expect(cache.upsert(4, ipv4Words(ipv4Number('10.1.2.3')), 16, 7)).toBe(true);
    expect(cache.upsert(4, ipv4Words(ipv4Number('10.1.9.9')), 16, 8)).toBe(true);
    expect(cache.size).toBe(1);
    expect(lookupText(cache, '10.1.200.1')).toBe(8);
    expect([...cache.entries()].map((e) => [e.words[3], e.prefixLen])).toEqual([[ipv4Number('10.1.0.0'), 16]]);
    expect(cache.delete(4, ipv4Words(ipv4Number('10.1.255.255')), 16)).toBe(true);
    expect(cache.size).toBe(0);
  });

  test('an upsert replaces the value of an existing prefix', () => {
    const cache = new Ipcache();
    put(cache, '10.0.0.1/32', 1);
    cache.upsert(4, ip('10.0.0.1').words, 32, 6, ipv4Number('192.168.0.1'), 2);
    expect(cache.size).toBe(1);
    expect(cache.lookupEntry(4, ip('10.0.0.1').words)).toMatchObject({ identity: 6, tunnelEndpoint: ipv4Number('192.168.0.1'), flags: 2 });
  });

  test('delete removes exactly one prefix and longer/shorter ones keep answering', () => {
    const cache = new Ipcache();
    put(cache, '10.0.0.0/8', 1);
    put(cache, '10.0.0.0/16', 2);
    put(cache, '10.0.0.1/32', 3);
    expect(del(cache, '10.0.0.0/16')).toBe(true);
    expect(del(cache, '10.0.0.0/16')).toBe(false);
    expect(del(cache, '10.0.0.0/24')).toBe(false);
    expect(lookupText(cache, '10.0.0.1')).toBe(3);
    expect(lookupText(cache, '10.0.0.2')).toBe(1);
    expect(del(cache, '10.0.0.1/32')).toBe(true);
    expect(lookupText(cache, '10.0.0.1')).toBe(1);
    expect(del(cache, '10.0.0.0/8')).toBe(true);
    expect(lookupText(cache, '10.0.0.1')).toBe(-1);
    expect(cache.size).toBe(0);
  });

  test('the kernel prefix length counts 32 static bits first', () => {
    expect(IPCACHE_STATIC_PREFIX).toBe(32);
    expect(kernelIpcachePrefixLen(32)).toBe(64);
    expect(kernelIpcachePrefixLen(128)).toBe(160);
    expect(kernelIpcachePrefixLen(0)).toBe(32);
  });

  test.each([
    ['a family other than 4 or 6', () => new Ipcache().upsert(5 as 4, [0, 0, 0xffff, 1], 32, 1)],
    ['an IPv4 prefix over 32', () => new Ipcache().upsert(4, [0, 0, 0xffff, 1], 33, 1)],
    ['an IPv6 prefix over 128', () => new Ipcache().upsert(6, [0, 0, 0, 1], 129, 1)],
    ['a negative identity', () => new Ipcache().upsert(4, [0, 0, 0xffff, 1], 32, -1)],
    ['an address that is not four words', () => new Ipcache().upsert(4, [1], 32, 1)],
  ])('refuses %s', (_what, fn) => {
    expect(fn).toThrow(RangeError);
  });
});

// Random prefixes drawn around a few bases, so that they nest and overlap.
const v4Base = fc.constantFrom<number>(0x0a000000, 0x0a000100, 0x0a000105, 0xc0a80000, 0xffffffff, 0);
const v4Addr = fc.tuple(v4Base, fc.integer({ min: 0, max: 0xffff }), fc.boolean()).map(([b, r, flip]) => (flip ? (b ^ r) >>> 0 : b));
const v6Base = fc.constantFrom([0xfd000000, 0, 1, 5], [0xfd000000, 0, 0, 0], [0x20010db8, 0, 0, 1], [0, 0, 0xffff, 0x0a000105], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
const v6Addr = fc.tuple(v6Base, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 0xffff })).map(([b, w, r]) => {
  const out: number[] = [...b];
  out[w] = (out[w]! ^ r) >>> 0;
  return out;
});
const prefixArb = fc.oneof(
  fc.record({ family: fc.constant(4 as const), words: v4Addr.map((a) => Array.from(ipv4Words(a))), prefixLen: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ family: fc.constant(6 as const), words: v6Addr, prefixLen: fc.integer({ min: 0, max: 128 }) }),
);
const addrArb = fc.oneof(
  v4Addr.map((a) => ({ family: 4 as const, words: Array.from(ipv4Words(a)) })),
  v6Addr.map((w) => ({ family: 6 as const, words: w })),
);

function keyOf(family: number, words: ArrayLike<number>, prefixLen: number): string {
  return `${family}|${Array.from(maskWords(Uint32Array.from(words), family as 4 | 6, prefixLen)).join(',')}|${prefixLen}`;
}

describe.each([
  ['a small map (lengths probed from a list)', 0],
  ['a large map (lengths from the length indexes)', 200],
])('against a brute-force reference: %s', (_name, prefill) => {
  test('random upserts and deletes of both families give identical answers to random lookups', () => {
    const opArb = fc.tuple(fc.constantFrom('upsert', 'upsert', 'upsert', 'delete'), prefixArb, fc.integer({ min: 1, max: 0xffffff }));
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80, size: 'max' }), fc.array(addrArb, { minLength: 1, maxLength: 60, size: 'max' }), (ops, lookups) => {
        const cache = new Ipcache();
        const model = new Map<string, IpcacheEntry>();
        // Unrelated entries (100.64.0.0/24, 3fff::/16) push both families over the index threshold.
        for (let i = 0; i < prefill; i++) {
          const words = ipv4Words(0x64400000 + i);
          cache.upsert(4, words, 32, 7);
          model.set(keyOf(4, words, 32), { family: 4, words, prefixLen: 32, identity: 7, tunnelEndpoint: 0, flags: 0 });
          const len = [128, 64, 48, 24][i % 4]!;
          const w6 = maskWords(Uint32Array.of(0x3fff0000 + (i >> 2), i, 0, i), 6, len);
          if (!cache.upsert(6, w6, len, 8)) expect.fail('prefill refused');
          model.set(keyOf(6, w6, len), { family: 6, words: w6, prefixLen: len, identity: 8, tunnelEndpoint: 0, flags: 0 });
        }
        for (const [kind, p, identity] of ops) {
          const key = keyOf(p.family, p.words, p.prefixLen);
          if (kind === 'upsert') {
            if (!cache.upsert(p.family, p.words, p.prefixLen, identity)) expect.fail('upsert refused');
            const words = maskWords(Uint32Array.from(p.words), p.family, p.prefixLen);
            model.set(key, { family: p.family, words, prefixLen: p.prefixLen, identity, tunnelEndpoint: 0, flags: 0 });
          } else {
            const had = model.delete(key);
            if (cache.delete(p.family, p.words, p.prefixLen) !== had) expect.fail(`delete ${key}: expected ${had}`);
          }
          if (cache.size !== model.size) expect(cache.size).toBe(model.size);
        }
        const got: unknown[] = [];
        const want: unknown[] = [];
        const extra = [
          { family: 4 as const, words: Array.from(ipv4Words(0x64400005)) },
          { family: 6 as const, words: [0x3fff0001, 5, 0, 5] },
          { family: 6 as const, words: [0x3fff0001, 4, 0, 9] },
        ];
        for (const a of [...lookups, ...extra]) {
          const ref = refIpcacheLookup(model.values(), a.family, a.words);
          const id = ref ? ref.identity : -1;
          got.push(cache.lookup(a.family, a.words), cache.lookupEntry(a.family, a.words), a.family === 4 ? cache.lookup4(a.words[3]!) : id);
          want.push(id, ref, id);
        }
        expect(got).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  test('deleting every prefix leaves nothing that matches', () => {
    const cache = new Ipcache();
    const prefixes: Array<[number, number]> = [];
    for (let i = 0; i < prefill + 40; i++) prefixes.push([(Math.imul(i + 1, 0x9e3779b1) >>> 0) & 0xfffffff0, [0, 4, 8, 15, 16, 17, 24, 28, 31, 32][i % 10]!]);
    const v6 = (a: number, p: number) => [a, a ^ 0x5555, p, 1];
    for (const [a, p] of prefixes) {
      cache.upsert(4, ipv4Words(a), p, 1);
      cache.upsert(6, v6(a, p), p * 4, 2);
    }
    for (const [a, p] of prefixes) {
      expect(cache.lookup4(a)).toBe(1);
      expect(cache.lookup(6, v6(a, p))).toBe(2);
    }
    for (const [a, p] of prefixes) {
      cache.delete(4, ipv4Words(a), p);
      cache.delete(6, v6(a, p), p * 4);
    }
    expect(cache.size).toBe(0);
    for (const [a, p] of prefixes) {
      expect(cache.lookup4(a)).toBe(-1);
      expect(cache.lookup(6, v6(a, p))).toBe(-1);
    }
  });
});
