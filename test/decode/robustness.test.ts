/**
 * Garbage never throws: every DecodeError is reachable from some frame, random bytes and
 * mutated real frames decode without exceptions into records that keep their invariants, and a
 * reused record carries nothing over from the previous packet.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Frame, LinkType } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DECODE_ERROR_TEXT, DecodeError, DecodedPacket, EtherType, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import {
  arp,
  decode,
  ethernet,
  extHeader,
  frameOf,
  geneve,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  loopback,
  sctp,
  sll,
  sll2,
  tcp,
  udp,
  vxlan,
  type Bytes,
} from '../helpers/decode-build.js';

const RAW = LinkType.RAW;
const syn = tcp({ sport: 1, dport: 2, flags: TcpFlag.SYN });
const ip4tcp = ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: IpProto.TCP }, syn);
const vx = (inner: Bytes, flags = 0x08) =>
  ethernet(EtherType.IPV4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IpProto.UDP }, udp({ sport: 9, dport: 8472 }, vxlan(1, inner, flags))));

/** One frame per error code (the code's name is the case name). */
const ERROR_CASES: Record<keyof typeof DecodeError, () => DecodedPacket> = {
  NONE: () => decode(ip4tcp, RAW),
  UNSUPPORTED_LINKTYPE: () => decode(ip4tcp, 999),
  TRUNCATED_L2: () => decode(ethernet(EtherType.IPV4, ip4tcp), LinkType.ETHERNET, { caplen: 10 }),
  TRUNCATED_IP: () => decode(ip4tcp, RAW, { caplen: 12 }),
  BAD_IP_VERSION: () => decode(ethernet(EtherType.IPV4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, version: 7 }, syn))),
  BAD_IP_HEADER_LENGTH: () => decode(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, ihl: 2 }, syn), RAW),
  BAD_IP_TOTAL_LENGTH: () => decode(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, totalLength: 1500 }, syn), RAW),
  TRUNCATED_EXT_HEADER: () =>
    decode(ipv6({ src: '::1', dst: '::2', nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.TCP, syn, 3)), RAW, { caplen: 50 }),
  TRUNCATED_L4: () => decode(ipv6({ src: '::1', dst: '::2', nextHeader: IpProto.UDP }, udp({ sport: 1, dport: 2 })), RAW, { caplen: 45 }),
  BAD_TCP_DATA_OFFSET: () => decode(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6 }, tcp({ sport: 1, dport: 2, flags: 2, dataOffset: 8 })), RAW),
  TRUNCATED_ENCAP: () => decode(vx(ethernet(EtherType.IPV4, ip4tcp)), LinkType.ETHERNET, { caplen: 14 + 20 + 8 + 7 }),
  TOO_MANY_HEADERS: () => decode(ethernet(EtherType.IPV4, ip4tcp, { vlans: [1, 2, 3, 4, 5].map((id) => ({ id })) })),
  TRUNCATED_ARP: () => decode(ethernet(EtherType.ARP, arp({ op: 1, senderIp: '1.1.1.1', targetIp: '2.2.2.2' })), LinkType.ETHERNET, { caplen: 30 }),
  BAD_ENCAP_HEADER: () => decode(vx(ethernet(EtherType.IPV4, ip4tcp), 0)),
};

describe('every DecodeError is reachable', () => {
  test('the text table covers every code', () => {
    for (const code of Object.values(DecodeError)) expect(typeof DECODE_ERROR_TEXT[code]).toBe('string');
    expect(DECODE_ERROR_TEXT.length).toBe(Object.keys(DecodeError).length);
  });

  test.each(Object.keys(ERROR_CASES) as (keyof typeof DecodeError)[])('%s', (name) => {
    expect(ERROR_CASES[name]().error).toBe(DecodeError[name]);
  });
});

// ---------------------------------------------------------------------------------------------
// Invariants of any decoded record

function checkInvariants(p: DecodedPacket, f: Frame): void {
  const end = f.offset + f.caplen;
  expect(DECODE_ERROR_TEXT[p.error]).toBeTypeOf('string');
  expect([0, 4, 6]).toContain(p.ipVersion);
  expect(p.kind).toBeGreaterThanOrEqual(PacketKind.OTHER);
  expect(p.kind).toBeLessThanOrEqual(PacketKind.IP_OTHER);
  if (p.hasPorts) expect([PacketKind.TCP, PacketKind.UDP, PacketKind.SCTP]).toContain(p.kind);
  for (const v of [p.sport, p.dport, p.outerSport, p.outerDport, p.icmpInnerSport, p.icmpInnerDport]) {
    expect(v >= 0 && v <= 0xffff).toBe(true);
  }
  if (p.l3Offset >= 0) expect(p.l3Offset >= f.offset && p.l3Offset <= end).toBe(true);
  if (p.payloadOffset >= 0) {
    expect(p.payloadOffset >= f.offset).toBe(true);
    expect(p.payloadOffset + p.payloadLength).toBeLessThanOrEqual(end);
    expect(p.payloadLength).toBeLessThanOrEqual(p.payloadWireLength);
  }
  if (p.ipVersion === 4) expect(p.src[2]).toBe(0xffff);
  if (p.isFragment && p.fragOffset > 0) expect(p.hasPorts).toBe(false);
  if (p.icmpType >= 0) expect([PacketKind.ICMP, PacketKind.ICMPV6]).toContain(p.kind);
  expect(p.tcpFlags).toBeLessThanOrEqual(0x1ff);
}

