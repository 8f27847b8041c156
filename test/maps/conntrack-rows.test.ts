/**
 * The row storage of conntrack (src/maps/conntrack.ts "Layout"): entries are rows of typed
 * arrays, indexed by an open-address table of keys, reused once their entry leaves. These tests
 * pin what that storage must not change: an index that survives deletions in the middle of its
 * probe runs, views of removed entries that keep reading what the entry held, reused rows that
 * never answer for the connection that had them before, and a RELATED entry that keeps its
 * connection's datapath words after the connection is gone (Cilium's RELATED entry is a copy).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Conntrack, CtDir, CtField, type CtEntry, type CtTuple } from '../../src/maps/conntrack.js';
import { ACK, FIN, ICMP, SYN, TCP, UDP, checkInvariants, find, open, reversed, tup } from './conntrack-helpers.js';

const T0 = 1_700_000_000;

function manyFlows(n: number): CtTuple[] {
  const out: CtTuple[] = [];
  for (let i = 0; i < n; i++) {
    const proto = i % 4 === 0 ? UDP : TCP;
    if (i % 5 === 0) out.push(tup(`fd00::${(i + 1).toString(16)}`, 20000 + i, 'fd00:7::1', 443, proto));
    else out.push(tup(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, 20000 + (i % 30000), '10.200.0.1', 80 + (i % 7), proto));
  }
  return out;
}

describe('conntrack rows', () => {
  it('matches a model over many creates, deletes and lookups with full-width keys (index runs and backward-shift deletes)', () => {
    const flows = manyFlows(3000);
    const name = (t: CtTuple) => `${t.family}|${t.proto}|${t.src.join('.')}|${t.sport}|${t.dst.join('.')}|${t.dport}`;
    const op = fc.record({
      kind: fc.constantFrom('create', 'create', 'delete', 'lookup', 'reply'),
      flow: fc.integer({ min: 0, max: flows.length - 1 }),
    });
    fc.assert(
      fc.property(fc.array(op, { minLength: 200, maxLength: 1500 }), (ops) => {
        const ct = new Conntrack();
        const model = new Map<string, number>();
        for (const o of ops) {
          const t = flows[o.flow]!;
          const k = name(t);
          if (o.kind === 'create') model.set(k, open(ct, t, T0, t.proto === TCP ? SYN : 0).id);
          else if (o.kind === 'delete') {
            const e = ct.lookup(t, T0);
            if (e) ct.delete(e);
            model.delete(k);
          } else {
            const e = ct.lookup(o.kind === 'reply' ? reversed(t) : t, T0);
            expect(e?.id ?? null).toBe(model.get(k) ?? null);
            if (e) expect(ct.lastDir).toBe(o.kind === 'reply' ? CtDir.REPLY : CtDir.FORWARD);
          }
        }
        // Every modelled connection is still found in both directions.
        for (const t of flows) {
          const id = model.get(name(t));
          if (id === undefined) continue;
          expect(ct.lookup(t, T0)?.id).toBe(id);
          expect(ct.lookup(reversed(t), T0)?.id).toBe(id);
        }
        checkInvariants(ct);
      }),
      { numRuns: 25 },
    );
  });

  it('a view of a removed entry keeps what the entry held; its reused row answers only for the new connection', () => {
    const ct = new Conntrack();
    const a = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const e = open(ct, a, T0);
    ct.touch(e, CtDir.REPLY, SYN | ACK, 60, T0 + 1);
    ct.touch(e, CtDir.FORWARD, ACK, 1000, T0 + 2);
    const id = e.id;
    ct.delete(e);
    expect(e.inTable).toBe(false);
    expect([e.id, e.txPackets, e.rxPackets, e.txBytes, e.seenReply, e.seenNonSyn]).toEqual([id, 2, 1, 1060, true, true]);
    expect(e.tuple.equals(a)).toBe(true);
    // The next connection takes a free row; the old view and the old tuple stay apart from it.
    const b = tup('10.0.0.3', 40001, '10.0.0.4', 443);
    const f = open(ct, b, T0 + 3);
    expect(f).not.toBe(e);
    expect(f.id).toBeGreaterThan(id);
    expect(find(ct, a, T0 + 3)).toEqual([null, CtDir.FORWARD]);
    expect(e.txPackets).toBe(2);
    expect(f.txPackets).toBe(1);
    // Touching the old view is a no-op, as for any entry no longer tracked.
    expect(ct.touch(e, CtDir.FORWARD, ACK, 1, T0 + 4)).toBe(false);
    expect(f.txPackets).toBe(1);
    checkInvariants(ct);
  });

  it('the datapath words live in the row and are reset for a new connection in a reused row', () => {
    const ct = new Conntrack();
    const a = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const row = ct.createRow(a, 0);
    expect([ct.get(row, CtField.USER0), ct.get(row, CtField.USER_GEN), ct.get(row, CtField.USER_SRC_ENDPOINT), ct.get(row, CtField.REV_NAT)]).toEqual([0, -1, -1, -1]);
    ct.set(row, CtField.USER0, 133);
    ct.set(row, CtField.PROXY_PORT, 15001);
    expect(ct.entryAt(row).user0).toBe(133);
    expect(ct.entryAt(row).proxyPort).toBe(15001);
    ct.deleteRow(row);
    const again = ct.createRow(tup('10.0.0.5', 1, '10.0.0.6', 2), 0);
    expect([ct.get(again, CtField.USER0), ct.get(again, CtField.PROXY_PORT)]).toEqual([0, 0]);
  });

  it("an ICMP error still finds its connection's datapath words after the connection left (the RELATED entry is a copy)", () => {
    const ct = new Conntrack();
    const a = tup('10.0.0.1', 40000, '10.0.0.2', 80);
    const row = ct.createRow(a, 0);
    ct.touchRow(row, CtDir.FORWARD, SYN, 60, 0);
    ct.set(row, CtField.USER0, 133);
    ct.set(row, CtField.USER1, 7);
    const id = ct.idOf(row);
    // The connection closes and expires (10 s after both FINs), its RELATED entry lives 60 s.
    ct.touchRow(row, CtDir.FORWARD, FIN | ACK, 60, 1000);
    ct.touchRow(row, CtDir.REPLY, FIN | ACK, 60, 1000);
    expect(ct.gc(T0 + 0)).toBe(0); // the epoch is T0: nothing expired yet at 0 s
    const error = tup('10.0.0.2', 0, '10.0.0.1', 0, ICMP);
    error.related = true;
    expect(ct.gc(ct.epoch + 20)).toBe(1); // the connection, not its RELATED entry
    const found = ct.lookupRow(error, 30_000);
    expect(found).toBeGreaterThanOrEqual(0);
    expect([ct.lastDir, ct.lastRelated]).toEqual([CtDir.REPLY, true]);
    expect([ct.idOf(found), ct.get(found, CtField.USER0), ct.get(found, CtField.USER1)]).toEqual([id, 133, 7]);
    // New connections reuse the freed row without disturbing the copy.
    const other = ct.createRow(tup('10.9.0.1', 5, '10.9.0.2', 6, UDP), 30_000);
    ct.set(other, CtField.USER0, 0);
    expect(ct.idOf(ct.lookupRow(error, 31_000))).toBe(id);
    checkInvariants(ct);
  });

  it('entries() makes views it does not keep; entryAt() keeps one per row, and entries() hands that one out', () => {
    const ct = new Conntrack();
    const rows = [0, 1, 2].map((i) => ct.createRow(tup(`10.0.0.${i + 1}`, 1000 + i, '10.0.1.1', 80), 0));
    const first = [...ct.entries()];
    const second = [...ct.entries()];
    expect(first).toHaveLength(6); // three connections and their three RELATED pair entries
    for (let i = 0; i < first.length; i++) expect(second[i]).not.toBe(first[i]);
    const kept = ct.entryAt(rows[1]!);
    expect(ct.entryAt(rows[1]!)).toBe(kept);
    expect([...ct.entries()].filter((e) => e === kept)).toHaveLength(1);
  });

  it('its rows never outgrow what the tables can hold together (plus a creation in flight)', () => {
    // 1,100 live entries outgrow the first 1,024 rows; growing sixteenfold would reserve 16,384.
    const ct = new Conntrack({ tcpMax: 700, anyMax: 400 });
    for (let i = 0; i < 3000; i++) ct.createRow(tup(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1000, '10.200.0.1', 80), i);
    expect(ct.tcpSize).toBe(700);
    expect(ct.anySize).toBe(400); // the RELATED entries, evicting each other
    const rows = ct.i32.length / 40;
    expect(rows).toBeGreaterThanOrEqual(1100);
    expect(rows).toBeLessThanOrEqual(2 * (700 + 400) + 2);
    checkInvariants(ct);
  });

  it('keeps counting past the int32 range of milliseconds and bytes', () => {
    const ct = new Conntrack();
    const a = tup('10.0.0.1', 40000, '10.0.0.2', 80, UDP);
    const e: CtEntry = open(ct, a, T0, 0, 2 ** 31);
    ct.touch(e, CtDir.FORWARD, 0, 2 ** 31, T0 + 1);
    expect(e.txBytes).toBe(2 ** 32);
    const late = T0 + 40 * 86400; // 40 days: 3.5e9 ms
    expect(ct.lookup(a, late)).toBeNull(); // expired long ago
    const f = open(ct, a, late, 0);
    expect(f.expiresSec).toBe(late + 60);
  });
});

describe('growth in one large step', () => {
  it('the key index jumps from 4,096 slots to room for the table (at most 2^18), and finds every entry after', () => {
    const ct = new Conntrack();
    const ANY4 = 1;
    const key = (i: number): CtTuple => tup(`10.2.${(i >> 8) & 255}.${i & 255}`, 1000 + (i >> 16), '10.200.0.1', 53, UDP);
    const sizes = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      ct.createRow(key(i), T0);
      sizes.add(ct.nativeIndexSlots(ANY4)!.length);
    }
    // 64, 256, 1,024, 4,096, then 2^18 (room for the 262,144-entry table would be 2^19).
    expect([...sizes]).toEqual([64, 256, 1024, 4096, 1 << 18]);
    for (let i = 0; i < 20_000; i += 7) expect(find(ct, key(i), T0)[0], `entry ${i}`).not.toBeNull();
    checkInvariants(ct);
    // A small table's index stops at its own room: 16,384 slots (4x 4,096) for 5,000 entries.
    const small = new Conntrack({ anyMax: 5000 });
    for (let i = 0; i < 6000; i++) small.createRow(key(i), i);
    expect(small.nativeIndexSlots(ANY4)!.length).toBe(16384);
    checkInvariants(small);
  });

  it('the rows go from 1,024 straight to 2^18 (or what the tables hold together)', () => {
    const ct = new Conntrack();
    for (let i = 0; i < 1100; i++) ct.createRow(tup(`10.3.${(i >> 8) & 255}.${i & 255}`, 1000, '10.200.0.1', 80), i);
    expect(ct.i32.length / 40).toBe(1 << 18);
    const small = new Conntrack({ tcpMax: 700, anyMax: 400 });
    for (let i = 0; i < 1100; i++) small.createRow(tup(`10.3.${(i >> 8) & 255}.${i & 255}`, 1000, '10.200.0.1', 80), i);
    expect(small.i32.length / 40).toBe(2 * (700 + 400) + 2);
  });
});
