/**
 * Fragment tracking, against bpf/lib/ipv4.h `ipv4_handle_fragmentation` and bpf/lib/ipv6.h
 * `ipv6_handle_fragmentation`: the fragment with the transport header records (source,
 * destination, id, protocol) -> ports in an LRU map of `--bpf-fragments-map-max` (8192) entries
 * per family; later fragments take those ports, or are dropped with DROP_FRAG_NOT_FOUND (175)
 * when the datagram is unknown. Packets are built with the decoder's builders and decoded, so
 * the test also pins how the decoder marks fragments.
 */
import { describe, expect, it } from 'vitest';
import { PacketKind, type DecodedPacket } from '../../src/decode/packet.js';
import { DEFAULT_FRAGMENTS_MAP_MAX, FragmentTracker, fragmentsCarryPorts } from '../../src/maps/fragments.js';
import { decode, ethernet, fragmentHeader, icmp4, ipv4, ipv6, tcp, udp } from '../helpers/decode-build.js';

const T0 = 1_700_000_000;
const A = '10.0.1.30';
const B = '10.0.1.10';
const A6 = 'fd00:10:0:1::30';
const B6 = 'fd00:10:0:1::10';
const UDP = 17;
const payload = (n: number, fill = 0xab) => new Array<number>(n).fill(fill);

/** An IPv4 UDP datagram of 8 + 48 bytes in two fragments (the second at offset 32). */
function v4Datagram(o: { id: number; src?: string; dst?: string; sport?: number; dport?: number; proto?: number }) {
  const src = o.src ?? A;
  const dst = o.dst ?? B;
  const proto = o.proto ?? UDP;
  const l4 = proto === UDP ? udp({ sport: o.sport ?? 5000, dport: o.dport ?? 53 }, payload(48)) : tcp({ sport: o.sport ?? 5000, dport: o.dport ?? 80, flags: 0x18 }, payload(44));
  const first = decode(ethernet(0x0800, ipv4({ src, dst, proto, id: o.id, mf: true }, l4.slice(0, 32))));
  const later = decode(ethernet(0x0800, ipv4({ src, dst, proto, id: o.id, fragOffset: 32 }, l4.slice(32))));
  return { first, later };
}

/** The IPv6 counterpart, with a fragment header (id is 32 bits). */
function v6Datagram(o: { id: number; sport?: number; dport?: number }) {
  const l4 = udp({ sport: o.sport ?? 6000, dport: o.dport ?? 53 }, payload(48));
  const first = decode(ethernet(0x86dd, ipv6({ src: A6, dst: B6, nextHeader: 44 }, fragmentHeader(UDP, { offset: 0, more: true, id: o.id }, l4.slice(0, 32)))));
  const later = decode(ethernet(0x86dd, ipv6({ src: A6, dst: B6, nextHeader: 44 }, fragmentHeader(UDP, { offset: 32, more: false, id: o.id }, l4.slice(32)))));
  return { first, later };
}

describe('what the decoder hands over', () => {
  it('marks the first fragment with its ports and a later one without (IPv4 and IPv6)', () => {
    for (const { first, later } of [v4Datagram({ id: 0x1111 }), v6Datagram({ id: 0xabcdef01 })]) {
      expect([first.isFragment, first.fragOffset, first.fragMore, first.hasPorts]).toEqual([true, 0, true, true]);
      expect([later.isFragment, later.fragOffset, later.fragMore, later.hasPorts, later.kind]).toEqual([true, 32, false, false, PacketKind.IP_OTHER]);
      expect(later.ipProto).toBe(UDP);
      expect(later.fragId).toBe(first.fragId);
    }
  });
});

