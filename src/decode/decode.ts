/**
 * Frame bytes -> the flat DecodedPacket record: link layer, VLAN tags, IPv4/IPv6 (extension
 * headers, fragments), TCP/UDP/SCTP/ICMP/ICMPv6, ARP, and one level of VXLAN/Geneve overlay.
 *
 * Mirrors: the header walk of Cilium's bpf/lib/ipv4.h and bpf/lib/ipv6.h (ipv6_hdrlen_offset,
 * IPV6_MAX_HEADERS = 4), the tuple extraction of bpf/lib/conntrack.h (ct_extract_ports4/6: echo
 * identifier as a port, ICMP errors RELATED), and what the Linux receive path accepts
 * (ip_rcv_core, ipv6_rcv, vxlan_rcv, geneve_udp_encap_recv) where hubcap must say why a packet
 * would never reach Cilium's programs.
 *
 * Deliberate differences from the kernel: nothing is dropped here. A bad or cut packet still
 * yields a record with `error` set (DecodeError) and every field decoded up to that point, so
 * `hubcap packets` can show it and the datapath can count it.
 *
 * Hot-path rules (design.md §6): one record per pipeline reused via reset(); bytes read by
 * direct indexing of the Uint8Array, and the fixed 16- and 32-bit fields of the common headers
 * (Ethernet, IPv4, TCP, UDP) through one DataView per chunk (`bytesView`): one bounds check and a
 * byte swap instead of two or four checked byte loads, shifts and ors; no subarray; every read
 * is bounds-checked first so V8 never sees an out-of-range load (a DataView would throw); plain
 * module functions with number arguments, no closures.
 * Offsets are absolute indexes into `frame.data` (the reader's chunk). Two ends travel down the
 * walk: `end` (bytes present: caplen) and `wire` (bytes on the wire: the original length, then
 * the IP and UDP lengths); a header cut by the snaplen is TRUNCATED_*, a header that does not fit
 * even on the wire is BAD_*.
 */
import { LinkType as LinkTypeBinding, type Frame } from '../capture/frame.js';
import {
  DecodedPacket,
  DecodeError as DecodeErrorBinding,
  EncapType as EncapTypeBinding,
  EtherType as EtherTypeBinding,
  IpProto as IpProtoBinding,
  PacketKind as PacketKindBinding,
} from './packet.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const LinkType = LinkTypeBinding;
const DecodeError = DecodeErrorBinding;
const EncapType = EncapTypeBinding;
const EtherType = EtherTypeBinding;
const IpProto = IpProtoBinding;
const PacketKind = PacketKindBinding;

/** VLAN tags walked before giving up (802.1Q, QinQ 802.1ad, and the old 0x9100 QinQ). */
export const MAX_VLAN_TAGS = 4;
/** Cilium bpf/lib/ipv6.h: "Number of extension headers that can be skipped". */
export const IPV6_MAX_HEADERS = 4;

/** UDP destination ports decoded as overlays: IANA VXLAN, Linux/Cilium VXLAN, Geneve. */
export const VXLAN_PORT_IANA = 4789;
export const VXLAN_PORT_LINUX = 8472;
export const GENEVE_PORT = 6081;

// The exported constants above as module-local consts for the decoders: an exported binding is a
// cell that optimized code loads and hole-checks at every use, a local const folds.
const VLAN_TAGS_MAX = MAX_VLAN_TAGS;
const IPV6_HEADERS_MAX = IPV6_MAX_HEADERS;
const PORT_VXLAN_IANA = VXLAN_PORT_IANA;
const PORT_VXLAN_LINUX = VXLAN_PORT_LINUX;
const PORT_GENEVE = GENEVE_PORT;

/** Linux ARPHRD_NETLINK: an SLL "protocol" field then holds a netlink family, not an EtherType. */
const ARPHRD_NETLINK = 824;

/**
 * Decodes one frame into `out` (reset first). Never throws on packet contents.
 * The frame's bytes are data[offset, offset + caplen).
 */
/**
 * The DataView over the bytes being decoded, set by decodeBytes before any header is read (the
 * decoders below it read `current.view`): one DataView per chunk, since a reader hands over the
 * frames of a chunk in a row. Holds a reference to the last chunk decoded. Fields of a const
 * object rather than module `let`s, which optimized code would check for the TDZ hole at every
 * read.
 */
