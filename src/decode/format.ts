/**
 * Text for decoded packets: the RFC 3339 nanosecond timestamps and canonical addresses shared
 * by every printer, the `hubcap packets -o json` object (design.md §3) and tcpdump-like lines.
 *
 * Mirrors: tcpdump's one-line output (print-ip.c, print-tcp.c `tcp_flag_values`, print-icmp.c,
 * print-icmp6.c, print-arp.c, print-vxlan.c, print-geneve.c) closely enough to be read the same
 * way, not byte for byte: times are UTC with nanoseconds, and overlays print the outer addresses
 * in one prefix instead of a second line.
 *
 * Not on the decode hot path: formatting builds strings by nature. It still avoids
 * JSON.stringify and Date per packet (the date part is cached per second).
 */
import { formatIp, formatIpv4 } from '../net/addr.js';
import { DECODE_ERROR_TEXT, DecodedPacket, EncapType, IpProto, PacketKind, TcpFlag } from './packet.js';

/** The frame facts a printer needs besides the decoded record (a capture Frame has them all). */
export interface FrameInfo {
  tsSec: number;
  tsNsec: number;
  /** Original length on the wire. */
  length: number;
  /** Bytes captured. */
  caplen: number;
  /** Needed only for details read from the bytes (the ARP sender's hardware address). */
  data?: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Time

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function pad9(n: number): string {
  const s = `${n}`;
  return s.length >= 9 ? s : '000000000'.slice(s.length) + s;
}

/**
 * Days since 1970-01-01 -> civil date (proleptic Gregorian), Howard Hinnant's
 * `civil_from_days`: exact for every integer a double holds, where Date gives up past year
 * 275760 (a garbage pcapng timestamp must not throw).
 */
function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return [year, month, day];
}

let cachedSec = Number.NaN;
let cachedDate = '';
let cachedClock = '';

function fillCache(sec: number): void {
  const s = Math.floor(sec);
  const days = Math.floor(s / 86400);
  const rem = s - days * 86400;
  const [y, m, d] = civilFromDays(days);
  const year = y >= 0 && y < 10000 ? `${y}`.padStart(4, '0') : `${y}`;
  cachedDate = `${year}-${pad2(m)}-${pad2(d)}`;
  cachedClock = `${pad2(Math.floor(rem / 3600))}:${pad2(Math.floor(rem / 60) % 60)}:${pad2(rem % 60)}`;
  cachedSec = sec;
}

/** RFC 3339 in UTC with nine fractional digits: `2020-06-10T09:21:03.720289000Z`. */
export function formatTimeRfc3339(sec: number, nsec: number): string {
  if (sec !== cachedSec) fillCache(sec);
  return `${cachedDate}T${cachedClock}.${pad9(nsec)}Z`;
}

/** tcpdump `-tttt --nano` style, UTC: `2020-06-10 09:21:03.720289000`. */
export function formatTimeText(sec: number, nsec: number): string {
  if (sec !== cachedSec) fillCache(sec);
  return `${cachedDate} ${cachedClock}.${pad9(nsec)}`;
}

// ---------------------------------------------------------------------------------------------
// Addresses

/**
 * Canonical address text through a small direct-mapped cache: a capture repeats the same few
 * endpoints, and RFC 5952 formatting (formatIpv6) builds several arrays per call. Slots hold the
 * four words and the family; family 0 marks an empty slot.
 */
const ADDR_CACHE_BITS = 10;
const ADDR_CACHE_SLOTS = 1 << ADDR_CACHE_BITS;
const addrCacheKeys = new Uint32Array(ADDR_CACHE_SLOTS * 5);
const addrCacheText: string[] = new Array<string>(ADDR_CACHE_SLOTS).fill('');

export function formatAddress(words: Uint32Array, family: number): string {
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  const w3 = words[3]!;
  const slot = Math.imul(w3 ^ Math.imul(w2, 31) ^ Math.imul(w1, 961) ^ Math.imul(w0, 29791) ^ family, 0x9e3779b1) >>> (32 - ADDR_CACHE_BITS);
  const k = slot * 5;
  if (
    addrCacheKeys[k + 4] === family &&
    addrCacheKeys[k + 3] === w3 &&
    addrCacheKeys[k + 2] === w2 &&
    addrCacheKeys[k + 1] === w1 &&
    addrCacheKeys[k] === w0
  ) {
    return addrCacheText[slot]!;
  }
  const text = formatIp(words, family);
  addrCacheKeys[k] = w0;
  addrCacheKeys[k + 1] = w1;
  addrCacheKeys[k + 2] = w2;
  addrCacheKeys[k + 3] = w3;
  addrCacheKeys[k + 4] = family;
  addrCacheText[slot] = text;
  return text;
}

