/**
 * Duplicate suppression for node captures (design.md §5, src/datapath/dedup.ts): copies of one
 * packet seen at several devices within the window are one packet; TTL and IPv4 checksum do not
 * count; the same packet again at the same device, or after the window, is a new packet; two
 * different packets are never merged.
 *
 * The real captures are checked against two independent counts: the structure pcaps/README.md
 * documents (starwars: every pod-to-pod packet appears twice, received from the source pod's lxc
 * and sent to the destination pod's lxc, so the copies are the packet-type-4 frames between pod
 * addresses, read with tshark), and a slow reference that compares the raw IP bytes (TTL, hop
 * limit and IPv4 checksum blanked) in a Map of strings.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countGcs } from '../helpers/gc-count.js';
import { LinkType } from '../../src/capture/frame.js';
import { readAllFrames, type CopiedFrame } from '../../src/capture/open.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { DecodedPacket, EtherType, IpProto } from '../../src/decode/packet.js';
import { DEFAULT_DEDUP_WINDOW_NS, Deduplicator } from '../../src/datapath/dedup.js';
import { ethernet, frameOf, icmp4, icmp6, ipv4, ipv6, sll2, tcp, udp, vxlan } from '../helpers/decode-build.js';

const PCAPS = resolve(import.meta.dirname, '../../pcaps');
const STARWARS = resolve(PCAPS, 'starwars-node-sll2.pcap');
const FOUNDATION = resolve(PCAPS, 'foundation-node-sll2.pcap');

/** Runs the deduplicator over a capture; returns the 1-based numbers of the frames it drops. */
function dedupFrames(frames: CopiedFrame[], withFrame: boolean): number[] {
  const d = new Deduplicator();
  const p = new DecodedPacket();
  const out: number[] = [];
  frames.forEach((f, i) => {
    decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
    if (d.isDuplicate(p, f.tsSec, f.tsNsec, withFrame ? f : undefined)) out.push(i + 1);
  });
  expect(d.duplicates).toBe(out.length);
  return out;
}

/**
 * Slow reference: the IP packet's bytes with TTL / hop limit and the IPv4 header checksum
 * blanked, as a hex string; the SLL2 interface index and packet type as the observation point.
 */
function referenceDuplicates(frames: CopiedFrame[], windowNs: number): number[] {
  const seen = new Map<string, { t: bigint; points: Set<string> }>();
  const p = new DecodedPacket();
  const out: number[] = [];
  frames.forEach((f, i) => {
    expect(f.linkType).toBe(LinkType.LINUX_SLL2);
    decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
    if (p.ipVersion === 0) return;
    const ip = Array.from(f.data.subarray(p.l3Offset, f.caplen));
    if (p.ipVersion === 4) {
      ip[8] = 0; // TTL
      ip[10] = 0; // header checksum
      ip[11] = 0;
    } else {
      ip[7] = 0; // hop limit
    }
    const key = Buffer.from(ip).toString('hex');
    const dv = new DataView(f.data.buffer, f.data.byteOffset);
    const point = `${dv.getUint32(4)}/${f.data[10]}`;
    const t = BigInt(f.tsSec) * 1_000_000_000n + BigInt(f.tsNsec);
    const prev = seen.get(key);
    if (prev && t - prev.t <= BigInt(windowNs) && !prev.points.has(point)) {
      prev.points.add(point);
      out.push(i + 1);
    } else {
      seen.set(key, { t, points: new Set([point]) });
    }
  });
  return out;
}

