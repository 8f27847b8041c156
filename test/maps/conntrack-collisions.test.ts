/**
 * Hash collisions: the LRU key is a hash of the tuple, so different connections may share a key
 * and are then chained in the entry; every hit verifies the full tuple. The internal `hashBits`
 * option shrinks the key space to force long chains.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conntrack, CtDir, type CtEntry, type CtTuple } from '../../src/maps/conntrack.js';
import { ACK, SYN, TCP, UDP, checkInvariants, open, reversed, tup } from './conntrack-helpers.js';

const T0 = 1_700_000_000;

function flowsOf(n: number): CtTuple[] {
  const out: CtTuple[] = [];
  for (let i = 0; i < n; i++) {
    const proto = i % 3 === 0 ? UDP : TCP;
    if (i % 2 === 0) out.push(tup(`10.0.${i >> 8}.${i & 255}`, 30000 + i, '10.9.0.1', 80 + (i % 5), proto));
    else out.push(tup(`fd00::${i.toString(16)}`, 30000 + i, 'fd00:9::1', 443, proto));
  }
  return out;
}

describe('chaining under a tiny hash space', () => {
  it('finds every connection in both directions and nothing else', () => {
    const ct = new Conntrack({ hashBits: 2 });
    const flows = flowsOf(80);
    const entries = flows.map((t) => open(ct, t, T0, t.proto === TCP ? SYN : 0));
    const keys = new Set(entries.map((e) => e.key));
    expect(keys.size).toBeLessThanOrEqual(4); // so chains are long
    flows.forEach((t, i) => {
      expect(ct.lookup(t, T0)).toBe(entries[i]);
      expect(ct.lastDir).toBe(CtDir.FORWARD);
      expect(ct.lookup(reversed(t), T0)).toBe(entries[i]);
      expect(ct.lastDir).toBe(CtDir.REPLY);
      // Near misses share the chain but are other connections.
      const near = reversed(reversed(t));
      near.sport ^= 1;
      expect(ct.lookup(near, T0)).toBeNull();
    });
    checkInvariants(ct);
  });

  it('deletes from the head, middle and tail of chains without losing neighbours', () => {
    const ct = new Conntrack({ hashBits: 1 });
    const flows = flowsOf(30);
    const entries = flows.map((t) => open(ct, t, T0, 0));
    const gone = new Set<number>();
    for (let i = 0; i < flows.length; i += 3) {
      ct.delete(entries[i]!);
      gone.add(i);
      checkInvariants(ct);
    }
    flows.forEach((t, i) => expect(ct.lookup(t, T0)).toBe(gone.has(i) ? null : entries[i]));
  });

  it('drops expired entries it walks over and keeps live ones', () => {
    const ct = new Conntrack({ hashBits: 1 });
    const flows = flowsOf(20).filter((t) => t.proto === TCP);
    const entries = flows.map((t) => open(ct, t, T0));
    // Half become established (21600 s); the other half stay SYN-only (60 s).
    entries.forEach((e, i) => i % 2 === 0 && ct.touch(e, CtDir.REPLY, ACK, 52, T0 + 1));
    flows.forEach((t, i) => expect(ct.lookup(t, T0 + 120)).toBe(i % 2 === 0 ? entries[i] : null));
    expect(ct.expired).toBe(Math.floor(flows.length / 2));
    checkInvariants(ct);
  });

  it('evicting a key evicts its whole chain, each entry counted', () => {
    // tcpMax is per family (cilium_ct4_global, cilium_ct6_global): IPv4 flows only.
    const ct = new Conntrack({ hashBits: 1, tcpMax: 10 });
    const flows = flowsOf(60).filter((t) => t.proto === TCP && t.family === 4);
    const entries: CtEntry[] = [];
    for (let i = 0; i < 10; i++) entries.push(open(ct, flows[i]!, T0 + i * 2));
    const chainOf = (e: CtEntry) => entries.filter((x) => x.key === e.key && x.inTable).length;
    const lruChain = chainOf(entries[0]!); // the first entry's key was used least recently
    entries.push(open(ct, flows[10]!, T0 + 30));
    expect(ct.evictions).toBe(lruChain);
    expect(entries[0]!.inTable).toBe(false);
    expect(ct.tcpSize).toBe(10 - lruChain + 1);
    checkInvariants(ct);
  });

  it('matches a string-keyed model over random creates, deletes and lookups (property)', () => {
    const flows = flowsOf(24);
    const name = (t: CtTuple) => `${t.family}|${t.proto}|${t.src.join('.')}|${t.sport}|${t.dst.join('.')}|${t.dport}`;
    const op = fc.record({
      kind: fc.constantFrom('create', 'delete', 'lookup', 'reply'),
      flow: fc.integer({ min: 0, max: flows.length - 1 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.array(op, { maxLength: 80 }), (bits, ops) => {
        const ct = new Conntrack({ hashBits: bits, tcpMax: 4096, anyMax: 4096 });
        const model = new Map<string, CtEntry>();
        for (const o of ops) {
          const t = flows[o.flow]!;
          const k = name(t);
          if (o.kind === 'create') model.set(k, open(ct, t, T0, 0));
          else if (o.kind === 'delete') {
            const e = model.get(k);
            if (e) ct.delete(e);
            model.delete(k);
          } else {
            const e = ct.lookup(o.kind === 'reply' ? reversed(t) : t, T0);
            expect(e).toBe(model.get(k) ?? null);
            if (e) expect(ct.lastDir).toBe(o.kind === 'reply' ? CtDir.REPLY : CtDir.FORWARD);
          }
        }
        expect(ct.tcpSize).toBe([...model.values()].filter((e) => e.proto === TCP).length);
        checkInvariants(ct);
      }),
      { numRuns: 150 },
    );
  });
});