// ---------------------------------------------------------------------------------------------
// Names

/** `protocol` of `hubcap packets -o json`, indexed by PacketKind. */
const KIND_NAMES: readonly string[] = ['other', 'tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'arp', 'other'];

function ipProtoName(proto: number): string {
  switch (proto) {
    case IpProto.TCP:
      return 'tcp';
    case IpProto.UDP:
      return 'udp';
    case IpProto.SCTP:
      return 'sctp';
    case IpProto.ICMP:
      return 'icmp';
    case IpProto.ICMPV6:
      return 'icmpv6';
    default:
      return 'other';
  }
}

/**
 * The JSON `protocol`: the decoded transport, or for an IP packet whose transport header was
 * never reached (a later fragment, a cut header) the protocol its IP header names.
 */
export function protocolName(p: DecodedPacket): string {
  if (p.kind !== PacketKind.OTHER && p.kind !== PacketKind.IP_OTHER) return KIND_NAMES[p.kind] ?? 'other';
  if (p.ipVersion !== 0) return ipProtoName(p.ipProto);
  return 'other';
}

/** TCP flags in the order and spelling of Hubble's `TCPFlags` JSON (flow.proto). */
export const TCP_FLAG_JSON: ReadonlyArray<readonly [number, string]> = [
  [TcpFlag.FIN, 'FIN'],
  [TcpFlag.SYN, 'SYN'],
  [TcpFlag.RST, 'RST'],
  [TcpFlag.PSH, 'PSH'],
  [TcpFlag.ACK, 'ACK'],
  [TcpFlag.URG, 'URG'],
  [TcpFlag.ECE, 'ECE'],
  [TcpFlag.CWR, 'CWR'],
  [TcpFlag.NS, 'NS'],
];

const tcpFlagsJsonCache: string[] = new Array<string>(512).fill('');
const tcpFlagsTextCache: string[] = new Array<string>(512).fill('');

/** `{"SYN":true,"ACK":true}`: only the set flags (cached per flag combination). */
export function tcpFlagsJson(flags: number): string {
  const f = flags & 0x1ff;
  const cached = tcpFlagsJsonCache[f]!;
  if (cached !== '') return cached;
  return (tcpFlagsJsonCache[f] = buildTcpFlagsJson(f));
}

function buildTcpFlagsJson(flags: number): string {
  let s = '{';
  for (const [bit, name] of TCP_FLAG_JSON) {
    if ((flags & bit) === 0) continue;
    if (s.length > 1) s += ',';
    s += `"${name}":true`;
  }
  return `${s}}`;
}

/** tcpdump's `tcp_flag_values` order and letters (NS/AE prints as `e`, as tcpdump 4.99). */
const TCP_FLAG_LETTERS: ReadonlyArray<readonly [number, string]> = [
  [TcpFlag.FIN, 'F'],
  [TcpFlag.SYN, 'S'],
  [TcpFlag.RST, 'R'],
  [TcpFlag.PSH, 'P'],
  [TcpFlag.ACK, '.'],
  [TcpFlag.URG, 'U'],
  [TcpFlag.ECE, 'E'],
  [TcpFlag.CWR, 'W'],
  [TcpFlag.NS, 'e'],
];

export function tcpFlagsText(flags: number): string {
  const f = flags & 0x1ff;
  const cached = tcpFlagsTextCache[f]!;
  if (cached !== '') return cached;
  return (tcpFlagsTextCache[f] = buildTcpFlagsText(f));
}

function buildTcpFlagsText(flags: number): string {
  let s = '';
  for (const [bit, letter] of TCP_FLAG_LETTERS) if ((flags & bit) !== 0) s += letter;
  return s === '' ? 'none' : s;
}

export function encapName(encap: number): string {
  return encap === EncapType.VXLAN ? 'vxlan' : encap === EncapType.GENEVE ? 'geneve' : 'none';
}

/** Source address text, '' when the record has none (non-IP, ARP without IPv4 addresses). */
export function srcText(p: DecodedPacket): string {
  if (p.ipVersion !== 0) return formatAddress(p.src, p.ipVersion);
  if (p.arpHasAddrs) return formatAddress(p.src, 4);
  return '';
}

export function dstText(p: DecodedPacket): string {
  if (p.ipVersion !== 0) return formatAddress(p.dst, p.ipVersion);
  if (p.arpHasAddrs) return formatAddress(p.dst, 4);
  return '';
}

// ---------------------------------------------------------------------------------------------
// JSON (design.md §3, `hubcap packets -o json`)

/**
 * One JSON object for one packet, keys in the order of design.md §3; absent fields are
 * omitted. Every string value is an address, a fixed name or DECODE_ERROR_TEXT, none of which
 * needs escaping.
 */
export function formatPacketJson(frame: FrameInfo, p: DecodedPacket): string {
  let s = `{"time":"${formatTimeRfc3339(frame.tsSec, frame.tsNsec)}","length":${frame.length},"caplen":${frame.caplen}`;
  const src = srcText(p);
  if (src !== '') s += `,"src":"${src}","dst":"${dstText(p)}"`;
  s += `,"protocol":"${protocolName(p)}"`;
  if (p.hasPorts) s += `,"sport":${p.sport},"dport":${p.dport}`;
  if (p.kind === PacketKind.TCP && p.tcpFlags !== 0) s += `,"tcp_flags":${tcpFlagsJson(p.tcpFlags)}`;
  if (p.icmpType >= 0) s += `,"icmp_type":${p.icmpType},"icmp_code":${p.icmpCode}`;
  if (p.vlan0 >= 0) s += `,"vlan":${p.vlan0}`;
  if (p.vlan1 >= 0) s += `,"vlan_inner":${p.vlan1}`;
  if (p.isFragment) s += `,"fragment":{"id":${p.fragId},"offset":${p.fragOffset},"more":${p.fragMore}}`;
  if (p.encap !== EncapType.NONE) {
    s += `,"encap":{"type":"${encapName(p.encap)}"`;
    if (p.vni >= 0) s += `,"vni":${p.vni}`;
    if (p.outerIpVersion !== 0) {
      s +=
        `,"outer":{"src":"${formatAddress(p.outerSrc, p.outerIpVersion)}","dst":"${formatAddress(p.outerDst, p.outerIpVersion)}"` +
        `,"sport":${p.outerSport},"dport":${p.outerDport}}`;
    }
    s += '}';
  }
  if (p.error !== 0) s += `,"error":"${DECODE_ERROR_TEXT[p.error] ?? `decode error ${p.error}`}"`;
  return `${s}}`;
}

// ---------------------------------------------------------------------------------------------
// Text (tcpdump-like one-liners)

const ICMP4_NAMES: Readonly<Record<number, string>> = {
  0: 'echo reply',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded in-transit',
  12: 'parameter problem',
  13: 'time stamp request',
  14: 'time stamp reply',
};

const ICMP6_NAMES: Readonly<Record<number, string>> = {
  1: 'destination unreachable',
  2: 'packet too big',
  3: 'time exceeded in-transit',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'multicast listener query',
  131: 'multicast listener report',
  132: 'multicast listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  143: 'multicast listener report v2',
};

/** print-icmp.c's unreachable texts for the common codes, naming the quoted destination. */
function icmpUnreachText(p: DecodedPacket): string {
  const where = p.hasIcmpInner ? formatIpv4(p.icmpInnerDst[3]!) : '?';
  switch (p.icmpCode) {
    case 0:
      return `net ${where} unreachable`;
    case 1:
      return `host ${where} unreachable`;
    case 2:
      return `${where} protocol ${p.icmpInnerProto} unreachable`;
    case 3:
      return `${where} ${ipProtoName(p.icmpInnerProto)} port ${p.icmpInnerDport} unreachable`;
    case 4:
      return `${where} unreachable - need to frag`;
    case 13:
      return `host ${where} unreachable - admin prohibited filter`;
    default:
      return `${where} unreachable, code ${p.icmpCode}`;
  }
}

function icmpText(p: DecodedPacket): string {
  const t = p.icmpType;
  if (t < 0) return 'ICMP';
  if ((t === 0 || t === 8) && p.icmpId >= 0) {
    return `ICMP ${ICMP4_NAMES[t]}, id ${p.icmpId}, seq ${p.icmpSeq}, length ${p.l4Length}`;
  }
  if (t === 3) return `ICMP ${icmpUnreachText(p)}, length ${p.l4Length}`;
  const name = ICMP4_NAMES[t];
  return name !== undefined ? `ICMP ${name}, length ${p.l4Length}` : `ICMP type ${t}, code ${p.icmpCode}, length ${p.l4Length}`;
}

function icmp6Text(p: DecodedPacket): string {
  const t = p.icmpType;
  if (t < 0) return 'ICMP6';
  const name = ICMP6_NAMES[t] ?? `type ${t}, code ${p.icmpCode}`;
  if ((t === 128 || t === 129) && p.icmpId >= 0) return `ICMP6, ${name}, id ${p.icmpId}, seq ${p.icmpSeq}, length ${p.l4Length}`;
  return `ICMP6, ${name}, length ${p.l4Length}`;
}

function macText(d: Uint8Array, o: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const b = d[o + i]!;
    s += (i === 0 ? '' : ':') + (b < 16 ? '0' : '') + b.toString(16);
  }
  return s;
}

