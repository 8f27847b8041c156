// The packet the native fast path works on: the fields of src/decode/packet.ts DecodedPacket
// that duplicate suppression, conntrack and the summary read, for the packets the fast path
// takes (decode.h FastDecode): IPv4 or IPv6, no decode error, no tunnel, not a fragment, TCP,
// UDP or an ICMP/ICMPv6 echo. Everything else goes to the TypeScript program.
//
// Names and values are DecodedPacket's, with one difference: offsets count from the frame's
// first byte (DecodedPacket's count from the start of the reader's chunk).
#ifndef HUBCAP_NATIVE_FASTPATH_PACKET_H_
#define HUBCAP_NATIVE_FASTPATH_PACKET_H_

#include <cstdint>

namespace hubcap::fastpath {

// src/decode/packet.ts PacketKind.
enum PacketKindValue : int32_t { kKindOther = 0, kKindTcp = 1, kKindUdp = 2, kKindSctp = 3, kKindIcmp = 4, kKindIcmpv6 = 5 };

struct FastPacket {
  int32_t kind = 0;
  int32_t linkType = 0;
  int32_t vlan0 = -1;
  int32_t sllPacketType = -1;
  int32_t ifIndex = -1;
  int32_t ipVersion = 0;
  // Four words each, as DecodedPacket.src/dst hold them (IPv4 as IPv4-mapped: 0, 0, 0xffff, addr).
  uint32_t src[4] = {0, 0, 0, 0};
  uint32_t dst[4] = {0, 0, 0, 0};
  int32_t ipProto = 0;
  int32_t ipLength = 0;
  int32_t ipId = 0;
  int32_t hasPorts = 0;
  int32_t sport = 0;
  int32_t dport = 0;
  int32_t tcpFlags = 0;
  uint32_t tcpSeq = 0;
  uint32_t tcpAck = 0;
  int32_t tcpWindow = 0;
  // From the frame's first byte; -1 when none.
  int32_t l4Offset = -1;
  int32_t l4Length = 0;
  int32_t icmpType = -1;
  int32_t icmpCode = -1;
  int32_t icmpId = -1;
  int32_t icmpSeq = -1;
  // Captured bytes of the frame (DecodedPacket.captureEnd - frame offset).
  int32_t captureLength = 0;
};

// FastPacket as an Int32Array (test bindings: TypeScript packs a DecodedPacket this way,
// test/helpers/fast-packet.ts, and compares what FastDecode produced). Word indexes:
enum PackedField : int {
  kPKind = 0,
  kPLinkType,
  kPVlan0,
  kPSllPacketType,
  kPIfIndex,
  kPIpVersion,
  kPSrc0,
  kPSrc1,
  kPSrc2,
  kPSrc3,
  kPDst0,
  kPDst1,
  kPDst2,
  kPDst3,
  kPIpProto,
  kPIpLength,
  kPIpId,
  kPHasPorts,
  kPSport,
  kPDport,
  kPTcpFlags,
  kPTcpSeq,
  kPTcpAck,
  kPTcpWindow,
  kPL4Offset,
  kPL4Length,
  kPIcmpType,
  kPIcmpCode,
  kPIcmpId,
  kPIcmpSeq,
  kPCaptureLength,
  kPackedWords,
};

inline void PackFastPacket(const FastPacket& p, int32_t* out) {
  out[kPKind] = p.kind;
  out[kPLinkType] = p.linkType;
  out[kPVlan0] = p.vlan0;
  out[kPSllPacketType] = p.sllPacketType;
  out[kPIfIndex] = p.ifIndex;
  out[kPIpVersion] = p.ipVersion;
  for (int i = 0; i < 4; i++) {
    out[kPSrc0 + i] = static_cast<int32_t>(p.src[i]);
    out[kPDst0 + i] = static_cast<int32_t>(p.dst[i]);
  }
  out[kPIpProto] = p.ipProto;
  out[kPIpLength] = p.ipLength;
  out[kPIpId] = p.ipId;
  out[kPHasPorts] = p.hasPorts;
  out[kPSport] = p.sport;
  out[kPDport] = p.dport;
  out[kPTcpFlags] = p.tcpFlags;
  out[kPTcpSeq] = static_cast<int32_t>(p.tcpSeq);
  out[kPTcpAck] = static_cast<int32_t>(p.tcpAck);
  out[kPTcpWindow] = p.tcpWindow;
  out[kPL4Offset] = p.l4Offset;
  out[kPL4Length] = p.l4Length;
  out[kPIcmpType] = p.icmpType;
  out[kPIcmpCode] = p.icmpCode;
  out[kPIcmpId] = p.icmpId;
  out[kPIcmpSeq] = p.icmpSeq;
  out[kPCaptureLength] = p.captureLength;
}

inline void UnpackFastPacket(const int32_t* in, FastPacket* p) {
  p->kind = in[kPKind];
  p->linkType = in[kPLinkType];
  p->vlan0 = in[kPVlan0];
  p->sllPacketType = in[kPSllPacketType];
  p->ifIndex = in[kPIfIndex];
  p->ipVersion = in[kPIpVersion];
  for (int i = 0; i < 4; i++) {
    p->src[i] = static_cast<uint32_t>(in[kPSrc0 + i]);
    p->dst[i] = static_cast<uint32_t>(in[kPDst0 + i]);
  }
  p->ipProto = in[kPIpProto];
  p->ipLength = in[kPIpLength];
  p->ipId = in[kPIpId];
  p->hasPorts = in[kPHasPorts];
  p->sport = in[kPSport];
  p->dport = in[kPDport];
  p->tcpFlags = in[kPTcpFlags];
  p->tcpSeq = static_cast<uint32_t>(in[kPTcpSeq]);
  p->tcpAck = static_cast<uint32_t>(in[kPTcpAck]);
  p->tcpWindow = in[kPTcpWindow];
  p->l4Offset = in[kPL4Offset];
  p->l4Length = in[kPL4Length];
  p->icmpType = in[kPIcmpType];
  p->icmpCode = in[kPIcmpCode];
  p->icmpId = in[kPIcmpId];
  p->icmpSeq = in[kPIcmpSeq];
  p->captureLength = in[kPCaptureLength];
}

}  // namespace hubcap::fastpath

#endif  // HUBCAP_NATIVE_FASTPATH_PACKET_H_
