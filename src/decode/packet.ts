/**
 * The flat, reusable record the decoder fills for every frame.
 *
 * One instance per pipeline, refilled per packet: numbers and typed arrays only, no nested
 * objects, so decode allocates nothing. Addresses are four 32-bit words in network order
 * (word 0 holds the first four bytes); an IPv4 address is stored IPv4-mapped
 * (0, 0, 0x0000ffff, addr) and `ipVersion` says which family it is. For VXLAN and Geneve the
 * main fields describe the INNER packet and the outer one sits in the `outer*` fields, since
 * Cilium decides overlay traffic on the inner packet.
 */

export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
} as const;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  QINQ: 0x88a8,
  QINQ_OLD: 0x9100,
  IPV6: 0x86dd,
  TEB: 0x6558, // transparent Ethernet bridging (Geneve inner Ethernet)
} as const;

/** TCP flag bits as they sit in byte 13 of the header (plus NS from byte 12). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
} as const;

/** What kind of packet the record holds; `protocol` in `hubcap packets -o json`. */
export const PacketKind = {
  OTHER: 0,
  TCP: 1,
  UDP: 2,
  SCTP: 3,
  ICMP: 4,
  ICMPV6: 5,
  ARP: 6,
  /** An IP packet whose L4 protocol hubcap does not parse (ESP, GRE, ...), or a later fragment. */
  IP_OTHER: 7,
} as const;

export const EncapType = {
  NONE: 0,
  VXLAN: 1,
  GENEVE: 2,
} as const;

/**
 * Why a frame could not be (fully) decoded. 0 is success. Text lives in DECODE_ERROR_TEXT so the
 * hot path never builds strings.
 */
const EMPTY = new Uint8Array(0);

export const DecodeError = {
  NONE: 0,
  UNSUPPORTED_LINKTYPE: 1,
  TRUNCATED_L2: 2,
  TRUNCATED_IP: 3,
  BAD_IP_VERSION: 4,
  BAD_IP_HEADER_LENGTH: 5,
  BAD_IP_TOTAL_LENGTH: 6,
  TRUNCATED_EXT_HEADER: 7,
  TRUNCATED_L4: 8,
  BAD_TCP_DATA_OFFSET: 9,
  TRUNCATED_ENCAP: 10,
  TOO_MANY_HEADERS: 11,
  TRUNCATED_ARP: 12,
  /** A VXLAN header without the I flag, or a Geneve header of an unknown version: the Linux
   * vxlan/geneve drivers drop these (vxlan_rcv, geneve_udp_encap_recv). */
  BAD_ENCAP_HEADER: 13,
} as const;

export const DECODE_ERROR_TEXT: readonly string[] = [
  '',
  'unsupported link type',
  'truncated link-layer header',
  'truncated IP header',
  'bad IP version',
  'bad IP header length',
  'bad IP total length',
  'truncated IPv6 extension header',
  'truncated transport header',
  'bad TCP data offset',
  'truncated tunnel header',
  'too many nested headers',
  'truncated ARP packet',
  'bad tunnel header',
];

/**
 * Zeroes four address words. Direct stores: TypedArray#fill is a builtin call costing about
 * 28 ns each on Node 20, and reset() clears six of these per packet.
 */
function clearWords(w: Uint32Array): void {
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
}

export class DecodedPacket {
  /**
   * The frame's bytes (a reference, not a copy: valid while the frame is) and the end of the
   * captured bytes in it, so later stages (ICMP in fragments, the L7 proxy) can read payload.
   */
  data: Uint8Array = EMPTY;
  captureEnd = 0;

  /** DecodeError code; fields decoded before the failure stay valid. */
  error = 0;
  kind = 0;

  // --- link layer
  linkType = 0;
  /** Outermost and second VLAN id (802.1Q / QinQ), -1 when absent. */
  vlan0 = -1;
  vlan1 = -1;
  etherType = 0;
  /** Linux cooked capture packet type (0 host, 4 outgoing, ...), -1 when not SLL. */
  sllPacketType = -1;
  /** SLL2 interface index, -1 when unknown. */
  ifIndex = -1;

