/**
 * The native fast path's packet (native/fastpath/packet.h FastPacket) from a TypeScript
 * DecodedPacket, packed as packet.h PackFastPacket packs it, and which packets the fast path
 * takes: the oracle of the fast path's differential tests.
 */
import { DecodeError, IpProto, PacketKind, type DecodedPacket } from '../../src/decode/packet.js';

/** packet.h PackedField order. */
export const PACKED_FIELDS = [
  'kind',
  'linkType',
  'vlan0',
  'sllPacketType',
  'ifIndex',
  'ipVersion',
  'src0',
  'src1',
  'src2',
  'src3',
  'dst0',
  'dst1',
  'dst2',
  'dst3',
  'ipProto',
  'ipLength',
  'ipId',
  'hasPorts',
  'sport',
  'dport',
  'tcpFlags',
  'tcpSeq',
  'tcpAck',
  'tcpWindow',
  'l4Offset',
  'l4Length',
  'icmpType',
  'icmpCode',
  'icmpId',
  'icmpSeq',
  'captureLength',
] as const;
export const PACKED_WORDS = PACKED_FIELDS.length;

/**
 * True for the packets the fast path takes (packet.h): IPv4 or IPv6, no decode error, no
 * tunnel, not a fragment, and TCP or UDP with ports, or an ICMP (over IPv4) / ICMPv6 (over
 * IPv6) echo request or reply.
 */
export function isFastEligible(p: DecodedPacket): boolean {
  if (p.error !== DecodeError.NONE || (p.ipVersion !== 4 && p.ipVersion !== 6) || p.encap !== 0 || p.isFragment || p.hasIcmpInner) return false;
  if (p.kind === PacketKind.TCP || p.kind === PacketKind.UDP) return p.hasPorts;
  if (p.kind === PacketKind.ICMP) return p.ipVersion === 4 && p.ipProto === IpProto.ICMP && (p.icmpType === 0 || p.icmpType === 8);
  if (p.kind === PacketKind.ICMPV6) return p.ipVersion === 6 && p.ipProto === IpProto.ICMPV6 && (p.icmpType === 128 || p.icmpType === 129);
  return false;
}

/** `p` packed as FastPacket (offsets from the frame's first byte, which is data[frameOffset]). */
export function packDecodedPacket(p: DecodedPacket, frameOffset: number, out = new Int32Array(PACKED_WORDS)): Int32Array {
  const v: Record<(typeof PACKED_FIELDS)[number], number> = {
    kind: p.kind,
    linkType: p.linkType,
    vlan0: p.vlan0,
    sllPacketType: p.sllPacketType,
    ifIndex: p.ifIndex,
    ipVersion: p.ipVersion,
    src0: p.src[0]!,
    src1: p.src[1]!,
    src2: p.src[2]!,
    src3: p.src[3]!,
    dst0: p.dst[0]!,
    dst1: p.dst[1]!,
    dst2: p.dst[2]!,
    dst3: p.dst[3]!,
    ipProto: p.ipProto,
    ipLength: p.ipLength,
    ipId: p.ipId,
    hasPorts: p.hasPorts ? 1 : 0,
    sport: p.sport,
    dport: p.dport,
    tcpFlags: p.tcpFlags,
    tcpSeq: p.tcpSeq,
    tcpAck: p.tcpAck,
    tcpWindow: p.tcpWindow,
    l4Offset: p.l4Offset < 0 ? -1 : p.l4Offset - frameOffset,
    l4Length: p.l4Length,
    icmpType: p.icmpType,
    icmpCode: p.icmpCode,
    icmpId: p.icmpId,
    icmpSeq: p.icmpSeq,
    captureLength: p.captureEnd - frameOffset,
  };
  PACKED_FIELDS.forEach((name, i) => {
    out[i] = v[name] | 0;
  });
  return out;
}

/** A packed FastPacket as a plain object (readable diffs). */
export function unpackFields(packed: Int32Array): Record<string, number> {
  const o: Record<string, number> = {};
  PACKED_FIELDS.forEach((name, i) => {
    o[name] = packed[i]!;
  });
  return o;
}