const current: { bytes: Uint8Array; view: DataView } = { bytes: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)) };

function bytesView(d: Uint8Array): DataView {
  if (d !== current.bytes) {
    current.view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    current.bytes = d;
  }
  return current.view;
}

export function decodeFrame(frame: Frame, out: DecodedPacket): void {
  decodeBytes(frame.data, frame.offset, frame.caplen, frame.length, frame.linkType, out);
}

/** decodeFrame without a Frame: `caplen` bytes at `offset`, `length` bytes on the wire. */
export function decodeBytes(
  data: Uint8Array,
  offset: number,
  caplen: number,
  length: number,
  linkType: number,
  out: DecodedPacket,
): void {
  out.reset();
  out.linkType = linkType;
  out.data = data;
  bytesView(data);
  let end = offset + caplen;
  if (end > data.length) end = data.length;
  out.captureEnd = end;
  if (offset < 0 || end < offset) {
    out.error = DecodeError.TRUNCATED_L2;
    return;
  }
  let wire = offset + length;
  if (wire < end) wire = end;
  switch (linkType) {
    case LinkType.ETHERNET:
      decodeEthernet(data, offset, end, wire, out, 0);
      return;
    case LinkType.LINUX_SLL2:
      decodeSll2(data, offset, end, wire, out);
      return;
    case LinkType.LINUX_SLL:
      decodeSll(data, offset, end, wire, out);
      return;
    case LinkType.RAW:
      decodeRawIp(data, offset, end, wire, out);
      return;
    case LinkType.IPV4:
      out.etherType = EtherType.IPV4;
      decodeIpv4(data, offset, end, wire, out, 0);
      return;
    case LinkType.IPV6:
      out.etherType = EtherType.IPV6;
      decodeIpv6(data, offset, end, wire, out, 0);
      return;
    case LinkType.NULL:
      decodeLoopback(data, offset, end, wire, out, false);
      return;
    case LinkType.LOOP:
      decodeLoopback(data, offset, end, wire, out, true);
      return;
    default:
      out.error = DecodeError.UNSUPPORTED_LINKTYPE;
  }
}

// ---------------------------------------------------------------------------------------------
// Link layer

function decodeEthernet(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket, depth: number): void {
  if (end - off < 14) {
    out.error = DecodeError.TRUNCATED_L2;
    return;
  }
  decodeEtherType(d, off + 14, end, wire, out, depth, current.view.getUint16(off + 12));
}

/**
 * Walks VLAN tags, then dispatches on the EtherType. Only the outermost frame's tags are
 * recorded (vlan0 outer, vlan1 second); an overlay's inner frame keeps the outer's VLAN.
 */
function decodeEtherType(
  d: Uint8Array,
  off: number,
  end: number,
  wire: number,
  out: DecodedPacket,
  depth: number,
  etherType: number,
): void {
  let et = etherType;
  let tags = 0;
  while (et === EtherType.VLAN || et === EtherType.QINQ || et === EtherType.QINQ_OLD) {
    if (tags === VLAN_TAGS_MAX) {
      out.etherType = et;
      out.error = DecodeError.TOO_MANY_HEADERS;
      return;
    }
    if (end - off < 4) {
      out.etherType = et;
      out.error = DecodeError.TRUNCATED_L2;
      return;
    }
    if (depth === 0) {
      const id = ((d[off]! & 0x0f) << 8) | d[off + 1]!;
      if (tags === 0) out.vlan0 = id;
      else if (tags === 1) out.vlan1 = id;
    }
    tags++;
    et = (d[off + 2]! << 8) | d[off + 3]!;
    off += 4;
  }
  out.etherType = et;
  if (et === EtherType.IPV4) decodeIpv4(d, off, end, wire, out, depth);
  else if (et === EtherType.IPV6) decodeIpv6(d, off, end, wire, out, depth);
  else if (et === EtherType.ARP) decodeArp(d, off, end, out);
  // Anything else (LLDP, 802.3 length field, ...) stays kind OTHER with etherType set.
}

/** Linux cooked v1 (LINKTYPE_LINUX_SLL): pkttype, ARPHRD type, address, protocol; 16 bytes. */
function decodeSll(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  if (end - off < 16) {
    out.error = DecodeError.TRUNCATED_L2;
    return;
  }
  out.sllPacketType = (d[off]! << 8) | d[off + 1]!;
  const hatype = (d[off + 2]! << 8) | d[off + 3]!;
  decodeSllProtocol(d, off + 16, end, wire, out, hatype, (d[off + 14]! << 8) | d[off + 15]!);
}