const LINK_TYPES = [LinkType.ETHERNET, LinkType.RAW, LinkType.IPV4, LinkType.IPV6, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP];

/** Valid frames of every kind, for mutation. */
const SEEDS: Array<[number, Uint8Array]> = [
  [LinkType.ETHERNET, ethernet(EtherType.IPV4, ip4tcp, { vlans: [{ id: 5 }, { id: 6 }] })],
  [LinkType.ETHERNET, vx(ethernet(EtherType.IPV4, ip4tcp))],
  [LinkType.ETHERNET, vx(ethernet(EtherType.ARP, arp({ op: 2, senderIp: '1.2.3.4', targetIp: '5.6.7.8' })))],
  [
    LinkType.ETHERNET,
    ethernet(EtherType.IPV4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 17 }, udp({ sport: 3, dport: 6081 }, geneve(9, EtherType.TEB, ethernet(EtherType.IPV6, ipv6({ src: '::1', dst: '::2', nextHeader: 58 }, icmp6({ type: 128, id: 1, seq: 1 }))), [0, 1, 2, 3])))),
  ],
  [LinkType.RAW, ipv6({ src: '::1', dst: '::2', nextHeader: IpProto.HOPOPTS }, extHeader(IpProto.SCTP, sctp({ sport: 1, dport: 2 })))],
  [LinkType.RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 1 }, icmp4({ type: 3, code: 3 }, ipv4({ src: '2.2.2.2', dst: '1.1.1.1', proto: 17 }, udp({ sport: 5, dport: 53 }))))],
  [LinkType.LINUX_SLL2, sll2(EtherType.IPV6, ipv6({ src: '::1', dst: '::2', nextHeader: 58 }, icmp6({ type: 1 }, ipv6({ src: '::2', dst: '::1', nextHeader: 6 }, syn))))],
  [LinkType.LINUX_SLL, sll(EtherType.IPV4, ip4tcp)],
  [LinkType.NULL, loopback(2, ip4tcp, true)],
];

function decodeChecked(bytes: Uint8Array, linkType: number, caplen: number, length: number, out: DecodedPacket): void {
  const f = frameOf(bytes, linkType, { caplen, length, offsetInChunk: 3 });
  expect(() => decodeFrame(f, out)).not.toThrow();
  checkInvariants(out, f);
}

describe('garbage never throws (fast-check)', () => {
  test('random bytes on every link type', () => {
    const out = new DecodedPacket();
    fc.assert(
      fc.property(fc.constantFrom(...LINK_TYPES), fc.uint8Array({ maxLength: 200 }), fc.nat(300), (lt, bytes, extra) => {
        decodeChecked(bytes, lt, bytes.length, bytes.length + extra, out);
      }),
      { numRuns: 5000 },
    );
  });

  test('mutated valid frames: flipped bytes, cut snaplen, wrong original length', () => {
    const out = new DecodedPacket();
    fc.assert(
      fc.property(
        fc.constantFrom(...SEEDS),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
        fc.integer({ min: -100, max: 100 }),
        ([lt, seed], flips, cut, lenDelta) => {
          const bytes = seed.slice();
          for (const [pos, val] of flips) bytes[pos % bytes.length] = val;
          const caplen = cut % (bytes.length + 1);
          const length = Math.max(0, bytes.length + lenDelta);
          decodeChecked(bytes, lt, caplen, length, out);
          // Bytes past caplen must never be read: other junk around the frame, same record.
          const first = snapshot(out);
          decodeFrame(frameOf(bytes, lt, { caplen, length, offsetInChunk: 3, fill: 0x00 }), out);
          expect(snapshot(out)).toEqual(first);
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('a reused record equals a fresh one (reset clears everything)', () => {
    const reused = new DecodedPacket();
    fc.assert(
      fc.property(fc.constantFrom(...SEEDS), fc.constantFrom(...SEEDS), fc.nat(), ([lt1, a], [lt2, b], cut) => {
        decodeFrame(frameOf(a, lt1), reused);
        const f = frameOf(b, lt2, { caplen: cut % (b.length + 1), length: b.length });
        decodeFrame(f, reused);
        const fresh = new DecodedPacket();
        decodeFrame(f, fresh);
        expect(snapshot(reused)).toEqual(snapshot(fresh));
      }),
      { numRuns: 500 },
    );
  });
});

function snapshot(p: DecodedPacket): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) {
    // `data` is a reference to the frame's bytes, not decoded state.
    if (k === 'data') continue;
    o[k] = v instanceof Uint32Array ? Array.from(v) : v;
  }
  return o;
}