describe('real node captures', () => {
  it('starwars-node-sll2.pcap: exactly the second copies of the pod-to-pod packets (pcaps/README.md)', async () => {
    const frames = await readAllFrames(STARWARS);
    // README: pod-to-pod packets appear twice, the copy sent to the destination pod's lxc
    // (packet type 4) after the one received from the source pod's lxc (packet type 0).
    const pods = new Set(['10.0.1.10', '10.0.1.20', '10.0.1.30', 'fd00:10:0:1::10', 'fd00:10:0:1::20', 'fd00:10:0:1::30']);
    const rows = execFileSync('tshark', ['-r', STARWARS, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.number', '-e', 'sll.pkttype', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    expect(rows.length).toBe(frames.length);
    const copies = rows
      .filter(([, type, s4, s6, d4, d6]) => type === '4' && pods.has(s4 || s6!) && pods.has(d4 || d6!))
      .map(([n]) => Number(n));
    expect(copies.length).toBeGreaterThan(40); // four HTTP exchanges and a ping, twice each

    const ours = dedupFrames(frames, true);
    expect(ours).toEqual(copies);
    expect(referenceDuplicates(frames, DEFAULT_DEDUP_WINDOW_NS)).toEqual(copies);
    // The header fields alone (no frame bytes) find the same copies in this capture.
    expect(dedupFrames(frames, false)).toEqual(copies);
  });

  it('foundation-node-sll2.pcap: agrees with the byte-comparing reference (bridge ports, multicast on every port)', async () => {
    const frames = await readAllFrames(FOUNDATION);
    const ref = referenceDuplicates(frames, DEFAULT_DEDUP_WINDOW_NS);
    expect(ref.length).toBeGreaterThan(frames.length / 3);
    expect(dedupFrames(frames, true)).toEqual(ref);
  });
});

// --- synthetic copies

const T = 1_700_000_000;
const tcpPacket = (o: { ttl?: number; seq?: number; payload?: number[]; window?: number } = {}) =>
  ipv4({ src: '10.0.1.20', dst: '10.0.1.10', proto: IpProto.TCP, ttl: o.ttl ?? 64, id: 0xbeef }, tcp({ sport: 40000, dport: 80, flags: 0x18, seq: o.seq ?? 1000, ack: 5000, window: o.window }, o.payload ?? [1, 2, 3, 4]));

/** A decoded SLL2 frame seen at (ifIndex, packetType), with its frame for content hashing. */
function at(ip: Uint8Array, ifIndex: number, packetType: number, proto: number = EtherType.IPV4) {
  const f = frameOf(sll2(proto, ip, { ifIndex, packetType }), LinkType.LINUX_SLL2);
  const p = new DecodedPacket();
  decodeBytes(f.data, f.offset, f.caplen, f.length, f.linkType, p);
  return { p, f };
}

/**
 * TCP packets with sequence numbers 1..n, each decoded at three observation points (the pod's
 * device, and two captured-as-outgoing ones), for the property tests that mix them.
 */
function atThreePoints(n: number): Array<Array<ReturnType<typeof at>>> {
  const points: Array<[number, number]> = [
    [5, 0],
    [4, 4],
    [3, 4],
  ];
  return Array.from({ length: n }, (_, i) => tcpPacket({ seq: 1 + i })).map((ip) => points.map(([i, t]) => at(ip, i, t)));
}

/** The fields of a generated event over `decoded`: a packet, one of its points, the clock step (in windows) before it. */
function packetEvent(decoded: ReadonlyArray<unknown>, step: fc.Arbitrary<number>) {
  return { pkt: fc.nat(decoded.length - 1), point: fc.nat(2), step };
}

/**
 * The capture clock of a generated stream, in nanoseconds, moved in steps of windows. With
 * `boundBack`, never more than a window behind the latest time: the fast path is exact only
 * while the clock steps back by at most a window (dedup.ts module comment).
 */
class StreamClock {
  private max: number;
  constructor(
    private ns: number,
    private readonly windowNs: number,
    private readonly boundBack: boolean,
  ) {
    this.max = ns;
  }

  step(windows: number): number {
    this.ns += Math.round(windows * this.windowNs);
    if (this.boundBack) this.ns = Math.max(this.ns, this.max - this.windowNs);
    this.max = Math.max(this.max, this.ns);
    return this.ns;
  }

  /** Forgets the latest time (after Deduplicator.clear). */
  restart(): void {
    this.max = this.ns;
  }
}

/**
 * `ns` from T as a capture timestamp (seconds, nanoseconds 0..1e9-1). The clock may step back
 * before T (`ns` < 0): `ns % 1e9` would then be a negative nanosecond field, a time a second
 * off from `ns`, which no capture holds.
 */
function seen(d: Deduplicator, x: { p: DecodedPacket; f: ReturnType<typeof frameOf> }, ns: number): boolean {
  const sec = Math.floor(ns / 1e9);
  return d.isDuplicate(x.p, T + sec, ns - sec * 1e9, x.f);
}

describe('Deduplicator', () => {
  it('a routed copy (TTL one lower, new IPv4 checksum) at another device is a duplicate', () => {
    const d = new Deduplicator();
    expect(seen(d, at(tcpPacket({ ttl: 64 }), 5, 0), 0)).toBe(false);
    expect(seen(d, at(tcpPacket({ ttl: 63 }), 4, 4), 20_000)).toBe(true);
    expect(d.duplicates).toBe(1);
  });

  it('the window: a copy 1 ms after the original is one, later it is a new packet', () => {
    const d = new Deduplicator();
    expect(seen(d, at(tcpPacket(), 5, 0), 0)).toBe(false);
    expect(seen(d, at(tcpPacket(), 4, 4), DEFAULT_DEDUP_WINDOW_NS)).toBe(true);
    // A retransmission 200 ms later, and its own copy.
    expect(seen(d, at(tcpPacket(), 5, 0), 200_000_000)).toBe(false);
    expect(seen(d, at(tcpPacket(), 4, 4), 200_300_000)).toBe(true);
    // A copy that arrives 1.5 ms after its original is past the window.
    expect(seen(d, at(tcpPacket({ seq: 7 }), 5, 0), 300_000_000)).toBe(false);
    expect(seen(d, at(tcpPacket({ seq: 7 }), 4, 4), 301_500_000)).toBe(false);
    const wide = new Deduplicator(5_000_000);
    expect(seen(wide, at(tcpPacket(), 5, 0), 0)).toBe(false);
    expect(seen(wide, at(tcpPacket(), 4, 4), 4_000_000)).toBe(true);
  });

  it('the same packet again at the same device is a new packet, however close (a retransmission)', () => {
    const d = new Deduplicator();
    expect(seen(d, at(tcpPacket(), 5, 0), 0)).toBe(false);
    expect(seen(d, at(tcpPacket(), 5, 0), 10_000)).toBe(false);
    // Its copy elsewhere is a duplicate of the retransmission; a second copy there is new again.
    expect(seen(d, at(tcpPacket(), 4, 4), 20_000)).toBe(true);
    expect(seen(d, at(tcpPacket(), 4, 4), 30_000)).toBe(false);
    // A plain Ethernet capture of one interface has a single observation point: never merged.
    const e = new Deduplicator();
    const eth = () => {
      const f = frameOf(ethernet(EtherType.IPV4, tcpPacket()));
      const p = new DecodedPacket();
      decodeBytes(f.data, f.offset, f.caplen, f.length, f.linkType, p);
      return { p, f };
    };
    expect(seen(e, eth(), 0)).toBe(false);
    expect(seen(e, eth(), 1000)).toBe(false);
  });

  it('VLAN tags and VXLAN encapsulation are other observation points of the same packet', () => {
    const d = new Deduplicator();
    const plain = frameOf(ethernet(EtherType.IPV4, tcpPacket()));
    const tagged = frameOf(ethernet(EtherType.IPV4, tcpPacket({ ttl: 63 }), { vlans: [{ id: 42 }] }));
    const inner = ethernet(EtherType.IPV4, tcpPacket({ ttl: 62 }));
    const encapsulated = frameOf(ethernet(EtherType.IPV4, ipv4({ src: '192.168.0.1', dst: '192.168.0.2', proto: IpProto.UDP }, udp({ sport: 51000, dport: 8472 }, vxlan(7, inner)))));
    const all = [plain, tagged, encapsulated].map((f) => {
      const p = new DecodedPacket();
      decodeBytes(f.data, f.offset, f.caplen, f.length, f.linkType, p);
      return { p, f };
    });
    expect(all.map((x, i) => seen(d, x, i * 100_000))).toEqual([false, true, true]);
  });

  it('four copies of a multicast packet at four ports are one packet', () => {
    const d = new Deduplicator();
    const ns = ipv6({ src: 'fd00:10::10', dst: 'ff02::1:ff00:20', nextHeader: IpProto.ICMPV6, hopLimit: 255 }, icmp6({ type: 135 }, new Array(20).fill(0)));
    const copies = [
      [3, 2],
      [5, 4],
      [4, 4],
      [2, 2],
    ].map(([i, t]) => seen(d, at(ns, i!, t!, EtherType.IPV6), 5000 * i!));
    expect(copies).toEqual([false, true, true, true]);
  });

  it('with frame bytes, equal headers with other content are different packets', () => {
    const d = new Deduplicator();
    // Two DNS queries of one size over IPv6 (no IP id): A and AAAA.
    const q = (qtype: number) =>
      ipv6({ src: 'fd00:10::10', dst: 'fd00:10::53', nextHeader: IpProto.UDP }, udp({ sport: 5353, dport: 53 }, [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, qtype, 0, 1]));
    expect(seen(d, at(q(1), 3, 0, EtherType.IPV6), 0)).toBe(false);
    expect(seen(d, at(q(28), 3, 0, EtherType.IPV6), 10_000)).toBe(false);
    expect(seen(d, at(q(1), 5, 4, EtherType.IPV6), 20_000)).toBe(true);
    expect(seen(d, at(q(28), 5, 4, EtherType.IPV6), 30_000)).toBe(true);
    // Without the bytes the header fields cannot tell the two queries apart.
    const blind = new Deduplicator();
    const x = at(q(1), 3, 0, EtherType.IPV6);
    const y = at(q(28), 5, 4, EtherType.IPV6);
    expect(blind.isDuplicate(x.p, T, 0)).toBe(false);
    expect(blind.isDuplicate(y.p, T, 10_000)).toBe(true);
  });

  it('ignores the transport checksum (offload may complete it between devices)', () => {
    const d = new Deduplicator();
    const u = (ttl: number) => ipv4({ src: '10.0.1.20', dst: '10.0.1.10', proto: IpProto.UDP, ttl, id: 9 }, udp({ sport: 5000, dport: 53 }, [1, 2, 3, 4, 5]));
    const a = u(64);
    const b = u(63);
    b[20 + 6] ^= 0xff; // UDP checksum
    expect(seen(d, at(a, 5, 0), 0)).toBe(false);
    expect(seen(d, at(b, 4, 4), 1000)).toBe(true);
    // Other content is another packet.
    const c = u(63);
    c[20 + 8] ^= 0xff;
    expect(seen(d, at(c, 6, 4), 2000)).toBe(false);
  });

  it('two different packets are never merged (property)', () => {
    const field = fc.constantFrom('src', 'dst', 'sport', 'dport', 'proto', 'id', 'seq', 'ack', 'flags', 'window', 'payloadByte', 'payloadLength', 'icmpType', 'icmpCode', 'icmpId', 'icmpSeq', 'fragOffset');
    fc.assert(
      fc.property(field, fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 900_000 }), fc.boolean(), (which, delta, gap, headersOnly) => {
        // Content differences are only visible with the frame's bytes (see the A/AAAA case).
        const withBytes = which === 'payloadByte' || !headersOnly;
        const base = { src: 1, dst: 2, sport: 1000, dport: 80, tcp: true, id: 100, seq: 5000, ack: 9000, flags: 0x18, window: 500, byte: 7, len: 40, icmp: false, type: 8, code: 0, icmpId: 3, icmpSeq: 4, frag: 0 };
        const other = { ...base };
        // Content counts where headers cannot tell packets apart (not TCP): vary it over UDP.
        if (which === 'payloadByte') base.tcp = other.tcp = false;
        if (which.startsWith('icmp')) {
          base.icmp = other.icmp = true;
          base.tcp = other.tcp = false;
        }
        switch (which) {
          case 'src': other.src += delta; break;
          case 'dst': other.dst += delta; break;
          case 'sport': other.sport += delta; break;
          case 'dport': other.dport += delta; break;
          case 'proto': other.tcp = false; break;
          case 'id': other.id += delta; break;
          case 'seq': other.seq += delta; break;
          case 'ack': other.ack += delta; break;
          case 'flags': other.flags ^= 1 + (delta % 0x7f); break;
          case 'window': other.window += delta; break;
          case 'payloadByte': other.byte += delta; break;
          case 'payloadLength': other.len += delta; break;
          case 'icmpType': other.type = 0; break;
          case 'icmpCode': other.code += delta; break;
          case 'icmpId': other.icmpId += delta; break;
          case 'icmpSeq': other.icmpSeq += delta; break;
          case 'fragOffset': other.frag = 8 * delta; break;
        }
        const build = (o: typeof base) => {
          const payload = new Array<number>(o.len).fill(0).map((_, i) => (i === 3 ? o.byte : i & 0xff));
          const l4 = o.icmp
            ? icmp4({ type: o.type, code: o.code, id: o.icmpId, seq: o.icmpSeq }, payload)
            : o.tcp
              ? tcp({ sport: o.sport, dport: o.dport, flags: o.flags, seq: o.seq, ack: o.ack, window: o.window }, payload)
              : udp({ sport: o.sport, dport: o.dport }, payload);
          const proto = o.icmp ? IpProto.ICMP : o.tcp ? IpProto.TCP : IpProto.UDP;
          return ipv4({ src: `10.0.0.${o.src}`, dst: `10.0.1.${o.dst}`, proto, id: o.id, fragOffset: o.frag, mf: o.frag > 0 }, l4);
        };
        const d = new Deduplicator();
        const a = at(build(base), 5, 0);
        const b = at(build(other), 4, 4);
        expect(d.isDuplicate(a.p, T, 0, withBytes ? a.f : undefined)).toBe(false);
        expect(d.isDuplicate(b.p, T, gap, withBytes ? b.f : undefined)).toBe(false);
        // Control: the unchanged packet at the second point is a duplicate.
        const c = at(build(base), 4, 4);
        expect(d.isDuplicate(c.p, T, gap, withBytes ? c.f : undefined)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('is bounded: a packet pushed out of its bucket is no longer matched (never wrongly merged)', () => {
    const d = new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 4); // one bucket of four ways
    expect(d.capacity).toBe(4);
    const pkts = [1, 2, 3, 4, 5].map((seq) => tcpPacket({ seq }));
    pkts.forEach((ip, i) => expect(seen(d, at(ip, 5, 0), i * 1000)).toBe(false));
    expect(seen(d, at(pkts[0]!, 4, 4), 6000)).toBe(false); // the oldest was replaced
    expect(seen(d, at(pkts[4]!, 4, 4), 7000)).toBe(true);
    expect(() => new Deduplicator(-1)).toThrow(RangeError);
    expect(() => new Deduplicator(1000, 2)).toThrow(RangeError);
  });

  it('one point, then a second: a copy right after the second point first appears is merged', () => {
    // The first point's packets are kept in the fast path's ring, flushed into the table when
    // the second point appears (its first packet is itself a copy).
    const d = new Deduplicator();
    const pkts = [1, 2, 3, 4].map((seq) => tcpPacket({ seq }));
    pkts.forEach((ip, i) => expect(seen(d, at(ip, 5, 0), i * 100)).toBe(false));
    expect(seen(d, at(pkts[0]!, 4, 4), 500)).toBe(true);
    expect(seen(d, at(pkts[3]!, 4, 4), 600)).toBe(true);
    expect(seen(d, at(pkts[3]!, 4, 4), 700)).toBe(false); // again at that point: a new packet
    expect(seen(d, at(pkts[1]!, 3, 4), 800)).toBe(true); // a third point
    expect(seen(d, at(pkts[2]!, 5, 0), 900)).toBe(false); // same point, same bytes: new
    expect(d.duplicates).toBe(3);
    // After clear() the fast path starts again: the first point is whatever comes first.
    d.clear();
    expect(seen(d, at(pkts[0]!, 4, 4), 0)).toBe(false);
    expect(seen(d, at(pkts[0]!, 5, 0), 100)).toBe(true);
    // The ring keeps only the recent packets: a copy after the window is a new packet.
    const e = new Deduplicator();
    expect(seen(e, at(pkts[0]!, 5, 0), 0)).toBe(false);
    for (let i = 1; i <= 50; i++) expect(seen(e, at(pkts[1]!, 5, 0), i * 100_000)).toBe(false);
    expect(seen(e, at(pkts[0]!, 4, 4), 5_000_001)).toBe(false);
    expect(seen(e, at(pkts[1]!, 4, 4), 5_000_002)).toBe(true);
    // The clock may step back by up to a window: a copy then still finds a packet more than a
    // window older than the latest one.
    const g = new Deduplicator();
    pkts.forEach((ip, i) => expect(seen(g, at(ip, 5, 0), i * 500_000)).toBe(false));
    expect(seen(g, at(pkts[0]!, 4, 4), 600_000)).toBe(true);
    // A full ring (more packets than it holds within two windows) ends the fast path alike.
    const h = new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 64);
    const many = Array.from({ length: 70 }, (_, i) => at(tcpPacket({ seq: 100 + i }), 5, 0));
    for (let i = 0; i <= 4096; i++) expect(seen(h, many[i % 70]!, 10 * i)).toBe(false);
    expect(seen(h, at(tcpPacket({ seq: 100 + (4095 % 70) }), 4, 4), 40_961)).toBe(true); // flushed from the ring
    expect(seen(h, at(tcpPacket({ seq: 100 + (4096 % 70) }), 4, 4), 40_962)).toBe(true); // stored in the table
  });

  it('the single-point fast path decides exactly as the table alone (evictions, ties, stale rows, steps back)', () => {
    const decoded = atThreePoints(12);
    fc.assert(
      fc.property(
        // Steps in windows: mostly none (equal times, so equally old ways), some small ones
        // forward and back, and gaps of 2.5 windows (stale rows the fast path has dropped).
        fc.array(
          fc.record(
            packetEvent(
              decoded,
              fc.oneof(
                { arbitrary: fc.constant(0), weight: 5 },
                { arbitrary: fc.double({ min: -1, max: 0.5, noNaN: true }), weight: 3 },
                { arbitrary: fc.constant(2.5), weight: 1 },
              ),
            ),
          ),
          { minLength: 1, maxLength: 120 },
        ),
        fc.nat(120),
        fc.constantFrom(4, 8, 16),
        fc.constantFrom(1_000_000, 2_000_000),
        (events, firstOther, capacity, windowNs) => {
          const fast = new Deduplicator(windowNs, capacity);
          const slow = new Deduplicator(windowNs, capacity, false);
          const clock = new StreamClock(10_000_000, windowNs, true);
          events.forEach((ev, i) => {
            const ns = clock.step(ev.step);
            const x = decoded[ev.pkt]![i < firstOther ? 0 : ev.point]!;
            expect(seen(fast, x, ns)).toBe(seen(slow, x, ns));
          });
          expect(fast.duplicates).toBe(slow.duplicates);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('one bucket: the way replaced is the oldest, a time ahead counting as now, the clock going back and forth (model)', () => {
    // Capacity 4 is one bucket of four ways, so the table's rule is simple enough for a model:
    // a packet matches the way with its record; otherwise it takes a free way, else the one of
    // the largest age max(0, now - time). Runs stop where that age is shared (the table breaks
    // such ties by its hash, which the model does not know).
    const decoded = atThreePoints(8);
    let compared = 0;
    let copies = 0;
    let evictions = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pkt: fc.nat(7),
            point: fc.nat(2),
            step: fc.oneof(
              { arbitrary: fc.constant(0), weight: 1 },
              { arbitrary: fc.integer({ min: -600, max: 1200 }).map((x) => x / 1000), weight: 8 },
              { arbitrary: fc.integer({ min: -30, max: 40 }), weight: 1 },
            ),
          }),
          { minLength: 20, maxLength: 100 },
        ),
        fc.constantFrom(1_000_000, 2_000_000),
        fc.constantFrom(2, 8, undefined),
        fc.boolean(),
        (events, windowNs, ringRows, fastPath) => {
          const d = new Deduplicator(windowNs, 4, fastPath, ringRows);
          const ways: Array<{ pkt: number; t: number; points: Set<number> }> = [];
          const clock = new StreamClock(100_000_000, windowNs, fastPath);
          for (const ev of events) {
            const ns = clock.step(ev.step);
            let expected: boolean;
            const w = ways.find((x) => x.pkt === ev.pkt);
            if (w !== undefined && Math.abs(ns - w.t) <= windowNs && !w.points.has(ev.point)) {
              if (w.points.size < 4) w.points.add(ev.point);
              expected = true;
            } else {
              const entry = { pkt: ev.pkt, t: ns, points: new Set([ev.point]) };
              if (w !== undefined) ways[ways.indexOf(w)] = entry;
              else if (ways.length < 4) ways.push(entry);
              else {
                const ages = ways.map((x) => Math.max(0, ns - x.t));
                const oldest = Math.max(...ages);
                if (ages.filter((a) => a === oldest).length > 1) return;
                ways[ages.indexOf(oldest)] = entry;
                evictions++;
              }
              expected = false;
            }
            expect(seen(d, decoded[ev.pkt]![ev.point]!, ns)).toBe(expected);
            compared++;
            if (expected) copies++;
          }
        },
      ),
      { numRuns: 2500 },
    );
    expect(compared).toBeGreaterThan(25_000);
    expect(copies).toBeGreaterThan(3_000);
    expect(evictions).toBeGreaterThan(3_000);
  });

  it('records moved out of the ring (spill rows) are still found', () => {
    // A ring of two rows: each new packet's row overwrites the one two packets back, which its
    // way still refers to and which therefore moves to that way's spill row.
    const d = new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 8, false, 2);
    const pkts = [1, 2, 3, 4, 5].map((seq) => tcpPacket({ seq }));
    pkts.forEach((ip, i) => expect(seen(d, at(ip, 5, 0), i * 1000)).toBe(false));
    expect(seen(d, at(pkts[0]!, 4, 4), 6000)).toBe(true); // spilled three times over
    expect(seen(d, at(pkts[4]!, 4, 4), 7000)).toBe(true); // still in the ring
    expect(seen(d, at(pkts[0]!, 3, 4), 8000)).toBe(true); // its third point, in the spill row
    expect(seen(d, at(pkts[0]!, 4, 4), 9000)).toBe(false); // again at a point it was seen at
    expect(d.duplicates).toBe(3);
    expect(() => new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 8, true, 3)).toThrow(RangeError);
    expect(() => new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 8, true, 1)).toThrow(RangeError);
  });

  it("decisions do not depend on the ring's size (spills), whatever the clock does (property)", () => {
    const decoded = atThreePoints(24);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ...packetEvent(
              decoded,
              fc.oneof(
                { arbitrary: fc.constant(0), weight: 3 },
                { arbitrary: fc.double({ min: -1.5, max: 1, noNaN: true }), weight: 6 },
                { arbitrary: fc.double({ min: -50, max: 50, noNaN: true }), weight: 1 },
              ),
            ),
            clear: fc.nat(199),
          }),
          { minLength: 1, maxLength: 200 },
        ),
        fc.constantFrom(4, 8, 16, 64),
        fc.constantFrom(2, 4, 16),
        fc.constantFrom(1_000_000, 2_000_000),
        fc.boolean(),
        (events, capacity, ringRows, windowNs, fastPath) => {
          // The reference: the default ring (thousands of rows: no spill here), no fast path.
          const small = new Deduplicator(windowNs, capacity, fastPath, ringRows);
          const ref = new Deduplicator(windowNs, capacity, false);
          const clock = new StreamClock(100_000_000, windowNs, fastPath);
          for (const ev of events) {
            const ns = clock.step(ev.step);
            const x = decoded[ev.pkt]![ev.point]!;
            expect(seen(small, x, ns)).toBe(seen(ref, x, ns));
            if (ev.clear === 0) {
              small.clear();
              ref.clear();
              clock.restart();
            }
          }
          expect(small.duplicates).toBe(ref.duplicates);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('non-IP packets are never duplicates', () => {
    const d = new Deduplicator();
    const arpFrame = frameOf(sll2(EtherType.ARP, [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2], { ifIndex: 3 }), LinkType.LINUX_SLL2);
    const p = new DecodedPacket();
    decodeBytes(arpFrame.data, arpFrame.offset, arpFrame.caplen, arpFrame.length, arpFrame.linkType, p);
    expect(d.isDuplicate(p, T, 0)).toBe(false);
    expect(d.isDuplicate(p, T, 1)).toBe(false);
  });

  it('allocates nothing per packet (no garbage collection over a million calls)', async () => {
    const d = new Deduplicator();
    const xs = [
      at(tcpPacket(), 5, 0),
      at(tcpPacket({ ttl: 63 }), 4, 4),
      at(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: IpProto.UDP }, udp({ sport: 1, dport: 2 }, [1, 2, 3])), 3, 0, EtherType.IPV6),
      at(ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.ICMP }, icmp4({ type: 8, id: 1, seq: 2 })), 6, 0),
    ];
    let dups = 0;
    const loop = (n: number) => {
      for (let i = 0; i < n; i++) {
        const x = xs[i & 3]!;
        if (d.isDuplicate(x.p, T + (i >> 10), (i & 1023) * 1000, x.f)) dups++;
      }
    };
    loop(200_000);
    await new Promise((r) => setTimeout(r, 200));
    const gcs = await countGcs(() => loop(1_000_000));
    expect(dups).toBeGreaterThan(0);
    expect(gcs).toBe(0);
  });
});
