/**
 * tshark as the oracle for the decoder: runs `tshark -T fields` on a capture (no stored copy of
 * its output) and compares its view of each frame with hubcap's, field by field.
 *
 * Mapping tshark's repeated fields to layers: `frame.protocols` lists the dissected layers in
 * order (`eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:tcp`); the k-th `ip` layer owns the k-th
 * value of every `ip.*` field (`-E occurrence=a`). hubcap's main packet is the first IP/ARP layer
 * after the last VXLAN/Geneve layer (the inner one), or the first one at all; its transport is
 * the next layer after IPv6 extension headers. ICMP errors quote an IP header: that one comes
 * after `icmp`, so it is never taken for the main packet, and is compared with icmpInner*.
 *
 * Truncation: with short snaplens both sides decode what is there; a field is compared when
 * both decoded it, and hubcap may report an error only where tshark marks the frame short,
 * malformed, or with a warning/error expert item.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { formatIp } from '../../src/net/addr.js';

/** tcpdump's own test captures (nanosecond, Linux cooked, VXLAN, Geneve, DNS, ICMPv6). */
export const SHARED_CAPTURES = '/work/shared/captures/tcpdump-tests';
/** The repository's recorded captures; globbed at run time so new recordings are covered. */
export const REPO_PCAPS = resolve(import.meta.dirname, '../../pcaps');

const CAPTURE_EXT = /\.(pcap|pcapng|cap)$/;

/** Capture files under `dir` (recursively), sorted; none when the folder does not exist. */
export function capturesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => CAPTURE_EXT.test(f))
    .map((f) => join(dir, f))
    .sort();
}

export const TSHARK_FIELDS = [
  'frame.number',
  'frame.protocols',
  'frame.len',
  'frame.cap_len',
  'frame.time_epoch',
  'ip.src',
  'ip.dst',
  'ip.proto',
  'ip.id',
  'ip.frag_offset',
  'ip.flags.mf',
  'ipv6.src',
  'ipv6.dst',
  'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more',
  'ipv6.fraghdr.ident',
  'ipv6.fraghdr.nxt',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.flags',
  'udp.srcport',
  'udp.dstport',
  'sctp.srcport',
  'sctp.dstport',
  'icmp.type',
  'icmp.code',
  'icmpv6.type',
  'icmpv6.code',
  'arp.opcode',
  'arp.src.proto_ipv4',
  'arp.dst.proto_ipv4',
  'vlan.id',
  'ieee8021ad.id',
  'vxlan.vni',
  'geneve.vni',
  '_ws.short',
  '_ws.malformed',
  '_ws.expert.severity',
] as const;

export type TsharkField = (typeof TSHARK_FIELDS)[number];
export type TsharkRow = Record<TsharkField, string[]>;

/** Wireshark's PI_WARN: expert items at this severity or above mean "something is wrong". */
const PI_WARN = 0x00600000;