/** Linux cooked v2 (LINKTYPE_LINUX_SLL2): protocol, reserved, ifindex, ARPHRD, pkttype, addr; 20 bytes. */
function decodeSll2(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  if (end - off < 20) {
    out.error = DecodeError.TRUNCATED_L2;
    return;
  }
  out.ifIndex = ((d[off + 4]! << 24) | (d[off + 5]! << 16) | (d[off + 6]! << 8) | d[off + 7]!) >>> 0;
  out.sllPacketType = d[off + 10]!;
  const hatype = (d[off + 8]! << 8) | d[off + 9]!;
  decodeSllProtocol(d, off + 20, end, wire, out, hatype, (d[off]! << 8) | d[off + 1]!);
}

function decodeSllProtocol(
  d: Uint8Array,
  off: number,
  end: number,
  wire: number,
  out: DecodedPacket,
  hatype: number,
  protocol: number,
): void {
  out.etherType = protocol;
  // Values below 0x0600 are libpcap's LINUX_SLL_P_* pseudo protocols (802.3, 802.2, CAN...),
  // and on netlink monitors the field is a netlink family: neither is an EtherType.
  if (hatype === ARPHRD_NETLINK || protocol < 0x0600) return;
  // libpcap re-inserts a stripped VLAN tag after the cooked header, so tags can follow.
  decodeEtherType(d, off, end, wire, out, 0, protocol);
}

/** Raw IP (LINKTYPE_RAW): the version nibble picks the family. */
function decodeRawIp(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  if (off >= end) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  const version = d[off]! >> 4;
  if (version === 4) {
    out.etherType = EtherType.IPV4;
    decodeIpv4(d, off, end, wire, out, 0);
  } else if (version === 6) {
    out.etherType = EtherType.IPV6;
    decodeIpv6(d, off, end, wire, out, 0);
  } else {
    out.error = DecodeError.BAD_IP_VERSION;
  }
}

/**
 * BSD loopback: a 4-byte address family. NULL (0) stores it in the writer's byte order, LOOP
 * (108) in network order. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD),
 * 28 (FreeBSD) or 30 (macOS).
 */
function decodeLoopback(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket, networkOrder: boolean): void {
  if (end - off < 4) {
    out.error = DecodeError.TRUNCATED_L2;
    return;
  }
  const be = ((d[off]! << 24) | (d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!) >>> 0;
  let family = be;
  if (!networkOrder) {
    const le = (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24)) >>> 0;
    // As Wireshark's packet-null.c: a family is small, so the order with zero high bytes wins.
    if ((le & 0xffff0000) === 0) family = le;
  }
  if (family === 2) {
    out.etherType = EtherType.IPV4;
    decodeIpv4(d, off + 4, end, wire, out, 0);
  } else if (family === 10 || family === 24 || family === 28 || family === 30) {
    out.etherType = EtherType.IPV6;
    decodeIpv6(d, off + 4, end, wire, out, 0);
  }
  // Other families stay kind OTHER.
}

