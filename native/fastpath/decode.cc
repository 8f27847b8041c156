// FastDecode: src/decode/decode.ts decodeBytes, for the packets the fast path takes (packet.h;
// test/helpers/fast-packet.ts isFastEligible is the oracle). Each function below names the TS
// function it mirrors. The rule throughout: wherever the TS decoder would set `error`, stop with
// kind OTHER / IP_OTHER / ARP / SCTP, record a tunnel (encap), a fragment or a quoted ICMP error,
// FastDecode returns false (the TypeScript program decodes that packet). Everything else is the
// same arithmetic on the same bytes.
//
// Positions are relative to the frame's first byte (TS: absolute indexes into the chunk; every
// TS comparison is between two such indexes or an index and a length, so the shift is exact).
// They are int64_t: `wire` comes from the record's original length (up to 2^32 - 1) and the IP
// lengths are added to it, which TS does in doubles without overflow.
//
// Accepted link types: ETHERNET (802.1Q / 802.1ad / 0x9100 tags, up to MAX_VLAN_TAGS = 4),
// LINUX_SLL, LINUX_SLL2 (and the tags libpcap re-inserts after them), RAW, IPV4, IPV6, NULL,
// LOOP: all the ones decodeBytes knows. Nothing is rejected that the oracle takes.
#include "decode.h"

#include <cstring>