export function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs tshark once over the file. Reassembly is off so every frame is judged on its own, like
 * hubcap's decoder: no IP defragmentation, no TCP stream reassembly. UDP 8472 is decoded as
 * VXLAN (the Linux / Cilium port; 4789 and Geneve's 6081 are tshark defaults).
 */
export function runTshark(file: string): TsharkRow[] {
  const args = [
    '-r',
    file,
    '-n',
    '-d',
    'udp.port==8472,vxlan',
    '-o',
    'ip.defragment:FALSE',
    '-o',
    'ipv6.defragment:FALSE',
    '-o',
    'tcp.desegment_tcp_streams:FALSE',
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=/s',
    ...TSHARK_FIELDS.flatMap((f) => ['-e', f]),
  ];
  const text = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const rows: TsharkRow[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const cols = line.split('\t');
    const row = {} as TsharkRow;
    TSHARK_FIELDS.forEach((f, i) => {
      const v = cols[i] ?? '';
      // The aggregator is a space; no compared value contains one (expert messages are not read).
      row[f] = v === '' ? [] : v.split(' ');
    });
    rows.push(row);
  }
  return rows;
}

/** hubcap's view of one frame, from `-o json` plus (in process) the ICMP quoted tuple. */
export interface PacketView {
  time: string;
  length: number;
  caplen: number;
  src?: string;
  dst?: string;
  protocol: string;
  sport?: number;
  dport?: number;
  tcp_flags?: Record<string, boolean>;
  icmp_type?: number;
  icmp_code?: number;
  vlan?: number;
  vlan_inner?: number;
  fragment?: { id: number; offset: number; more: boolean };
  encap?: { type: string; vni?: number; outer?: { src: string; dst: string; sport: number; dport: number } };
  error?: string;
  /** Not in the JSON contract: added by in-process tests from the record. */
  icmpInner?: { src: string; dst: string; proto: number; sport: number; dport: number };
}

export function icmpInnerOf(p: DecodedPacket, family: 4 | 6): PacketView['icmpInner'] {
  if (!p.hasIcmpInner) return undefined;
  return {
    src: formatIp(p.icmpInnerSrc, family),
    dst: formatIp(p.icmpInnerDst, family),
    proto: p.icmpInnerProto,
    sport: p.icmpInnerSport,
    dport: p.icmpInnerDport,
  };
}

const FLAG_BITS: Record<string, number> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128, NS: 256 };

function flagsOf(v: PacketView): number {
  let f = 0;
  for (const [name, on] of Object.entries(v.tcp_flags ?? {})) if (on) f |= FLAG_BITS[name] ?? 0x8000;
  return f;
}

const EXT_LAYERS = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah']);
const TRANSPORTS = new Set(['tcp', 'udp', 'sctp', 'icmp', 'icmpv6']);
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp', 1: 'icmp', 58: 'icmpv6' };

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  return s.startsWith('0x') ? parseInt(s, 16) : Number(s);
}

/** Seconds.nanoseconds since the epoch of an RFC 3339 `...T..:..:..fffffffffZ` string. */
export function epochOfRfc3339(t: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{9})Z$/.exec(t);
  if (!m) return `bad time ${t}`;
  return `${Date.parse(`${m[1]}Z`) / 1000}.${m[2]}`;
}