describe('FragmentTracker', () => {
  it("defaults to Cilium's map size", () => {
    expect(new FragmentTracker().max).toBe(DEFAULT_FRAGMENTS_MAP_MAX);
    expect(DEFAULT_FRAGMENTS_MAP_MAX).toBe(8192);
  });

  it('gives a later fragment the ports of its first fragment (IPv4)', () => {
    const ft = new FragmentTracker();
    const { first, later } = v4Datagram({ id: 0x1111, sport: 41234, dport: 53 });
    ft.recordFirst(first, T0);
    expect(ft.size).toBe(1);
    expect(ft.lookup(later, T0 + 0.001)).toBe(true);
    expect([later.hasPorts, later.sport, later.dport]).toEqual([true, 41234, 53]);
  });

  it('gives a later fragment the ports of its first fragment (IPv6 fragment header, 32-bit id)', () => {
    const ft = new FragmentTracker();
    const { first, later } = v6Datagram({ id: 0xabcdef01, sport: 6001, dport: 5353 });
    ft.recordFirst(first, T0);
    expect(ft.lookup(later, T0)).toBe(true);
    expect([later.hasPorts, later.sport, later.dport]).toEqual([true, 6001, 5353]);
    // Same low 16 bits, other id: another datagram.
    const other = v6Datagram({ id: 0x0000ef01 }).later;
    expect(ft.lookup(other, T0)).toBe(false);
  });

  it('a later fragment whose first fragment was never seen is not found (DROP_FRAG_NOT_FOUND)', () => {
    const ft = new FragmentTracker();
    expect(ft.lookup(v4Datagram({ id: 1 }).later, T0)).toBe(false);
    ft.recordFirst(v4Datagram({ id: 1 }).first, T0);
    // Any key field off: not the same datagram.
    const misses: DecodedPacket[] = [
      v4Datagram({ id: 2 }).later,
      v4Datagram({ id: 1, src: '10.0.1.31' }).later,
      v4Datagram({ id: 1, dst: '10.0.1.11' }).later,
      v4Datagram({ id: 1, proto: 6 }).later,
      v4Datagram({ id: 1, src: B, dst: A }).later,
      v6Datagram({ id: 1 }).later,
    ];
    for (const p of misses) {
      expect(ft.lookup(p, T0)).toBe(false);
      expect(p.hasPorts).toBe(false);
    }
    expect(ft.lookup(v4Datagram({ id: 1 }).later, T0)).toBe(true);
  });

  it('ignores packets that are not first fragments when recording', () => {
    const ft = new FragmentTracker();
    ft.recordFirst(decode(ethernet(0x0800, ipv4({ src: A, dst: B, proto: UDP, id: 7 }, udp({ sport: 1, dport: 2 })))), T0);
    ft.recordFirst(v4Datagram({ id: 7 }).later, T0);
    expect(ft.size).toBe(0);
  });

  it('a newer first fragment with the same key replaces the ports (BPF_ANY)', () => {
    const ft = new FragmentTracker();
    ft.recordFirst(v4Datagram({ id: 9, sport: 1000 }).first, T0);
    ft.recordFirst(v4Datagram({ id: 9, sport: 2000 }).first, T0 + 1);
    const later = v4Datagram({ id: 9 }).later;
    expect(ft.lookup(later, T0 + 1)).toBe(true);
    expect(later.sport).toBe(2000);
    expect(ft.size).toBe(1);
  });

  it('is bounded: the least recently used datagram is forgotten, per family', () => {
    const ft = new FragmentTracker(2);
    ft.recordFirst(v4Datagram({ id: 1 }).first, T0);
    ft.recordFirst(v4Datagram({ id: 2 }).first, T0 + 1);
    expect(ft.lookup(v4Datagram({ id: 1 }).later, T0 + 2)).toBe(true); // id 1 used: id 2 is now the oldest
    ft.recordFirst(v6Datagram({ id: 3 }).first, T0 + 3); // the IPv6 map is separate
    ft.recordFirst(v4Datagram({ id: 4 }).first, T0 + 4);
    expect(ft.evictions).toBe(1);
    expect(ft.lookup(v4Datagram({ id: 2 }).later, T0 + 5)).toBe(false);
    for (const p of [v4Datagram({ id: 1 }).later, v4Datagram({ id: 4 }).later, v6Datagram({ id: 3 }).later]) expect(ft.lookup(p, T0 + 5)).toBe(true);
    expect(ft.size).toBe(3);
  });

  it('never forgets by time unless asked to (Cilium has no timeout; timeoutSec adds one)', () => {
    const { first, later } = v4Datagram({ id: 5 });
    const lru = new FragmentTracker();
    lru.recordFirst(first, T0);
    expect(lru.lookup(later, T0 + 86_400)).toBe(true);
    const timed = new FragmentTracker(DEFAULT_FRAGMENTS_MAP_MAX, { timeoutSec: 30 });
    timed.recordFirst(first, T0);
    expect(timed.lookup(v4Datagram({ id: 5 }).later, T0 + 29.9)).toBe(true);
    expect(timed.lookup(v4Datagram({ id: 5 }).later, T0 + 30.1)).toBe(false);
    expect(() => new FragmentTracker(0)).toThrow(RangeError);
    expect(() => new FragmentTracker(10, { timeoutSec: 0 })).toThrow(RangeError);
  });

  it('later fragments of protocols without ports pass untouched (Cilium never looks them up)', () => {
    expect([6, 17, 132, 1, 58, 47].map(fragmentsCarryPorts)).toEqual([true, true, true, false, false, false]);
    const ft = new FragmentTracker();
    const ping = icmp4({ type: 8, id: 1, seq: 1 }, payload(64));
    const later = decode(ethernet(0x0800, ipv4({ src: A, dst: B, proto: 1, id: 77, fragOffset: 40 }, ping.slice(40))));
    expect(later.isFragment).toBe(true);
    expect(ft.lookup(later, T0)).toBe(true);
    expect(later.hasPorts).toBe(false);
  });
});

describe('hash collisions (keys chained)', () => {
  it('keeps every datagram apart under a tiny hash space, and evicts whole chains', () => {
    const ft = new FragmentTracker(64, { hashBits: 1 });
    const ids = Array.from({ length: 40 }, (_, i) => 100 + i);
    ids.forEach((id, i) => ft.recordFirst(v4Datagram({ id, sport: 2000 + i }).first, T0 + i));
    expect(ft.size).toBe(40);
    ids.forEach((id, i) => {
      const later = v4Datagram({ id }).later;
      expect(ft.lookup(later, T0 + 50)).toBe(true);
      expect(later.sport).toBe(2000 + i);
    });
    expect(ft.lookup(v4Datagram({ id: 99 }).later, T0 + 50)).toBe(false);

    // Full: both keys hold chains; a new datagram evicts the least recently used key's chain.
    const small = new FragmentTracker(8, { hashBits: 1 });
    const firsts = Array.from({ length: 8 }, (_, i) => v4Datagram({ id: 500 + i, sport: 3000 + i }));
    firsts.forEach((d, i) => small.recordFirst(d.first, T0 + i));
    small.recordFirst(v4Datagram({ id: 600, sport: 4000 }).first, T0 + 10);
    expect(small.evictions).toBeGreaterThan(0);
    expect(small.size).toBe(8 - small.evictions + 1);
    const kept = firsts.filter((d) => small.lookup(v4Datagram({ id: d.first.fragId }).later, T0 + 11)).length;
    expect(kept).toBe(8 - small.evictions);
    const newest = v4Datagram({ id: 600 }).later;
    expect(small.lookup(newest, T0 + 11)).toBe(true);
    expect(newest.sport).toBe(4000);
  });
});