function arpText(frame: FrameInfo, p: DecodedPacket): string {
  if (!p.arpHasAddrs) return p.arpOp !== 0 ? `ARP, op ${p.arpOp}` : 'ARP';
  const src = formatIpv4(p.src[3]!);
  const dst = formatIpv4(p.dst[3]!);
  if (p.arpOp === 1) return `ARP, Request who-has ${dst} tell ${src}, length 28`;
  if (p.arpOp === 2) {
    const d = frame.data;
    const o = p.l3Offset;
    // Sender hardware address at byte 8 when it is a 6-byte MAC (hlen in byte 4).
    if (d !== undefined && o >= 0 && d[o + 4] === 6 && o + 14 <= d.length) {
      return `ARP, Reply ${src} is-at ${macText(d, o + 8)}, length 28`;
    }
    return `ARP, Reply ${src}, length 28`;
  }
  return `ARP, op ${p.arpOp} ${src} > ${dst}, length 28`;
}

function fragText(p: DecodedPacket): string {
  return `, frag id ${p.fragId}, offset ${p.fragOffset}${p.fragMore ? ', more' : ''}`;
}

/** The network and transport part of a line: `IP 10.0.0.1.443 > 10.0.0.2.51000: Flags [S.], length 0`. */
function bodyText(frame: FrameInfo, p: DecodedPacket): string {
  if (p.kind === PacketKind.ARP) return arpText(frame, p);
  if (p.ipVersion === 0) {
    if (p.etherType !== 0) return `ethertype 0x${p.etherType.toString(16).padStart(4, '0')}, length ${frame.length}`;
    return `link type ${p.linkType}, length ${frame.length}`;
  }
  const ip = p.ipVersion === 4 ? 'IP' : 'IP6';
  const src = formatAddress(p.src, p.ipVersion);
  const dst = formatAddress(p.dst, p.ipVersion);
  const frag = p.isFragment ? fragText(p) : '';
  if (p.hasPorts) {
    const head = `${ip} ${src}.${p.sport} > ${dst}.${p.dport}: `;
    switch (p.kind) {
      case PacketKind.TCP:
        // A cut header may have stopped before the flags: then there is nothing to show.
        if (p.error !== 0) return p.tcpFlags !== 0 ? `${head}Flags [${tcpFlagsText(p.tcpFlags)}]${frag}` : `${head}tcp${frag}`;
        return `${head}Flags [${tcpFlagsText(p.tcpFlags)}], length ${p.payloadWireLength}${frag}`;
      case PacketKind.UDP:
        return `${head}UDP, length ${p.payloadWireLength}${frag}`;
      default:
        return `${head}SCTP, length ${p.l4Length}${frag}`;
    }
  }
  const head = `${ip} ${src} > ${dst}: `;
  if (p.kind === PacketKind.ICMP) return head + icmpText(p) + frag;
  if (p.kind === PacketKind.ICMPV6) return head + icmp6Text(p) + frag;
  const name = ipProtoName(p.ipProto);
  return `${head}${name === 'other' ? `ip-proto-${p.ipProto}` : name}, length ${p.l4Length}${frag}`;
}