/** ARP for IPv4 over any hardware: sender and target protocol addresses into src and dst. */
function decodeArp(d: Uint8Array, off: number, end: number, out: DecodedPacket): void {
  out.kind = PacketKind.ARP;
  out.l3Offset = off;
  if (end - off < 8) {
    out.error = DecodeError.TRUNCATED_ARP;
    return;
  }
  const ptype = (d[off + 2]! << 8) | d[off + 3]!;
  const hlen = d[off + 4]!;
  const plen = d[off + 5]!;
  out.arpOp = (d[off + 6]! << 8) | d[off + 7]!;
  if (end - off < 8 + 2 * hlen + 2 * plen) {
    out.error = DecodeError.TRUNCATED_ARP;
    return;
  }
  if (ptype === EtherType.IPV4 && plen === 4) {
    readIpv4Addr(d, off + 8 + hlen, out.src);
    readIpv4Addr(d, off + 12 + 2 * hlen, out.dst);
    out.arpHasAddrs = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Network layer

function readIpv4Addr(d: Uint8Array, o: number, words: Uint32Array): void {
  words[0] = 0;
  words[1] = 0;
  words[2] = 0xffff;
  words[3] = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
}

/** readIpv4Addr through the DataView (the caller checked that four bytes are there). */
function viewIpv4Addr(v: DataView, o: number, words: Uint32Array): void {
  words[0] = 0;
  words[1] = 0;
  words[2] = 0xffff;
  words[3] = v.getInt32(o);
}

function readIpv6Addr(d: Uint8Array, o: number, words: Uint32Array): void {
  words[0] = (d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!;
  words[1] = (d[o + 4]! << 24) | (d[o + 5]! << 16) | (d[o + 6]! << 8) | d[o + 7]!;
  words[2] = (d[o + 8]! << 24) | (d[o + 9]! << 16) | (d[o + 10]! << 8) | d[o + 11]!;
  words[3] = (d[o + 12]! << 24) | (d[o + 13]! << 16) | (d[o + 14]! << 8) | d[o + 15]!;
}

/** readIpv6Addr through the DataView (the caller checked that sixteen bytes are there). */
function viewIpv6Addr(v: DataView, o: number, words: Uint32Array): void {
  words[0] = v.getInt32(o);
  words[1] = v.getInt32(o + 4);
  words[2] = v.getInt32(o + 8);
  words[3] = v.getInt32(o + 12);
}

/**
 * IPv4 (RFC 791). Options are skipped by the header length. Fragments: the first one (offset 0,
 * MF set) is decoded with its ports; later ones stop here as IP_OTHER, without ports, and the
 * datapath gives them the first fragment's ports (Cilium's fragment tracking, bpf/lib/ipfrag.h).
 */
function decodeIpv4(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket, depth: number): void {
  out.l3Offset = off;
  if (off >= end) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  const b0 = d[off]!;
  if (b0 >> 4 !== 4) {
    out.error = DecodeError.BAD_IP_VERSION;
    return;
  }
  if (end - off < 20) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  out.ipVersion = 4;
  const v = current.view;
  let total = v.getUint16(off + 2);
  out.ipLength = total;
  out.ipId = v.getUint16(off + 4);
  out.ttl = d[off + 8]!;
  const proto = d[off + 9]!;
  out.ipProto = proto;
  viewIpv4Addr(v, off + 12, out.src);
  viewIpv4Addr(v, off + 16, out.dst);
  const fragWord = v.getUint16(off + 6);
  const fragOffset = (fragWord & 0x1fff) << 3;
  if ((fragWord & 0x3fff) !== 0) {
    out.isFragment = true;
    out.fragOffset = fragOffset;
    out.fragMore = (fragWord & 0x2000) !== 0;
    out.fragId = out.ipId;
  }
  const ihl = (b0 & 0x0f) << 2;
  if (ihl < 20) {
    out.error = DecodeError.BAD_IP_HEADER_LENGTH;
    return;
  }
  // A total length of 0 is what TSO/BIG TCP super-packets carry on the sender's capture
  // (Wireshark: "likely caused by TCP segmentation offload"): the packet runs to the end.
  if (total === 0) total = wire - off;
  // The kernel drops these before any BPF program sees them (ip_rcv_core).
  if (total < ihl || off + total > wire) {
    out.error = DecodeError.BAD_IP_TOTAL_LENGTH;
    return;
  }
  if (end - off < ihl) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  const ipWire = off + total;
  const ipEnd = ipWire < end ? ipWire : end;
  const l4 = off + ihl;
  out.l4Offset = l4;
  out.l4Length = ipWire - l4;
  if (fragOffset !== 0) {
    out.kind = PacketKind.IP_OTHER;
    return;
  }
  decodeTransport(d, l4, ipEnd, ipWire, out, depth, proto);
}

/**
 * IPv6 (RFC 8200) with Cilium's extension-header walk (ipv6_hdrlen_offset): hop-by-hop,
 * routing, fragment, destination options and AH are skipped, at most IPV6_MAX_HEADERS of them;
 * ESP and no-next-header end the walk (kind IP_OTHER). A fragment header with a non-zero offset
 * ends it too: a later fragment has no transport header.
 */
function decodeIpv6(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket, depth: number): void {
  out.l3Offset = off;
  if (off >= end) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  if (d[off]! >> 4 !== 6) {
    out.error = DecodeError.BAD_IP_VERSION;
    return;
  }
  if (end - off < 40) {
    out.error = DecodeError.TRUNCATED_IP;
    return;
  }
  out.ipVersion = 6;
  const payloadLen = (d[off + 4]! << 8) | d[off + 5]!;
  let nh = d[off + 6]!;
  out.ipProto = nh;
  out.ttl = d[off + 7]!;
  viewIpv6Addr(current.view, off + 8, out.src);
  viewIpv6Addr(current.view, off + 24, out.dst);
  out.ipLength = 40 + payloadLen;
  // Payload length 0: a jumbogram or a BIG TCP super-packet; it runs to the end of the frame.
  const ipWire = payloadLen === 0 ? wire : off + 40 + payloadLen;
  if (ipWire > wire) {
    out.error = DecodeError.BAD_IP_TOTAL_LENGTH;
    return;
  }
  const ipEnd = ipWire < end ? ipWire : end;
  let p = off + 40;
  for (let i = 0; ; i++) {
    if (
      nh !== IpProto.HOPOPTS &&
      nh !== IpProto.ROUTING &&
      nh !== IpProto.DSTOPTS &&
      nh !== IpProto.FRAGMENT &&
      nh !== IpProto.AH
    ) {
      break;
    }
    if (i === IPV6_HEADERS_MAX) {
      out.ipProto = nh;
      out.error = DecodeError.TOO_MANY_HEADERS;
      return;
    }
    // Every extension header is at least 8 bytes long.
    if (ipEnd - p < 8) {
      out.ipProto = nh;
      out.error = ipWire - p < 8 ? DecodeError.BAD_IP_TOTAL_LENGTH : DecodeError.TRUNCATED_EXT_HEADER;
      return;
    }
    if (nh === IpProto.FRAGMENT) {
      const fragWord = (d[p + 2]! << 8) | d[p + 3]!;
      out.isFragment = true;
      out.fragOffset = fragWord & 0xfff8;
      out.fragMore = (fragWord & 1) !== 0;
      out.fragId = ((d[p + 4]! << 24) | (d[p + 5]! << 16) | (d[p + 6]! << 8) | d[p + 7]!) >>> 0;
      out.ipId = out.fragId;
      nh = d[p]!;
      p += 8;
      if (out.fragOffset !== 0) {
        out.ipProto = nh;
        out.kind = PacketKind.IP_OTHER;
        out.l4Offset = p;
        out.l4Length = ipWire - p;
        return;
      }
    } else {
      const len = nh === IpProto.AH ? (d[p + 1]! + 2) << 2 : (d[p + 1]! + 1) << 3;
      if (p + len > ipEnd) {
        out.ipProto = nh;
        out.error = p + len > ipWire ? DecodeError.BAD_IP_TOTAL_LENGTH : DecodeError.TRUNCATED_EXT_HEADER;
        return;
      }
      nh = d[p]!;
      p += len;
    }
  }
  out.ipProto = nh;
  out.l4Offset = p;
  out.l4Length = ipWire - p;
  decodeTransport(d, p, ipEnd, ipWire, out, depth, nh);
}

// ---------------------------------------------------------------------------------------------
// Transport layer

function decodeTransport(
  d: Uint8Array,
  off: number,
  end: number,
  wire: number,
  out: DecodedPacket,
  depth: number,
  proto: number,
): void {
  out.l4Offset = off;
  out.l4Length = wire - off;
  switch (proto) {
    case IpProto.TCP:
      decodeTcp(d, off, end, wire, out);
      return;
    case IpProto.UDP:
      decodeUdp(d, off, end, wire, out, depth);
      return;
    case IpProto.SCTP:
      decodeSctp(d, off, end, wire, out);
      return;
    case IpProto.ICMP:
      decodeIcmp4(d, off, end, out);
      return;
    case IpProto.ICMPV6:
      decodeIcmp6(d, off, end, out);
      return;
    default:
      // ESP, GRE, IP-in-IP, no-next-header, ...: addresses and protocol only.
      out.kind = PacketKind.IP_OTHER;
  }
}

function setPayload(out: DecodedPacket, start: number, end: number, wire: number): void {
  if (start > end) {
    out.payloadOffset = end;
    out.payloadLength = 0;
  } else {
    out.payloadOffset = start;
    out.payloadLength = end - start;
  }
  out.payloadWireLength = wire > start ? wire - start : 0;
}

/** TCP (RFC 9293): ports, seq, ack, the nine flags (NS from byte 12), window, data offset. */
function decodeTcp(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  out.kind = PacketKind.TCP;
  const n = end - off;
  if (n < 4) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  const v = current.view;
  out.sport = v.getUint16(off);
  out.dport = v.getUint16(off + 2);
  out.hasPorts = true;
  if (n < 20) {
    // Decode what the snaplen left: sequence number, ack, flags.
    if (n >= 8) out.tcpSeq = ((d[off + 4]! << 24) | (d[off + 5]! << 16) | (d[off + 6]! << 8) | d[off + 7]!) >>> 0;
    if (n >= 12) out.tcpAck = ((d[off + 8]! << 24) | (d[off + 9]! << 16) | (d[off + 10]! << 8) | d[off + 11]!) >>> 0;
    if (n >= 14) out.tcpFlags = d[off + 13]! | ((d[off + 12]! & 1) << 8);
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  out.tcpSeq = v.getUint32(off + 4);
  out.tcpAck = v.getUint32(off + 8);
  const b12 = d[off + 12]!;
  out.tcpFlags = d[off + 13]! | ((b12 & 1) << 8);
  out.tcpWindow = v.getUint16(off + 14);
  const doff = (b12 >> 4) << 2;
  if (doff < 20 || off + doff > wire) {
    out.error = DecodeError.BAD_TCP_DATA_OFFSET;
    return;
  }
  if (off + doff > end) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  setPayload(out, off + doff, end, wire);
}

/** UDP (RFC 768); VXLAN and Geneve by destination port, as the kernel's tunnel sockets bind. */
function decodeUdp(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket, depth: number): void {
  out.kind = PacketKind.UDP;
  const n = end - off;
  if (n < 4) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  const v = current.view;
  const dport = v.getUint16(off + 2);
  out.sport = v.getUint16(off);
  out.dport = dport;
  out.hasPorts = true;
  if (n < 8) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  setPayload(out, off + 8, end, wire);
  if (depth !== 0) return; // at most one level of encapsulation
  if (dport === PORT_VXLAN_LINUX || dport === PORT_VXLAN_IANA) decodeVxlan(d, off + 8, end, wire, out);
  else if (dport === PORT_GENEVE) decodeGeneve(d, off + 8, end, wire, out);
}

/** SCTP (RFC 9260) common header: ports, verification tag, checksum. */
function decodeSctp(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  out.kind = PacketKind.SCTP;
  const n = end - off;
  if (n < 4) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  out.sport = (d[off]! << 8) | d[off + 1]!;
  out.dport = (d[off + 2]! << 8) | d[off + 3]!;
  out.hasPorts = true;
  if (n < 12) {
    out.error = DecodeError.TRUNCATED_L4;
    return;
  }
  setPayload(out, off + 12, end, wire);
}

/**
 * The header both ICMP versions share: type and code, then the rest of the 8-byte header (every
 * ICMPv4 and ICMPv6 message has one, informational messages too). Returns the type, or -1 when
 * the message is cut short (TRUNCATED_L4; the type and code are kept when they are there).
 */
function decodeIcmpHeader(d: Uint8Array, off: number, end: number, out: DecodedPacket, kind: number): number {
  out.kind = kind;
  const n = end - off;
  if (n < 2) {
    out.error = DecodeError.TRUNCATED_L4;
    return -1;
  }
  const type = d[off]!;
  out.icmpType = type;
  out.icmpCode = d[off + 1]!;
  if (n < 8) {
    out.error = DecodeError.TRUNCATED_L4;
    return -1;
  }
  return type;
}

/** The identifier and sequence number of an echo request or reply (both versions). */
function decodeIcmpEcho(d: Uint8Array, off: number, out: DecodedPacket): void {
  out.icmpId = (d[off + 4]! << 8) | d[off + 5]!;
  out.icmpSeq = (d[off + 6]! << 8) | d[off + 7]!;
}

/**
 * ICMPv4 (RFC 792). Echo request/reply carry id and seq. Errors that quote the offending
 * datagram (unreachable 3, source quench 4, redirect 5, time exceeded 11, parameter problem 12)
 * get its tuple into icmpInner*, as Cilium's ct_lookup4 relates them to the connection.
 */
function decodeIcmp4(d: Uint8Array, off: number, end: number, out: DecodedPacket): void {
  const type = decodeIcmpHeader(d, off, end, out, PacketKind.ICMP);
  if (type < 0) return;
  if (type === 0 || type === 8) decodeIcmpEcho(d, off, out);
  else if (type === 3 || type === 4 || type === 5 || type === 11 || type === 12) {
    quoteIpv4(d, off + 8, end, out);
  }
}

/**
 * The IPv4 header (plus 8 bytes) an ICMP error quotes. Best effort: a short quote just leaves
 * hasIcmpInner false; it is not an error of the ICMP packet itself.
 */
function quoteIpv4(d: Uint8Array, off: number, end: number, out: DecodedPacket): void {
  if (end - off < 20 || d[off]! >> 4 !== 4) return;
  const ihl = (d[off]! & 0x0f) << 2;
  if (ihl < 20) return;
  const proto = d[off + 9]!;
  out.hasIcmpInner = true;
  out.icmpInnerProto = proto;
  readIpv4Addr(d, off + 12, out.icmpInnerSrc);
  readIpv4Addr(d, off + 16, out.icmpInnerDst);
  if ((((d[off + 6]! << 8) | d[off + 7]!) & 0x1fff) !== 0) return; // a later fragment: no ports
  quotePorts(d, off + ihl, end, out, proto);
}

/** IPv6 counterpart of quoteIpv4, walking the quoted packet's extension headers the same way. */
function quoteIpv6(d: Uint8Array, off: number, end: number, out: DecodedPacket): void {
  if (end - off < 40 || d[off]! >> 4 !== 6) return;
  let nh = d[off + 6]!;
  out.hasIcmpInner = true;
  readIpv6Addr(d, off + 8, out.icmpInnerSrc);
  readIpv6Addr(d, off + 24, out.icmpInnerDst);
  let p = off + 40;
  for (let i = 0; i < IPV6_HEADERS_MAX; i++) {
    if (
      nh !== IpProto.HOPOPTS &&
      nh !== IpProto.ROUTING &&
      nh !== IpProto.DSTOPTS &&
      nh !== IpProto.FRAGMENT &&
      nh !== IpProto.AH
    ) {
      break;
    }
    if (end - p < 8) {
      out.icmpInnerProto = nh;
      return;
    }
    if (nh === IpProto.FRAGMENT) {
      const later = (((d[p + 2]! << 8) | d[p + 3]!) & 0xfff8) !== 0;
      nh = d[p]!;
      p += 8;
      if (later) {
        out.icmpInnerProto = nh;
        return;
      }
    } else {
      const len = nh === IpProto.AH ? (d[p + 1]! + 2) << 2 : (d[p + 1]! + 1) << 3;
      nh = d[p]!;
      p += len;
    }
  }
  out.icmpInnerProto = nh;
  quotePorts(d, p, end, out, nh);
}

/**
 * Ports of a quoted datagram; for a quoted echo the identifier goes where Cilium's
 * ct_extract_ports4/6 puts it (echo request: dport, echo reply: sport).
 */
function quotePorts(d: Uint8Array, q: number, end: number, out: DecodedPacket, proto: number): void {
  if (end - q < 4) return;
  if (proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP) {
    out.icmpInnerSport = (d[q]! << 8) | d[q + 1]!;
    out.icmpInnerDport = (d[q + 2]! << 8) | d[q + 3]!;
  } else if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) {
    if (end - q < 6) return;
    const type = d[q]!;
    const id = (d[q + 4]! << 8) | d[q + 5]!;
    if (type === 8 || type === 128) out.icmpInnerDport = id;
    else if (type === 0 || type === 129) out.icmpInnerSport = id;
  }
}

/**
 * ICMPv6 (RFC 4443): echo request 128 / reply 129 carry id and seq; errors (unreachable 1,
 * packet too big 2, time exceeded 3, parameter problem 4) quote the offending packet.
 */
function decodeIcmp6(d: Uint8Array, off: number, end: number, out: DecodedPacket): void {
  const type = decodeIcmpHeader(d, off, end, out, PacketKind.ICMPV6);
  if (type < 0) return;
  if (type === 128 || type === 129) decodeIcmpEcho(d, off, out);
  else if (type >= 1 && type <= 4) {
    quoteIpv6(d, off + 8, end, out);
  }
}

// ---------------------------------------------------------------------------------------------
// Overlays: one level, the main fields become the inner packet's

/** Moves the outer packet's addresses and ports into outer* and clears the main L3/L4 fields. */
function enterTunnel(out: DecodedPacket, encap: number, vni: number): void {
  out.encap = encap;
  out.vni = vni;
  out.outerIpVersion = out.ipVersion;
  const src = out.src;
  const dst = out.dst;
  const osrc = out.outerSrc;
  const odst = out.outerDst;
  osrc[0] = src[0]!;
  osrc[1] = src[1]!;
  osrc[2] = src[2]!;
  osrc[3] = src[3]!;
  odst[0] = dst[0]!;
  odst[1] = dst[1]!;
  odst[2] = dst[2]!;
  odst[3] = dst[3]!;
  out.outerSport = out.sport;
  out.outerDport = out.dport;
  out.kind = PacketKind.OTHER;
  out.etherType = 0;
  out.ipVersion = 0;
  src[0] = 0;
  src[1] = 0;
  src[2] = 0;
  src[3] = 0;
  dst[0] = 0;
  dst[1] = 0;
  dst[2] = 0;
  dst[3] = 0;
  out.ipProto = 0;
  out.ttl = 0;
  out.l3Offset = -1;
  out.ipLength = 0;
  out.ipId = 0;
  out.isFragment = false;
  out.fragOffset = 0;
  out.fragMore = false;
  out.fragId = 0;
  out.hasPorts = false;
  out.sport = 0;
  out.dport = 0;
  out.payloadOffset = -1;
  out.payloadLength = 0;
  out.payloadWireLength = 0;
  out.l4Offset = -1;
  out.l4Length = 0;
}

/** Records a tunnel whose own header is unusable: main fields stay the outer UDP packet. */
function badTunnel(out: DecodedPacket, encap: number, error: number): void {
  out.encap = encap;
  out.outerIpVersion = out.ipVersion;
  out.outerSrc.set(out.src);
  out.outerDst.set(out.dst);
  out.outerSport = out.sport;
  out.outerDport = out.dport;
  out.error = error;
}

/** VXLAN (RFC 7348): flags (I = VNI valid), VNI in bytes 4..6, then an Ethernet frame. */
function decodeVxlan(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  if (end - off < 8) {
    badTunnel(out, EncapType.VXLAN, DecodeError.TRUNCATED_ENCAP);
    return;
  }
  // vxlan_rcv: "VNI flag always required to be set".
  if ((d[off]! & 0x08) === 0) {
    badTunnel(out, EncapType.VXLAN, DecodeError.BAD_ENCAP_HEADER);
    return;
  }
  enterTunnel(out, EncapType.VXLAN, (d[off + 4]! << 16) | (d[off + 5]! << 8) | d[off + 6]!);
  decodeEthernet(d, off + 8, end, wire, out, 1);
}

/**
 * Geneve (RFC 8926): version 0, options length in 4-byte words (options skipped), protocol
 * type (0x6558 Ethernet as Cilium sends, or IPv4/IPv6 directly), VNI in bytes 4..6.
 */
function decodeGeneve(d: Uint8Array, off: number, end: number, wire: number, out: DecodedPacket): void {
  if (end - off < 8) {
    badTunnel(out, EncapType.GENEVE, DecodeError.TRUNCATED_ENCAP);
    return;
  }
  const b0 = d[off]!;
  if (b0 >> 6 !== 0) {
    badTunnel(out, EncapType.GENEVE, DecodeError.BAD_ENCAP_HEADER);
    return;
  }
  const hdrLen = 8 + ((b0 & 0x3f) << 2);
  if (end - off < hdrLen) {
    badTunnel(out, EncapType.GENEVE, DecodeError.TRUNCATED_ENCAP);
    return;
  }
  const proto = (d[off + 2]! << 8) | d[off + 3]!;
  enterTunnel(out, EncapType.GENEVE, (d[off + 4]! << 16) | (d[off + 5]! << 8) | d[off + 6]!);
  const inner = off + hdrLen;
  if (proto === EtherType.TEB) {
    decodeEthernet(d, inner, end, wire, out, 1);
  } else if (proto === EtherType.IPV4 || proto === EtherType.IPV6) {
    out.etherType = proto;
    if (proto === EtherType.IPV4) decodeIpv4(d, inner, end, wire, out, 1);
    else decodeIpv6(d, inner, end, wire, out, 1);
  } else {
    out.etherType = proto;
  }
}