  // --- network layer (inner packet for overlays)
  /** 0 when no IP header was decoded (ARP, other), else 4 or 6. */
  ipVersion = 0;
  readonly src = new Uint32Array(4);
  readonly dst = new Uint32Array(4);
  /** Final next header / IPv4 protocol number after extension headers. */
  ipProto = 0;
  ttl = 0;
  /** Offset of the IP header within the frame's data array, -1 when none. */
  l3Offset = -1;
  /** IPv4 total length or IPv6 40 + payload length. */
  ipLength = 0;
  /** IPv4 identification, or the IPv6 fragment header's identification. */
  ipId = 0;

  // --- fragments
  isFragment = false;
  /** Fragment offset in bytes. */
  fragOffset = 0;
  fragMore = false;
  /** IPv4 identification or IPv6 fragment id, valid when isFragment. */
  fragId = 0;

  // --- transport layer
  /** True when sport/dport were read (TCP, UDP, SCTP, and first fragments of those). */
  hasPorts = false;
  sport = 0;
  dport = 0;
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  tcpWindow = 0;
  /** Offset and length of the transport payload (TCP/UDP/SCTP data) within data. */
  payloadOffset = -1;
  payloadLength = 0;
  /** The transport payload's length on the wire (payloadLength counts only captured bytes). */
  payloadWireLength = 0;
  /**
   * Offset of the transport header within data (for other protocols and later fragments: of
   * the IP payload after the extension headers), -1 when none.
   */
  l4Offset = -1;
  /** Bytes from l4Offset to the end of the IP packet, as on the wire. */
  l4Length = 0;

  // --- ICMP (v4 and v6)
  icmpType = -1;
  icmpCode = -1;
  /** Echo identifier (echo request/reply), -1 otherwise. */
  icmpId = -1;
  icmpSeq = -1;
  /** For ICMP errors: the quoted packet's tuple, so conntrack can find the RELATED entry. */
  hasIcmpInner = false;
  icmpInnerProto = 0;
  readonly icmpInnerSrc = new Uint32Array(4);
  readonly icmpInnerDst = new Uint32Array(4);
  icmpInnerSport = 0;
  icmpInnerDport = 0;

  // --- ARP (sender and target protocol addresses land in src/dst as IPv4)
  arpOp = 0;
  /** True when the ARP packet carried IPv4 protocol addresses (then src/dst hold them). */
  arpHasAddrs = false;

  // --- overlay (VXLAN / Geneve): the outer packet
  encap = 0;
  vni = -1;
  outerIpVersion = 0;
  readonly outerSrc = new Uint32Array(4);
  readonly outerDst = new Uint32Array(4);
  outerSport = 0;
  outerDport = 0;

  reset(): void {
    this.error = 0;
    this.kind = 0;
    this.linkType = 0;
    this.vlan0 = -1;
    this.vlan1 = -1;
    this.etherType = 0;
    this.sllPacketType = -1;
    this.ifIndex = -1;
    this.ipVersion = 0;
    clearWords(this.src);
    clearWords(this.dst);
    this.ipProto = 0;
    this.ttl = 0;
    this.l3Offset = -1;
    this.ipLength = 0;
    this.ipId = 0;
    this.isFragment = false;
    this.fragOffset = 0;
    this.fragMore = false;
    this.fragId = 0;
    this.hasPorts = false;
    this.sport = 0;
    this.dport = 0;
    this.tcpFlags = 0;
    this.tcpSeq = 0;
    this.tcpAck = 0;
    this.tcpWindow = 0;
    this.payloadOffset = -1;
    this.payloadLength = 0;
    this.payloadWireLength = 0;
    this.l4Offset = -1;
    this.l4Length = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpId = -1;
    this.icmpSeq = -1;
    // The quoted and outer words are only ever written with hasIcmpInner / encap set.
    if (this.hasIcmpInner) {
      clearWords(this.icmpInnerSrc);
      clearWords(this.icmpInnerDst);
    }
    this.hasIcmpInner = false;
    this.icmpInnerProto = 0;
    this.icmpInnerSport = 0;
    this.icmpInnerDport = 0;
    this.arpOp = 0;
    this.arpHasAddrs = false;
    if (this.encap !== 0) {
      clearWords(this.outerSrc);
      clearWords(this.outerDst);
    }
    this.encap = 0;
    this.vni = -1;
    this.outerIpVersion = 0;
    this.outerSport = 0;
    this.outerDport = 0;
  }
}