/**
 * One tcpdump-like line: `<time> [vlan N: ][VXLAN vni V (outer src > outer dst): ]<packet>`,
 * and ` [error: ...]` when the decoder stopped early.
 */
export function formatPacketText(frame: FrameInfo, p: DecodedPacket): string {
  let s = `${formatTimeText(frame.tsSec, frame.tsNsec)} `;
  if (p.vlan0 >= 0) s += p.vlan1 >= 0 ? `vlan ${p.vlan0}, ${p.vlan1}: ` : `vlan ${p.vlan0}: `;
  if (p.encap !== EncapType.NONE) {
    const name = p.encap === EncapType.VXLAN ? 'VXLAN' : 'Geneve';
    const vni = p.vni >= 0 ? ` vni ${p.vni}` : '';
    const outer =
      p.outerIpVersion !== 0
        ? ` (${formatAddress(p.outerSrc, p.outerIpVersion)} > ${formatAddress(p.outerDst, p.outerIpVersion)})`
        : '';
    s += `${name}${vni}${outer}: `;
  }
  if (p.error === 0) return s + bodyText(frame, p);
  const err = DECODE_ERROR_TEXT[p.error] ?? `decode error ${p.error}`;
  // Before any layer-3 field was read there is nothing but the reason to show.
  if (p.ipVersion === 0 && p.kind === PacketKind.OTHER && p.etherType === 0) return `${s}[${err}], length ${frame.length}`;
  return `${s}${bodyText(frame, p)} [${err}]`;
}
