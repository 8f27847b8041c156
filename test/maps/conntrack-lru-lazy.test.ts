/**
 * The LRU order is only built when a table first evicts (src/maps/conntrack.ts: use stamps on
 * the chain heads until then). It must evict exactly as an LRUCache kept from the start: two
 * tables, one of each kind, driven by the same random creates, lookups in both directions,
 * deletes, ICMP traffic (RELATED entries in the non-TCP table) and clock jumps, with colliding
 * keys (2-bit hashes: chains whose head changes) and both recency resolutions, answer every
 * lookup with the same connection and count the same evictions and expiries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conntrack, CtDir, type CtEntry } from '../../src/maps/conntrack.js';
import { ICMP, TCP, UDP, checkInvariants, reversed, tup } from './conntrack-helpers.js';

const T0 = 1_700_000_000;

describe('LRU built at the first eviction', () => {
  it('evicts as an LRU kept from the start (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), flow: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('lookup' as const), flow: fc.integer({ min: 0, max: 15 }), reply: fc.boolean() }),
      fc.record({ kind: fc.constant('delete' as const), flow: fc.integer({ min: 0, max: 15 }) }),
      fc.record({ kind: fc.constant('wait' as const), seconds: fc.constantFrom(0.2, 0.7, 2, 45) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 2, max: 8 }),
        fc.constantFrom(2, 31),
        fc.constantFrom(0, 1),
        fc.array(op, { maxLength: 80 }),
        (tcpMax, anyMax, hashBits, lruResolutionSec, ops) => {
          const lazy = new Conntrack({ tcpMax, anyMax, hashBits, lruResolutionSec });
          const eager = new Conntrack({ tcpMax, anyMax, hashBits, lruResolutionSec, eagerLru: true });
          // Flows over a few address pairs, TCP, UDP and ICMP echo, so RELATED pair entries are
          // shared and compete with the non-TCP connections.
          const flows = Array.from({ length: 16 }, (_, i) =>
            tup(`10.0.${i % 5}.1`, i % 3 === 2 ? 0 : 1000 + i, '10.1.0.1', i % 3 === 2 ? 0 : 80, i % 3 === 0 ? TCP : i % 3 === 1 ? UDP : ICMP),
          );
          const live: Array<[CtEntry | null, CtEntry | null]> = flows.map(() => [null, null]);
          let now = T0;
          for (const o of ops) {
            if (o.kind === 'wait') {
              now += o.seconds;
              continue;
            }
            now += 0.05;
            const t = flows[o.flow]!;
            if (o.kind === 'create') {
              const a = lazy.create(t, now);
              const b = eager.create(t, now);
              lazy.touch(a, CtDir.FORWARD, 0x02, 60, now);
              eager.touch(b, CtDir.FORWARD, 0x02, 60, now);
              live[o.flow] = [a, b];
            } else if (o.kind === 'delete') {
              const [a, b] = live[o.flow]!;
              if (a && b) {
                lazy.delete(a);
                eager.delete(b);
              }
            } else {
              const q = o.reply ? reversed(t) : t;
              const a = lazy.lookup(q, now, 0x10);
              const b = eager.lookup(q, now, 0x10);
              expect(a?.id ?? 0).toBe(b?.id ?? 0);
              expect(lazy.lastDir).toBe(eager.lastDir);
            }
            expect([lazy.tcpSize, lazy.anySize, lazy.relatedSize, lazy.evictions, lazy.expired]).toEqual([
              eager.tcpSize,
              eager.anySize,
              eager.relatedSize,
              eager.evictions,
              eager.expired,
            ]);
          }
          const ids = (ct: Conntrack): number[] => [...ct.entries()].map((e) => e.id * 2 + (e.conn === null ? 0 : 1)).sort((x, y) => x - y);
          expect(ids(lazy)).toEqual(ids(eager));
          checkInvariants(lazy);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('a chain keeps its key\'s place', () => {
  it('when its head leaves, the next entry takes over the key\'s recency, not its own older one', () => {
    // Flows on three keys (2-bit hashes): a, b, e share key K; c, d share K'; x, y a third.
    const probe = new Conntrack({ hashBits: 2 });
    const byKey = new Map<number, ReturnType<typeof tup>[]>();
    for (let i = 0; i < 64; i++) {
      const t = tup('10.0.0.1', 2000 + i, '10.0.0.2', 80);
      const key = probe.create(t, T0).key;
      byKey.set(key, [...(byKey.get(key) ?? []), t]);
    }
    const [k1, k2, k3] = [...byKey.values()].filter((l) => l.length >= 3);
    const [a, b, e] = k1!;
    const [c, d] = k2!;
    const [x, y] = k3!; // a third key for the last two connections
    for (const eagerLru of [false, true]) {
      const ct = new Conntrack({ tcpMax: 4, hashBits: 2, lruResolutionSec: 0, eagerLru });
      const ea = ct.create(a!, T0 + 1); // K used at 1
      const ec = ct.create(c!, T0 + 2); // K' used at 2
      const eb = ct.create(b!, T0 + 3); // K used at 3: chain b -> a
      ct.create(d!, T0 + 4); // K' used at 4: chain d -> c (4 entries, full)
      ct.lookup(b!, T0 + 5); // K used at 5
      ct.lookup(d!, T0 + 6); // K' used at 6
      ct.lookup(b!, T0 + 7); // K used at 7: K' is now the least recently used key
      ct.delete(eb); // K's head leaves; a heads K, which stays used at 7
      ct.create(e!, T0 + 8); // K used at 8 (3 entries again)
      ct.delete(ct.lookup(e!, T0 + 8)!); // 2 entries: a (K, used 8) and c, d (K', used 6)
      ct.create(x!, T0 + 9);
      ct.create(y!, T0 + 10); // full: K' (c, d) goes first, K (a) was used later
      expect([ea.inTable, ec.inTable], `eagerLru ${eagerLru}`).toEqual([true, false]);
    }
  });
});