/** Every disagreement between hubcap's view and tshark's row, as readable lines. */
export function compareWithTshark(ours: PacketView, row: TsharkRow): string[] {
  const diffs: string[] = [];
  const eq = (what: string, got: unknown, want: unknown) => {
    if (got !== want) diffs.push(`${what}: hubcap ${JSON.stringify(got)}, tshark ${JSON.stringify(want)}`);
  };
  const layers = (row['frame.protocols'][0] ?? '').split(':');
  const occ = (i: number) => layers.slice(0, i).filter((l) => l === layers[i]).length;
  const field = (name: string, k: number) => row[name as TsharkField]?.[k];
  const severities = row['_ws.expert.severity'].map(Number);
  const flagged = row['_ws.short'].length > 0 || row['_ws.malformed'].length > 0 || severities.some((s) => s >= PI_WARN);
  const hasError = ours.error !== undefined;

  eq('length', ours.length, num(row['frame.len'][0]));
  eq('caplen', ours.caplen, num(row['frame.cap_len'][0]));
  eq('time', epochOfRfc3339(ours.time), row['frame.time_epoch'][0]);
  if (hasError && !flagged) diffs.push(`hubcap reports "${ours.error}" where tshark sees nothing wrong`);

  // --- overlay
  let tunnel = -1;
  layers.forEach((l, i) => {
    if (l === 'vxlan' || l === 'geneve') tunnel = i;
  });
  if (tunnel >= 0) {
    const type = layers[tunnel]!;
    if (!ours.encap) diffs.push(`tshark decodes ${type}, hubcap has no encap`);
    else {
      eq('encap.type', ours.encap.type, type);
      const vni = num(field(`${type}.vni`, occ(tunnel)));
      if (vni !== undefined && ours.encap.vni !== undefined) eq('encap.vni', ours.encap.vni, vni);
      else if (vni !== undefined && !hasError) diffs.push('encap.vni missing');
      let l3 = -1;
      let l4 = -1;
      for (let i = 0; i < tunnel; i++) {
        if (layers[i] === 'ip' || layers[i] === 'ipv6') l3 = i;
        if (layers[i] === 'udp') l4 = i;
      }
      const outer = ours.encap.outer;
      if (l3 >= 0 && outer) {
        eq('encap.outer.src', outer.src, field(`${layers[l3]}.src`, occ(l3)));
        eq('encap.outer.dst', outer.dst, field(`${layers[l3]}.dst`, occ(l3)));
      }
      if (l4 >= 0 && outer) {
        eq('encap.outer.sport', outer.sport, num(field('udp.srcport', occ(l4))));
        eq('encap.outer.dport', outer.dport, num(field('udp.dstport', occ(l4))));
      }
    }
  } else if (ours.encap && !hasError) {
    diffs.push(`hubcap decodes ${ours.encap.type}, tshark does not`);
  }

  // --- VLAN tags of the outermost frame (before any network layer)
  const firstL3 = layers.findIndex((l) => l === 'ip' || l === 'ipv6' || l === 'arp');
  const vlanIds: number[] = [];
  layers.forEach((l, i) => {
    if ((firstL3 < 0 || i < firstL3) && (l === 'vlan' || l === 'ieee8021ad')) {
      const id = num(field(`${l}.id`, occ(i)));
      if (id !== undefined) vlanIds.push(id);
    }
  });
  eq('vlan', ours.vlan, vlanIds[0]);
  eq('vlan_inner', ours.vlan_inner, vlanIds[1]);

  // --- main network layer
  let main = -1;
  for (let i = tunnel + 1; i < layers.length; i++) {
    if (layers[i] === 'ip' || layers[i] === 'ipv6' || layers[i] === 'arp') {
      main = i;
      break;
    }
  }
  if (main < 0) {
    if (ours.src !== undefined && !hasError) diffs.push(`hubcap has addresses ${ours.src} > ${ours.dst}, tshark no network layer`);
    if (!hasError) eq('protocol', ours.protocol, 'other');
    return diffs;
  }
  const l3 = layers[main]!;
  const k = occ(main);
  if (l3 === 'arp') {
    eq('protocol', ours.protocol, 'arp');
    const s = field('arp.src.proto_ipv4', k);
    if (s !== undefined) {
      eq('src', ours.src, s);
      eq('dst', ours.dst, field('arp.dst.proto_ipv4', k));
    }
    return diffs;
  }
  const src = field(`${l3}.src`, k);
  if (src !== undefined && (ours.src !== undefined || !hasError)) {
    eq('src', ours.src, src);
    eq('dst', ours.dst, field(`${l3}.dst`, k));
  }

  // Fragments: IPv4 flags/offset (8-byte units in tshark), or an IPv6 fragment header.
  let t = main + 1;
  let fragHdr = -1;
  while (t < layers.length && EXT_LAYERS.has(layers[t]!)) {
    if (layers[t] === 'ipv6.fraghdr') fragHdr = t;
    t++;
  }
  let want: { id: number; offset: number; more: boolean } | undefined;
  let ipProto: number | undefined;
  if (l3 === 'ip') {
    const off = num(field('ip.frag_offset', k)) ?? 0;
    const more = field('ip.flags.mf', k) === '1';
    if (off !== 0 || more) want = { id: num(field('ip.id', k))!, offset: off * 8, more };
    ipProto = num(field('ip.proto', k));
  } else if (fragHdr >= 0) {
    const f = occ(fragHdr);
    want = {
      id: num(field('ipv6.fraghdr.ident', f))!,
      offset: (num(field('ipv6.fraghdr.offset', f)) ?? 0) * 8,
      more: field('ipv6.fraghdr.more', f) === '1',
    };
    ipProto = num(field('ipv6.fraghdr.nxt', f));
  }
  if (want || !hasError) eq('fragment', JSON.stringify(ours.fragment), JSON.stringify(want));
  const later = want !== undefined && want.offset > 0;

  // --- transport
  const tl = layers[t];
  const m = occ(t);
  if (tl !== undefined && TRANSPORTS.has(tl)) {
    eq('protocol', ours.protocol, tl);
    if (tl === 'icmp' || tl === 'icmpv6') {
      const type = num(field(`${tl}.type`, m));
      if (type !== undefined && (ours.icmp_type !== undefined || !hasError)) {
        eq('icmp_type', ours.icmp_type, type);
        eq('icmp_code', ours.icmp_code, num(field(`${tl}.code`, m)));
      }
      compareQuoted(ours, row, layers, t, occ, eq, diffs);
    } else {
      const sport = num(field(`${tl}.srcport`, m));
      if (sport !== undefined && (ours.sport !== undefined || !hasError)) {
        eq('sport', ours.sport, sport);
        eq('dport', ours.dport, num(field(`${tl}.dstport`, m)));
      } else if (sport === undefined && ours.sport !== undefined && !flagged) {
        diffs.push(`hubcap has ports ${ours.sport} > ${ours.dport}, tshark none`);
      }
      if (tl === 'tcp') {
        const flags = num(field('tcp.flags', m));
        if (flags !== undefined && (flagsOf(ours) !== 0 || !hasError)) eq('tcp_flags', flagsOf(ours), flags & 0x1ff);
      }
    }
  } else if (later) {
    // A later fragment: no transport header on either side, the protocol from the IP header.
    eq('protocol', ours.protocol, PROTO_NAMES[ipProto ?? -1] ?? 'other');
    if (ours.sport !== undefined) diffs.push('hubcap has ports on a later fragment');
  } else if (!hasError) {
    eq('protocol', ours.protocol, 'other');
  }
  return diffs;
}