namespace hubcap::fastpath {

namespace {

// src/decode/packet.ts EtherType, IpProto; src/capture/frame.ts LinkType.
constexpr uint32_t kEtherIpv4 = 0x0800;
constexpr uint32_t kEtherIpv6 = 0x86dd;
constexpr uint32_t kEtherVlan = 0x8100;
constexpr uint32_t kEtherQinq = 0x88a8;
constexpr uint32_t kEtherQinqOld = 0x9100;

constexpr uint32_t kProtoHopOpts = 0;
constexpr uint32_t kProtoIcmp = 1;
constexpr uint32_t kProtoTcp = 6;
constexpr uint32_t kProtoUdp = 17;
constexpr uint32_t kProtoRouting = 43;
constexpr uint32_t kProtoFragment = 44;
constexpr uint32_t kProtoAh = 51;
constexpr uint32_t kProtoIcmpv6 = 58;
constexpr uint32_t kProtoDstOpts = 60;

constexpr uint32_t kLinkNull = 0;
constexpr uint32_t kLinkEthernet = 1;
constexpr uint32_t kLinkRaw = 101;
constexpr uint32_t kLinkLoop = 108;
constexpr uint32_t kLinkSll = 113;
constexpr uint32_t kLinkIpv4 = 228;
constexpr uint32_t kLinkIpv6 = 229;
constexpr uint32_t kLinkSll2 = 276;

// decode.ts MAX_VLAN_TAGS, IPV6_MAX_HEADERS, VXLAN_PORT_IANA/LINUX, GENEVE_PORT, ARPHRD_NETLINK.
constexpr int kMaxVlanTags = 4;
constexpr int kIpv6MaxHeaders = 4;
constexpr uint32_t kPortVxlanIana = 4789;
constexpr uint32_t kPortVxlanLinux = 8472;
constexpr uint32_t kPortGeneve = 6081;
constexpr uint32_t kArphrdNetlink = 824;

// One unaligned load and a byte swap each (the callers checked that the bytes are there).
inline uint32_t Be16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return __builtin_bswap16(v);
}

inline uint32_t Be32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

// TS `x | 0` of a length that may exceed int32 (packDecodedPacket packs every field that way).
inline int32_t ToInt32(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

// DecodedPacket.reset()'s values of the fields a protocol does not set. FastDecode writes every
// field of `out` once on the way to `true` instead of resetting the whole struct first.
inline void NoTcp(FastPacket* out) {
  out->tcpFlags = 0;
  out->tcpSeq = 0;
  out->tcpAck = 0;
  out->tcpWindow = 0;
}

inline void NoIcmp(FastPacket* out) {
  out->icmpType = -1;
  out->icmpCode = -1;
  out->icmpId = -1;
  out->icmpSeq = -1;
}

// decode.ts decodeTransport + decodeTcp / decodeUdp / decodeIcmp4 / decodeIcmp6 (decodeIcmpHeader,
// decodeIcmpEcho), depth 0. `end` is the IP packet's captured end (ipEnd), `wire` its end on the
// wire (ipWire). Sets l4Offset / l4Length as decodeTransport does.
inline bool Transport(const uint8_t* d, int64_t off, int64_t end, int64_t wire, uint32_t proto, int32_t ipVersion,
                      FastPacket* out) {
  out->l4Offset = ToInt32(off);
  out->l4Length = ToInt32(wire - off);
  const int64_t n = end - off;
  const uint8_t* h = d + off;
  if (proto == kProtoTcp) {
    // decodeTcp: a header shorter than 20 captured bytes is TRUNCATED_L4.
    if (n < 20) return false;
    const uint32_t b12 = h[12];
    const int64_t doff = static_cast<int64_t>(b12 >> 4) << 2;
    // BAD_TCP_DATA_OFFSET (doff < 20 or past the wire end), TRUNCATED_L4 (past the capture).
    if (doff < 20 || off + doff > wire || off + doff > end) return false;
    out->kind = kKindTcp;
    out->hasPorts = 1;
    out->sport = static_cast<int32_t>(Be16(h));
    out->dport = static_cast<int32_t>(Be16(h + 2));
    out->tcpFlags = static_cast<int32_t>(h[13] | ((b12 & 1) << 8));
    out->tcpSeq = Be32(h + 4);
    out->tcpAck = Be32(h + 8);
    out->tcpWindow = static_cast<int32_t>(Be16(h + 14));
    NoIcmp(out);
    return true;
  }
  if (proto == kProtoUdp) {
    // decodeUdp: fewer than 8 captured bytes is TRUNCATED_L4; the tunnel ports always end in a
    // tunnel (enterTunnel) or a bad tunnel (badTunnel): encap set either way.
    if (n < 8) return false;
    const uint32_t dport = Be16(h + 2);
    if (dport == kPortVxlanLinux || dport == kPortVxlanIana || dport == kPortGeneve) return false;
    out->kind = kKindUdp;
    out->hasPorts = 1;
    out->sport = static_cast<int32_t>(Be16(h));
    out->dport = static_cast<int32_t>(dport);
    NoTcp(out);
    NoIcmp(out);
    return true;
  }
  // decodeIcmp4 / decodeIcmp6 through decodeIcmpHeader: fewer than 8 bytes is TRUNCATED_L4. Only
  // echoes are taken, and only ICMP over IPv4 / ICMPv6 over IPv6 (isFastEligible); an echo never
  // quotes a packet (hasIcmpInner stays false).
  if (proto == kProtoIcmp) {
    if (ipVersion != 4 || n < 8) return false;
    const uint32_t type = h[0];
    if (type != 0 && type != 8) return false;
    out->kind = kKindIcmp;
  } else if (proto == kProtoIcmpv6) {
    if (ipVersion != 6 || n < 8) return false;
    const uint32_t type = h[0];
    if (type != 128 && type != 129) return false;
    out->kind = kKindIcmpv6;
  } else {
    return false;  // SCTP, IP_OTHER
  }
  out->hasPorts = 0;
  out->sport = 0;
  out->dport = 0;
  NoTcp(out);
  out->icmpType = h[0];
  out->icmpCode = h[1];
  out->icmpId = static_cast<int32_t>(Be16(h + 4));
  out->icmpSeq = static_cast<int32_t>(Be16(h + 6));
  return true;
}

// decode.ts decodeIpv4, depth 0.
inline bool Ipv4(const uint8_t* d, int64_t off, int64_t end, int64_t wire, FastPacket* out) {
  // TRUNCATED_IP (no byte or fewer than 20), BAD_IP_VERSION.
  if (end - off < 20) return false;
  const uint8_t* h = d + off;
  const uint32_t b0 = h[0];
  if ((b0 >> 4) != 4) return false;
  // isFragment: any of MF or the offset (mask 0x3fff); the DF and reserved bits do not count.
  if ((Be16(h + 6) & 0x3fff) != 0) return false;
  const int64_t ihl = static_cast<int64_t>(b0 & 0x0f) << 2;
  if (ihl < 20) return false;  // BAD_IP_HEADER_LENGTH
  const uint32_t rawTotal = Be16(h + 2);
  // Total length 0 (TSO / BIG TCP): the packet runs to the end of the frame on the wire.
  const int64_t total = rawTotal == 0 ? wire - off : static_cast<int64_t>(rawTotal);
  if (total < ihl || off + total > wire) return false;  // BAD_IP_TOTAL_LENGTH
  if (end - off < ihl) return false;                    // TRUNCATED_IP (options cut)
  out->ipVersion = 4;
  out->ipLength = static_cast<int32_t>(rawTotal);  // the field as read, before the 0 substitution
  out->ipId = static_cast<int32_t>(Be16(h + 4));
  const uint32_t proto = h[9];
  out->ipProto = static_cast<int32_t>(proto);
  // viewIpv4Addr: IPv4-mapped words.
  out->src[0] = 0;
  out->src[1] = 0;
  out->src[2] = 0xffff;
  out->src[3] = Be32(h + 12);
  out->dst[0] = 0;
  out->dst[1] = 0;
  out->dst[2] = 0xffff;
  out->dst[3] = Be32(h + 16);
  const int64_t ipWire = off + total;
  const int64_t ipEnd = ipWire < end ? ipWire : end;
  return Transport(d, off + ihl, ipEnd, ipWire, proto, 4, out);
}

// decode.ts decodeIpv6 with its extension-header walk, depth 0. Any fragment header sets
// isFragment (even offset 0), so it is rejected as soon as it is met.
inline bool Ipv6(const uint8_t* d, int64_t off, int64_t end, int64_t wire, FastPacket* out) {
  if (end - off < 40) return false;  // TRUNCATED_IP
  const uint8_t* h = d + off;
  if ((h[0] >> 4) != 6) return false;  // BAD_IP_VERSION
  const uint32_t payloadLen = Be16(h + 4);
  // Payload length 0 (jumbogram / BIG TCP): runs to the end of the frame on the wire.
  const int64_t ipWire = payloadLen == 0 ? wire : off + 40 + payloadLen;
  if (ipWire > wire) return false;  // BAD_IP_TOTAL_LENGTH
  const int64_t ipEnd = ipWire < end ? ipWire : end;
  uint32_t nh = h[6];
  int64_t p = off + 40;
  for (int i = 0;; i++) {
    if (nh != kProtoHopOpts && nh != kProtoRouting && nh != kProtoDstOpts && nh != kProtoFragment && nh != kProtoAh) break;
    if (nh == kProtoFragment) return false;  // isFragment
    if (i == kIpv6MaxHeaders) return false;  // TOO_MANY_HEADERS
    // Every extension header is at least 8 bytes (BAD_IP_TOTAL_LENGTH / TRUNCATED_EXT_HEADER).
    if (ipEnd - p < 8) return false;
    const int64_t len = nh == kProtoAh ? (static_cast<int64_t>(d[p + 1]) + 2) << 2 : (static_cast<int64_t>(d[p + 1]) + 1) << 3;
    if (p + len > ipEnd) return false;
    nh = d[p];
    p += len;
  }
  out->ipVersion = 6;
  out->ipLength = static_cast<int32_t>(40 + payloadLen);
  out->ipId = 0;  // only a fragment header sets it
  out->ipProto = static_cast<int32_t>(nh);
  out->src[0] = Be32(h + 8);
  out->src[1] = Be32(h + 12);
  out->src[2] = Be32(h + 16);
  out->src[3] = Be32(h + 20);
  out->dst[0] = Be32(h + 24);
  out->dst[1] = Be32(h + 28);
  out->dst[2] = Be32(h + 32);
  out->dst[3] = Be32(h + 36);
  return Transport(d, p, ipEnd, ipWire, nh, 6, out);
}

// decode.ts decodeEtherType, depth 0: the VLAN walk (vlan0 is the outermost tag's id), then
// IPv4 or IPv6 (ARP and everything else are not taken).
inline bool EtherTypeAt(const uint8_t* d, int64_t off, int64_t end, int64_t wire, uint32_t et, FastPacket* out) {
  int tags = 0;
  while (et == kEtherVlan || et == kEtherQinq || et == kEtherQinqOld) {
    if (tags == kMaxVlanTags) return false;  // TOO_MANY_HEADERS
    if (end - off < 4) return false;         // TRUNCATED_L2
    if (tags == 0) out->vlan0 = static_cast<int32_t>(((d[off] & 0x0f) << 8) | d[off + 1]);
    tags++;
    et = Be16(d + off + 2);
    off += 4;
  }
  if (et == kEtherIpv4) return Ipv4(d, off, end, wire, out);
  if (et == kEtherIpv6) return Ipv6(d, off, end, wire, out);
  return false;
}

// decode.ts decodeSllProtocol: not an EtherType on netlink monitors or below 0x0600.
inline bool SllProtocol(const uint8_t* d, int64_t off, int64_t end, int64_t wire, uint32_t hatype, uint32_t protocol,
                        FastPacket* out) {
  if (hatype == kArphrdNetlink || protocol < 0x0600) return false;
  return EtherTypeAt(d, off, end, wire, protocol, out);
}

}  // namespace

// decode.ts decodeBytes (the frame's bytes are exactly frame[0, caplen), so captureEnd is
// caplen), with decodeEthernet, decodeSll, decodeSll2, decodeRawIp and decodeLoopback inline.
bool FastDecode(const uint8_t* frame, uint32_t caplen, uint32_t wireLength, uint32_t linkType, FastPacket* out) {
  // DecodedPacket.reset() for the link fields; the layers below write all the others.
  out->vlan0 = -1;
  out->sllPacketType = -1;
  out->ifIndex = -1;
  out->linkType = static_cast<int32_t>(linkType);
  out->captureLength = static_cast<int32_t>(caplen);
  const uint8_t* d = frame;
  const int64_t end = caplen;
  const int64_t wire = wireLength < caplen ? end : static_cast<int64_t>(wireLength);
  // decodeEthernet: the common case first, without the switch's jump.
  if (linkType == kLinkEthernet) {
    if (end < 14) return false;
    return EtherTypeAt(d, 14, end, wire, Be16(d + 12), out);
  }
  switch (linkType) {
    case kLinkSll2: {  // decodeSll2
      if (end < 20) return false;
      out->ifIndex = static_cast<int32_t>(Be32(d + 4));
      out->sllPacketType = d[10];
      return SllProtocol(d, 20, end, wire, Be16(d + 8), Be16(d), out);
    }
    case kLinkSll:  // decodeSll
      if (end < 16) return false;
      out->sllPacketType = static_cast<int32_t>(Be16(d));
      return SllProtocol(d, 16, end, wire, Be16(d + 2), Be16(d + 14), out);
    case kLinkRaw:  // decodeRawIp: the version nibble picks the family
      if (end < 1) return false;
      if ((d[0] >> 4) == 4) return Ipv4(d, 0, end, wire, out);
      if ((d[0] >> 4) == 6) return Ipv6(d, 0, end, wire, out);
      return false;
    case kLinkIpv4:
      return Ipv4(d, 0, end, wire, out);
    case kLinkIpv6:
      return Ipv6(d, 0, end, wire, out);
    case kLinkNull:
    case kLinkLoop: {  // decodeLoopback
      if (end < 4) return false;
      uint32_t family = Be32(d);
      if (linkType == kLinkNull) {
        // Writer's byte order: the order with zero high bytes wins (Wireshark's packet-null.c).
        const uint32_t le = d[0] | (static_cast<uint32_t>(d[1]) << 8) | (static_cast<uint32_t>(d[2]) << 16) |
                            (static_cast<uint32_t>(d[3]) << 24);
        if ((le & 0xffff0000u) == 0) family = le;
      }
      if (family == 2) return Ipv4(d, 4, end, wire, out);
      if (family == 10 || family == 24 || family == 28 || family == 30) return Ipv6(d, 4, end, wire, out);
      return false;
    }
    default:
      return false;  // UNSUPPORTED_LINKTYPE
  }
}

}  // namespace hubcap::fastpath
