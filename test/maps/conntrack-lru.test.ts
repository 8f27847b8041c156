/**
 * Conntrack tables at capacity: least-recently-used eviction per table, as Cilium's
 * BPF_MAP_TYPE_LRU_HASH conntrack maps (bpf/lib/conntrack_map.h) sized by
 * `--bpf-ct-global-tcp-max` / `--bpf-ct-global-any-max`; lookups count as use. The RELATED
 * entries `ct_create4/6` writes live in the non-TCP table and compete for it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conntrack, DEFAULT_CT_ANY_MAX, DEFAULT_CT_TCP_MAX } from '../../src/maps/conntrack.js';
import { UDP, checkInvariants, open, reversed, tup } from './conntrack-helpers.js';

const T0 = 1_700_000_000;

describe('LRU eviction', () => {
  it("defaults to Cilium's table sizes", () => {
    const ct = new Conntrack();
    expect([ct.tcpMax, ct.anyMax]).toEqual([DEFAULT_CT_TCP_MAX, DEFAULT_CT_ANY_MAX]);
    expect([DEFAULT_CT_TCP_MAX, DEFAULT_CT_ANY_MAX]).toEqual([524_288, 262_144]);
  });

  it('evicts the least recently used connection, and counts it', () => {
    const ct = new Conntrack({ tcpMax: 3 });
    const t = [1, 2, 3, 4].map((i) => tup('10.0.0.1', 1000 + i, '10.0.0.2', 80));
    const a = open(ct, t[0]!, T0);
    const b = open(ct, t[1]!, T0 + 2);
    const c = open(ct, t[2]!, T0 + 4);
    expect(ct.lookup(reversed(t[0]!), T0 + 6)).toBe(a); // a reply counts as use
    const d = open(ct, t[3]!, T0 + 8);
    expect(ct.evictions).toBe(1);
    expect(ct.tcpSize).toBe(3);
    expect(b.inTable).toBe(false);
    expect(ct.lookup(t[1]!, T0 + 8)).toBeNull();
    for (const [tt, e] of [
      [t[0]!, a],
      [t[2]!, c],
      [t[3]!, d],
    ] as const) {
      expect(ct.lookup(tt, T0 + 8)).toBe(e);
    }
    checkInvariants(ct);
  });

  it('an expired entry reaching the LRU end is counted as expired, not evicted', () => {
    const ct = new Conntrack({ tcpMax: 2 });
    open(ct, tup('10.0.0.1', 1, '10.0.0.2', 80), T0); // SYN only: gone after T0 + 60
    open(ct, tup('10.0.0.1', 2, '10.0.0.2', 80), T0 + 100);
    open(ct, tup('10.0.0.1', 3, '10.0.0.2', 80), T0 + 101);
    expect([ct.evictions, ct.expired, ct.tcpSize]).toEqual([0, 1, 2]);
  });

  it('RELATED entries of TCP connections fill the non-TCP table, as in Cilium', () => {
    const ct = new Conntrack({ anyMax: 2 });
    const conns = ['10.0.0.2', '10.0.0.3', '10.0.0.4'].map((dst, i) => open(ct, tup('10.0.0.1', 4000, dst, 80), T0 + i * 2));
    expect([ct.tcpSize, ct.anySize, ct.relatedSize, ct.evictions]).toEqual([3, 2, 2, 1]);
    // Every TCP connection is still tracked; the oldest pair lost its RELATED entry.
    conns.forEach((e, i) => expect(ct.lookup(tup('10.0.0.1', 4000, ['10.0.0.2', '10.0.0.3', '10.0.0.4'][i]!, 80), T0 + 5)).toBe(e));
    checkInvariants(ct);
  });

  it('a new non-TCP connection may push out an older one through its RELATED entry', () => {
    const ct = new Conntrack({ anyMax: 4 });
    const a = open(ct, tup('10.0.0.1', 5001, '10.0.0.53', 53, UDP), T0, 0);
    const b = open(ct, tup('10.0.0.5', 5002, '10.0.0.53', 53, UDP), T0 + 2, 0);
    expect(ct.anySize).toBe(4);
    const c = open(ct, tup('10.0.0.6', 5003, '10.0.0.53', 53, UDP), T0 + 4, 0);
    // c's RELATED entry pushes out a's, then c itself pushes out a.
    expect([ct.anySize, ct.evictions, a.inTable, b.inTable, c.inTable]).toEqual([4, 2, false, true, true]);
    checkInvariants(ct);
  });

  it('relating an ICMP error to a connection is not a use of it (Cilium reads the RELATED entry only)', () => {
    const ct = new Conntrack({ tcpMax: 2 });
    const ta = tup('10.0.0.1', 1, '10.0.0.2', 80);
    const a = open(ct, ta, T0);
    const b = open(ct, tup('10.0.0.1', 2, '10.0.0.2', 80), T0 + 2);
    expect(ct.lookupRelated(ta, T0 + 4)).toBe(a);
    open(ct, tup('10.0.0.1', 3, '10.0.0.2', 80), T0 + 6);
    expect([a.inTable, b.inTable]).toEqual([false, true]);
  });

  it('recency has a resolution: within lruResolutionSec of the last refresh a use keeps its place', () => {
    for (const [resolution, survivor] of [
      [0, 'a'],
      [1, 'b'],
    ] as const) {
      const ct = new Conntrack({ tcpMax: 2, lruResolutionSec: resolution });
      const ta = tup('10.0.0.1', 1, '10.0.0.2', 80);
      const a = open(ct, ta, T0);
      const b = open(ct, tup('10.0.0.1', 2, '10.0.0.2', 80), T0 + 0.1);
      ct.lookup(ta, T0 + 0.2); // a used after b was created
      open(ct, tup('10.0.0.1', 3, '10.0.0.2', 80), T0 + 0.3);
      expect({ resolution, a: a.inTable, b: b.inTable }).toEqual({ resolution, a: survivor === 'a', b: survivor === 'b' });
    }
  });

  it('keeps the order while the store grows (tables start small and double up to their max)', () => {
    const n = 3000; // the store grows 1024 -> 2048 -> 3000
    const ct = new Conntrack({ tcpMax: n, anyMax: 64 });
    const flows = Array.from({ length: n + 10 }, (_, i) => tup('10.0.0.1', 1000 + i, '10.255.0.1', 80));
    const entries = flows.slice(0, n).map((t, i) => open(ct, t, T0 + i * 0.01)); // all within the SYN timeout
    const now = T0 + 31;
    for (let i = 0; i < 10; i++) expect(ct.lookup(flows[i]!, now)).toBe(entries[i]); // refresh the 10 oldest
    for (let i = n; i < n + 10; i++) open(ct, flows[i]!, now);
    expect(ct.evictions).toBe(10);
    expect(entries.map((e, i) => (e.inTable ? -1 : i)).filter((i) => i >= 0)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    checkInvariants(ct);
  });

  it('matches an exact LRU model over random creates and lookups (property)', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), flow: fc.integer({ min: 0, max: 11 }) }),
      fc.record({ kind: fc.constant('lookup' as const), flow: fc.integer({ min: 0, max: 11 }), reply: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const ct = new Conntrack({ tcpMax: max, anyMax: 64, lruResolutionSec: 0 });
        const flows = Array.from({ length: 12 }, (_, i) => tup(`10.0.${i}.1`, 1000 + i, '10.1.0.1', 80));
        const model: number[] = []; // flows, least recently used first
        let evictions = 0;
        let now = T0;
        for (const o of ops) {
          now += 0.5; // well within the SYN timeout: nothing expires
          const at = model.indexOf(o.flow);
          if (o.kind === 'create') {
            if (at >= 0) model.splice(at, 1);
            else if (model.length >= max) {
              model.shift();
              evictions++;
            }
            model.push(o.flow);
            open(ct, flows[o.flow]!, now);
          } else {
            const t = o.reply ? reversed(flows[o.flow]!) : flows[o.flow]!;
            const e = ct.lookup(t, now);
            expect(e !== null).toBe(at >= 0);
            if (at >= 0) model.push(...model.splice(at, 1));
          }
          expect(ct.tcpSize).toBe(model.length);
          expect(ct.evictions).toBe(evictions);
        }
        for (let f = 0; f < 12; f++) expect(ct.lookup(flows[f]!, now) !== null).toBe(model.includes(f));
      }),
      { numRuns: 200 },
    );
  });
});