/** The IP header an ICMP error quotes (the layer right after icmp/icmpv6) vs icmpInner*. */
function compareQuoted(
  ours: PacketView,
  row: TsharkRow,
  layers: string[],
  icmpAt: number,
  occ: (i: number) => number,
  eq: (what: string, got: unknown, want: unknown) => void,
  diffs: string[],
): void {
  if (!('icmpInner' in ours)) return; // JSON-only views do not carry it
  const q = icmpAt + 1;
  const ql = layers[q];
  if (ql !== 'ip' && ql !== 'ipv6') {
    if (ours.icmpInner && ours.icmp_type !== undefined) diffs.push('hubcap has a quoted tuple, tshark no quoted IP header');
    return;
  }
  const src = row[`${ql}.src` as TsharkField]?.[occ(q)];
  if (src === undefined) return;
  if (!ours.icmpInner) {
    diffs.push(`tshark shows a quoted ${ql} header, hubcap none`);
    return;
  }
  eq('icmpInner.src', ours.icmpInner.src, src);
  eq('icmpInner.dst', ours.icmpInner.dst, row[`${ql}.dst` as TsharkField]?.[occ(q)]);
  let t = q + 1;
  while (t < layers.length && EXT_LAYERS.has(layers[t]!)) t++;
  const tl = layers[t];
  if (tl === 'tcp' || tl === 'udp' || tl === 'sctp') {
    const sport = num(row[`${tl}.srcport` as TsharkField]?.[occ(t)]);
    if (sport !== undefined) {
      eq('icmpInner.proto', PROTO_NAMES[ours.icmpInner.proto], tl);
      eq('icmpInner.sport', ours.icmpInner.sport, sport);
      eq('icmpInner.dport', ours.icmpInner.dport, num(row[`${tl}.dstport` as TsharkField]?.[occ(t)]));
    }
  }
}
