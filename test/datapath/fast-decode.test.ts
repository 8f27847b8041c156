/**
 * Differential: the native fast path's decoder (native/fastpath/decode.cc FastDecode, through
 * fastpathTesting.fastDecode) against src/decode/decode.ts decodeBytes. The oracle is
 * test/helpers/fast-packet.ts: FastDecode takes a frame exactly when isFastEligible(decoded) is
 * true, and then every packed field equals packDecodedPacket(decoded, frame offset).
 *
 * Deliberate rejects (frames the oracle takes but FastDecode leaves to TypeScript): none. The
 * port covers every link type decodeBytes knows (Ethernet with up to 4 VLAN tags, SLL, SLL2,
 * RAW, IPV4, IPV6, NULL, LOOP), IPv4 options, IPv4/IPv6 zero lengths (TSO, jumbograms) and up
 * to four IPv6 extension headers, so the rule below has no exceptions.
 *
 * Frames: every frame of pcaps/, of the shared tcpdump captures and of the synthetic captures of
 * test/helpers/decode-synthetic.ts (each link type, VLAN/QinQ, options, extension headers, cut
 * snaplens), each at an odd offset inside one chunk as a reader hands them; hand-built edge
 * cases; every cut (up to 160 bytes) of 600 distinct real frames; fast-check fuzzing with fixed
 * seeds (flipped bytes, wrong original lengths, other link types, random bytes, random fields
 * behind valid link/IP prefixes).
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { copyFrame, openCapture, type CopiedFrame } from '../../src/capture/open.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { DecodedPacket, EtherType, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import { makeTempDir, tcpdumpCaptures } from '../helpers/capture-fixtures.js';
import {
  authHeader,
  concat,
  ethernet,
  extHeader,
  fragmentHeader,
  icmp4,
  icmp6,
  ipv4,
  ipv6,
  loopback,
  routingHeader,
  sctp,
  sll,
  sll2,
  tcp,
  udp,
  vxlan,
  type Bytes,
} from '../helpers/decode-build.js';
import { writeSyntheticCaptures } from '../helpers/decode-synthetic.js';
import { isFastEligible, packDecodedPacket, PACKED_WORDS, unpackFields } from '../helpers/fast-packet.js';
import { nativeOrFail } from '../maps/native-helpers.js';

/** fastpathTesting.fastDecode (native/fastpath/decode_testing.cc). */
type FastDecodeFn = (data: Uint8Array, offset: number, caplen: number, wireLength: number, linkType: number, out: Int32Array) => boolean;

function fastDecodeFn(): FastDecodeFn {
  const fn = nativeOrFail().fastpathTesting.fastDecode;
  if (typeof fn !== 'function') throw new Error('fastpathTesting.fastDecode is missing: rebuild the addon');
  return fn as FastDecodeFn;
}

const PCAPS_DIR = join(import.meta.dirname, '..', '..', 'pcaps');
const LINK_TYPES = [
  LinkType.NULL,
  LinkType.ETHERNET,
  LinkType.RAW,
  LinkType.LOOP,
  LinkType.LINUX_SLL,
  LinkType.IPV4,
  LinkType.IPV6,
  LinkType.LINUX_SLL2,
];

interface Tally {
  frames: number;
  accepted: number;
  /** Accepted frames by "linkType/kind/ipVersion/vlan": what the accepted set covers. */
  shapes: Set<string>;
}

function newTally(): Tally {
  return { frames: 0, accepted: 0, shapes: new Set() };
}

/**
 * The oracle, for one frame data[offset, offset + caplen): decodeBytes, then fastDecode; they
 * must agree on taking it and, when taken, on every field. Cheap comparisons first, expect's
 * diff only on a mismatch (the loops run hundreds of thousands of frames).
 */
class Oracle {
  private readonly fd = fastDecodeFn();
  private readonly p = new DecodedPacket();
  private readonly got = new Int32Array(PACKED_WORDS + 4);
  private readonly want = new Int32Array(PACKED_WORDS);

  check(data: Uint8Array, offset: number, caplen: number, length: number, linkType: number, context: string, tally?: Tally): boolean {
    const p = this.p;
    decodeBytes(data, offset, caplen, length, linkType, p);
    const eligible = isFastEligible(p);
    this.got.fill(0x5a5a5a5a);
    const accepted = this.fd(data, offset, caplen, length, linkType, this.got);
    if (tally) tally.frames++;
    if (accepted !== eligible) {
      expect({ accepted, decoded: { ...unpackFields(packDecodedPacket(p, offset)), error: p.error, encap: p.encap, isFragment: p.isFragment } }, context).toEqual({
        accepted: eligible,
      });
    }
    if (!accepted) return false;
    packDecodedPacket(p, offset, this.want);
    for (let i = 0; i < PACKED_WORDS; i++) {
      if (this.got[i] !== this.want[i]) {
        expect(unpackFields(this.got.subarray(0, PACKED_WORDS)), context).toEqual(unpackFields(this.want));
      }
    }
    // Nothing written past the packed words.
    if (this.got[PACKED_WORDS] !== 0x5a5a5a5a) expect(this.got[PACKED_WORDS], `${context}: wrote past out`).toBe(0x5a5a5a5a);
    if (tally) {
      tally.accepted++;
      tally.shapes.add(`${linkType}/${p.kind}/${p.ipVersion}/${p.vlan0 >= 0 ? 'vlan' : '-'}`);
    }
    return true;
  }
}

/** Every capture: pcaps/, the shared tcpdump captures, the synthetic ones written into `dir`. */
function capturePaths(syntheticDir: string): string[] {
  const own = readdirSync(PCAPS_DIR)
    .filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng'))
    .sort()
    .map((f) => join(PCAPS_DIR, f));
  return [...own, ...tcpdumpCaptures(), ...writeSyntheticCaptures(syntheticDir)];
}

/** Every frame of every capture (copied), by capture file name; read once in beforeAll. */
const captures = new Map<string, CopiedFrame[]>();
/** All of them in one list (the truncation and fuzz tests draw from it). */
const corpus: CopiedFrame[] = [];
const temp = makeTempDir('hubcap-fast-decode-');

beforeAll(async () => {
  for (const path of capturePaths(temp.dir)) {
    const frames: CopiedFrame[] = [];
    await openCapture(path).run((f) => frames.push(copyFrame(f)));
    captures.set(path.split('/').pop()!, frames);
    corpus.push(...frames);
  }
});

afterAll(() => temp.cleanup());

/**
 * A capture's frames copied into one chunk, each at its own (odd) offset with junk between them:
 * how the readers hand frames over (views into a chunk), so offsets other than 0 are exercised.
 */
function inChunk(frames: CopiedFrame[]): { data: Uint8Array; offsets: number[] } {
  const gap = 3;
  const data = new Uint8Array(frames.reduce((n, f) => n + f.caplen + gap, gap)).fill(0xee);
  const offsets: number[] = [];
  let at = gap;
  for (const f of frames) {
    data.set(f.data, at);
    offsets.push(at);
    at += f.caplen + gap;
  }
  return { data, offsets };
}

/** The oracle over every frame of every capture (once; both capture tests read the tally). */
let captureTally: Tally | undefined;
function checkAllCaptures(): Tally {
  if (captureTally) return captureTally;
  const total = newTally();
  const oracle = new Oracle();
  for (const [name, frames] of captures) {
    const tally = newTally();
    const { data, offsets } = inChunk(frames);
    frames.forEach((f, i) => {
      oracle.check(data, offsets[i]!, f.caplen, f.length, f.linkType, `${name} frame ${i}`, tally);
    });
    // The Cilium captures are mostly established TCP/UDP: the fast path must take some of each.
    if (name.startsWith('connectivity-') || name.startsWith('starwars-') || name.startsWith('foundation-')) {
      expect(tally.accepted, name).toBeGreaterThan(0);
    }
    total.frames += tally.frames;
    total.accepted += tally.accepted;
    for (const s of tally.shapes) total.shapes.add(s);
  }
  captureTally = total;
  return total;
}

describe('every frame of every capture', () => {
  test('fastDecode takes exactly the eligible frames, with the fields decodeBytes gives', () => {
    expect(captures.size).toBeGreaterThan(30);
    const total = checkAllCaptures();
    // Not vacuous: most real traffic is taken (2113 of 2321 frames when this was written).
    expect(total.frames).toBeGreaterThan(2000);
    expect(total.accepted).toBeGreaterThan(1800);
    expect(total.accepted / total.frames).toBeGreaterThan(0.8);
  });

  test('the accepted frames cover each link type, VLANs, TCP, UDP and both echoes', () => {
    const total = checkAllCaptures();
    const E = LinkType.ETHERNET;
    for (const shape of [
      `${E}/${PacketKind.TCP}/4/-`,
      `${E}/${PacketKind.TCP}/4/vlan`,
      `${E}/${PacketKind.UDP}/4/vlan`, // QinQ (both TPIDs)
      `${E}/${PacketKind.UDP}/4/-`,
      `${E}/${PacketKind.TCP}/6/-`,
      `${E}/${PacketKind.UDP}/6/-`,
      `${E}/${PacketKind.ICMP}/4/-`,
      `${E}/${PacketKind.ICMPV6}/6/-`,
      `${LinkType.LINUX_SLL}/${PacketKind.TCP}/4/-`,
      `${LinkType.LINUX_SLL}/${PacketKind.UDP}/6/-`,
      `${LinkType.LINUX_SLL2}/${PacketKind.TCP}/4/-`,
      `${LinkType.LINUX_SLL2}/${PacketKind.TCP}/4/vlan`,
      `${LinkType.LINUX_SLL2}/${PacketKind.UDP}/6/-`,
      `${LinkType.RAW}/${PacketKind.TCP}/4/-`,
      `${LinkType.RAW}/${PacketKind.TCP}/6/-`,
      `${LinkType.IPV4}/${PacketKind.UDP}/4/-`,
      `${LinkType.IPV6}/${PacketKind.TCP}/6/-`,
      `${LinkType.NULL}/${PacketKind.UDP}/6/-`,
      `${LinkType.LOOP}/${PacketKind.TCP}/4/-`,
    ]) {
      expect(total.shapes.has(shape), `no accepted frame of shape ${shape}`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-built edge cases

const A4 = { src: '10.244.1.5', dst: '10.244.2.7' };
const A6 = { src: 'fd00:10:244:1::5', dst: 'fd00:10:244:2::7' };
const syn = (payload: Bytes = []) => tcp({ sport: 51000, dport: 8080, flags: TcpFlag.SYN, seq: 0xfedcba98, ack: 0x80000001, window: 0xffff }, payload);
const tcp4 = (payload: Bytes = [], o: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ ...A4, proto: IpProto.TCP, ...o }, syn(payload));
const udp4 = (dport: number, payload: Bytes = [1, 2, 3, 4]) => ipv4({ ...A4, proto: IpProto.UDP }, udp({ sport: 40000, dport }, payload));
const ip6 = (nextHeader: number, payload: Bytes, o: Partial<Parameters<typeof ipv6>[0]> = {}) => ipv6({ ...A6, nextHeader, ...o }, payload);
const e4 = (ip: Bytes, vlans: { tpid?: number; id: number; pcp?: number }[] = []) => ethernet(EtherType.IPV4, ip, { vlans });
const e6 = (ip: Bytes) => ethernet(EtherType.IPV6, ip);

interface Case {
  name: string;
  linkType: number;
  bytes: Uint8Array;
  caplen?: number;
  length?: number;
  /** What the oracle must say (documents the case; the oracle decides). */
  taken: boolean;
}

const hop = (next: number, payload: Bytes) => extHeader(next, payload);
const CASES: Case[] = [
  { name: 'ethernet tcp', linkType: LinkType.ETHERNET, bytes: e4(tcp4([1, 2, 3])), taken: true },
  { name: 'tcp payload cut by the snaplen', linkType: LinkType.ETHERNET, bytes: e4(tcp4(new Array<number>(200).fill(7))), caplen: 14 + 20 + 20 + 5, taken: true },
  { name: 'tcp cut right after the header', linkType: LinkType.ETHERNET, bytes: e4(tcp4([1, 2, 3])), caplen: 14 + 20 + 20, taken: true },
  { name: 'tcp header cut', linkType: LinkType.ETHERNET, bytes: e4(tcp4()), caplen: 14 + 20 + 19, taken: false },
  { name: 'tcp options cut', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 6 }, tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK, options: [1, 1, 1, 1, 1, 1, 1, 1] }))), caplen: 14 + 20 + 24, taken: false },
  { name: 'tcp data offset past the packet', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 6 }, tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK, dataOffset: 60 }))), taken: false },
  { name: 'tcp data offset < 20', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 6 }, tcp({ sport: 1, dport: 2, flags: TcpFlag.ACK, dataOffset: 16 }))), taken: false },
  { name: 'tcp NS and all flags', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 6 }, tcp({ sport: 65535, dport: 0, flags: 0x1ff }))), taken: true },
  { name: 'ethernet trailer (IP shorter than the frame)', linkType: LinkType.ETHERNET, bytes: concat(e4(udp4(53, [])), new Array<number>(18).fill(0)), taken: true },
  { name: 'udp exactly 8 bytes', linkType: LinkType.ETHERNET, bytes: e4(udp4(53, [])), taken: true },
  { name: 'udp header cut', linkType: LinkType.ETHERNET, bytes: e4(udp4(53, [])), caplen: 14 + 20 + 7, taken: false },
  { name: 'udp payload cut', linkType: LinkType.ETHERNET, bytes: e4(udp4(53, new Array<number>(100).fill(1))), caplen: 14 + 20 + 9, taken: true },
  { name: 'vxlan port', linkType: LinkType.ETHERNET, bytes: e4(udp4(8472, vxlan(1, e4(tcp4())))), taken: false },
  { name: 'vxlan port without a vxlan header', linkType: LinkType.ETHERNET, bytes: e4(udp4(4789, [1, 2])), taken: false },
  { name: 'geneve port, empty', linkType: LinkType.ETHERNET, bytes: e4(udp4(6081, [])), taken: false },
  { name: 'vxlan port as source only', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 17 }, udp({ sport: 8472, dport: 1000 }, [1]))), taken: true },
  { name: 'one vlan, pcp and id 4095', linkType: LinkType.ETHERNET, bytes: e4(tcp4(), [{ id: 4095, pcp: 7 }]), taken: true },
  { name: 'four vlan tags', linkType: LinkType.ETHERNET, bytes: e4(tcp4(), [{ tpid: EtherType.QINQ, id: 1 }, { id: 2 }, { tpid: EtherType.QINQ_OLD, id: 3 }, { id: 4 }]), taken: true },
  { name: 'five vlan tags', linkType: LinkType.ETHERNET, bytes: e4(tcp4(), [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }]), taken: false },
  { name: 'vlan tag cut', linkType: LinkType.ETHERNET, bytes: e4(tcp4(), [{ id: 1 }]), caplen: 16, taken: false },
  { name: 'ipv4 options (40 bytes)', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { options: new Array<number>(40).fill(1) })), taken: true },
  { name: 'ipv4 options cut', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { options: new Array<number>(40).fill(1) })), caplen: 14 + 40, taken: false },
  { name: 'ipv4 ihl < 5', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { ihl: 4 })), taken: false },
  { name: 'ipv4 DF', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { df: true })), taken: true },
  { name: 'ipv4 reserved flag bit', linkType: LinkType.ETHERNET, bytes: (() => { const b = e4(tcp4()); b[14 + 6]! |= 0x80; return b; })(), taken: true },
  { name: 'ipv4 first fragment', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { mf: true })), taken: false },
  { name: 'ipv4 later fragment', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { fragOffset: 8 })), taken: false },
  { name: 'ipv4 total length 0 (TSO)', linkType: LinkType.ETHERNET, bytes: e4(tcp4(new Array<number>(100).fill(2), { totalLength: 0 })), caplen: 14 + 20 + 20 + 10, length: 65000, taken: true },
  { name: 'ipv4 total length 0, 4 GiB on the wire', linkType: LinkType.RAW, bytes: tcp4([1], { totalLength: 0 }), length: 0xffffffff, taken: true },
  { name: 'ipv4 total length past the wire', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { totalLength: 1000 })), taken: false },
  { name: 'ipv4 total length < ihl', linkType: LinkType.ETHERNET, bytes: e4(tcp4([], { totalLength: 19 })), taken: false },
  { name: 'ipv4 total longer than captured (snaplen)', linkType: LinkType.ETHERNET, bytes: e4(tcp4(new Array<number>(300).fill(3))), caplen: 96, taken: true },
  { name: 'original length below caplen', linkType: LinkType.ETHERNET, bytes: e4(tcp4([1, 2])), length: 10, taken: true },
  { name: 'ipv4 version 6 in an IPv4 ethertype', linkType: LinkType.ETHERNET, bytes: ethernet(EtherType.IPV4, ip6(6, syn())), taken: false },
  { name: 'icmp echo request', linkType: LinkType.ETHERNET, bytes: e4(ipv4({ ...A4, proto: 1 }, icmp4({ type: 8, code: 3, id: 0xffff, seq: 0x8000 }))), taken: true },
  { name: 'icmp echo reply, 8 bytes', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 1 }, icmp4({ type: 0, id: 1, seq: 2 })), taken: true },
  { name: 'icmp echo cut', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 1 }, icmp4({ type: 0, id: 1, seq: 2 })), caplen: 27, taken: false },
  { name: 'icmp unreachable', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 1 }, icmp4({ type: 3, code: 1 }, tcp4())), taken: false },
  { name: 'icmp timestamp', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 1 }, icmp4({ type: 13 }, new Array<number>(12).fill(0))), taken: false },
  { name: 'icmpv6 echo over ipv4', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 58 }, icmp6({ type: 128, id: 1, seq: 2 })), taken: false },
  { name: 'icmp echo over ipv6', linkType: LinkType.IPV6, bytes: ip6(1, icmp4({ type: 8, id: 1, seq: 2 })), taken: false },
  { name: 'icmpv6 echo reply', linkType: LinkType.IPV6, bytes: ip6(58, icmp6({ type: 129, code: 9, id: 3, seq: 4 }, [1, 2])), taken: true },
  { name: 'icmpv6 neighbour solicitation', linkType: LinkType.IPV6, bytes: ip6(58, icmp6({ type: 135 }, new Array<number>(16).fill(0))), taken: false },
  { name: 'sctp', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: IpProto.SCTP }, sctp({ sport: 1, dport: 2 })), taken: false },
  { name: 'gre', linkType: LinkType.IPV4, bytes: ipv4({ ...A4, proto: 47 }, [0, 0, 8, 0]), taken: false },
  { name: 'ipv6 four extension headers', linkType: LinkType.ETHERNET, bytes: e6(ip6(0, hop(43, routingHeader(60, extHeader(51, authHeader(6, syn([9])), 2))))), taken: true },
  { name: 'ipv6 five extension headers', linkType: LinkType.ETHERNET, bytes: e6(ip6(0, hop(43, routingHeader(60, hop(60, hop(60, hop(6, syn()))))))), taken: false },
  { name: 'ipv6 fragment header, offset 0', linkType: LinkType.ETHERNET, bytes: e6(ip6(44, fragmentHeader(17, { offset: 0, more: false, id: 5 }, udp({ sport: 1, dport: 2 })))), taken: false },
  { name: 'ipv6 extension header cut', linkType: LinkType.ETHERNET, bytes: e6(ip6(0, hop(6, syn()))), caplen: 14 + 40 + 6, taken: false },
  { name: 'ipv6 extension header past the payload length', linkType: LinkType.IPV6, bytes: ip6(60, extHeader(6, syn(), 3), { payloadLength: 16 }), taken: false },
  { name: 'ipv6 payload length 0 (jumbogram / BIG TCP)', linkType: LinkType.IPV6, bytes: ip6(6, syn(new Array<number>(50).fill(1)), { payloadLength: 0 }), length: 70000, caplen: 40 + 30, taken: true },
  { name: 'ipv6 payload length past the wire', linkType: LinkType.IPV6, bytes: ip6(6, syn(), { payloadLength: 100 }), taken: false },
  { name: 'ipv6 esp', linkType: LinkType.IPV6, bytes: ip6(50, [0, 0, 1, 0, 0, 0, 0, 1]), taken: false },
  { name: 'ipv6 no next header after hop-by-hop', linkType: LinkType.IPV6, bytes: ip6(0, hop(59, [])), taken: false },
  { name: 'ipv6 in an IPv4 ethertype', linkType: LinkType.ETHERNET, bytes: ethernet(EtherType.IPV4, ip6(6, syn())), taken: false },
  { name: 'sll outgoing', linkType: LinkType.LINUX_SLL, bytes: sll(EtherType.IPV4, tcp4(), { packetType: 4 }), taken: true },
  { name: 'sll big packet type', linkType: LinkType.LINUX_SLL, bytes: sll(EtherType.IPV6, ip6(17, udp({ sport: 1, dport: 2 })), { packetType: 0x1234 }), taken: true },
  { name: 'sll with a vlan tag', linkType: LinkType.LINUX_SLL, bytes: sll(EtherType.VLAN, [0x20, 0x07, 0x08, 0x00, ...tcp4()]), taken: true },
  { name: 'sll netlink', linkType: LinkType.LINUX_SLL, bytes: sll(EtherType.IPV4, tcp4(), { hatype: 824 }), taken: false },
  { name: 'sll 802.2 pseudo protocol', linkType: LinkType.LINUX_SLL, bytes: sll(4, tcp4()), taken: false },
  { name: 'sll header cut', linkType: LinkType.LINUX_SLL, bytes: sll(EtherType.IPV4, tcp4()), caplen: 15, taken: false },
  { name: 'sll2 high ifindex', linkType: LinkType.LINUX_SLL2, bytes: sll2(EtherType.IPV4, tcp4(), { ifIndex: 0xfffffffe, packetType: 3 }), taken: true },
  { name: 'sll2 qinq', linkType: LinkType.LINUX_SLL2, bytes: sll2(EtherType.QINQ, [0x01, 0x00, 0x81, 0x00, 0x00, 0x02, 0x86, 0xdd, ...ip6(6, syn())]), taken: true },
  { name: 'sll2 netlink', linkType: LinkType.LINUX_SLL2, bytes: sll2(EtherType.IPV4, tcp4(), { hatype: 824 }), taken: false },
  { name: 'sll2 header cut', linkType: LinkType.LINUX_SLL2, bytes: sll2(EtherType.IPV4, tcp4()), caplen: 19, taken: false },
  { name: 'raw ipv6', linkType: LinkType.RAW, bytes: ip6(17, udp({ sport: 9, dport: 10 }, [1])), taken: true },
  { name: 'raw bad version', linkType: LinkType.RAW, bytes: (() => { const b = tcp4(); b[0] = 0x55; return b; })(), taken: false },
  { name: 'raw empty', linkType: LinkType.RAW, bytes: new Uint8Array(0), taken: false },
  { name: 'ipv4 link type with ipv6 inside', linkType: LinkType.IPV4, bytes: ip6(6, syn()), taken: false },
  { name: 'null little-endian AF_INET6 (Linux 10)', linkType: LinkType.NULL, bytes: loopback(10, ip6(6, syn()), true), taken: true },
  { name: 'null big-endian AF_INET', linkType: LinkType.NULL, bytes: loopback(2, tcp4(), false), taken: true },
  { name: 'null unknown family', linkType: LinkType.NULL, bytes: loopback(7, tcp4(), true), taken: false },
  { name: 'loop little-endian AF_INET (wrong order)', linkType: LinkType.LOOP, bytes: loopback(2, tcp4(), true), taken: false },
  { name: 'loop AF_INET6 (FreeBSD 28)', linkType: LinkType.LOOP, bytes: loopback(28, ip6(17, udp({ sport: 1, dport: 2 })), false), taken: true },
  { name: 'unknown link type', linkType: 147, bytes: e4(tcp4()), taken: false },
  { name: 'ethernet arp', linkType: LinkType.ETHERNET, bytes: ethernet(EtherType.ARP, new Array<number>(28).fill(0)), taken: false },
  { name: 'ethernet header cut', linkType: LinkType.ETHERNET, bytes: e4(tcp4()), caplen: 13, taken: false },
];

describe('hand-built frames', () => {
  const oracle = new Oracle();
  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // At offset 0 of its own array, and at an odd offset inside a larger chunk filled with junk.
    for (const pad of [0, 7]) {
      const chunk = new Uint8Array(pad + c.bytes.length + 32).fill(0xee);
      const caplen = c.caplen ?? c.bytes.length;
      chunk.set(c.bytes.subarray(0, caplen), pad);
      const taken = oracle.check(chunk, pad, caplen, c.length ?? c.bytes.length, c.linkType, `${c.name} at ${pad}`);
      expect(taken, `${c.name}: the oracle's answer changed; update the case`).toBe(c.taken);
    }
  });

  test('caplen past the end of the array is clamped as decodeBytes clamps it; an offset past it is not read', () => {
    const bytes = e4(tcp4([1, 2, 3]));
    expect(oracle.check(bytes, 0, bytes.length + 100, bytes.length + 100, LinkType.ETHERNET, 'caplen past the end')).toBe(true);
    expect(oracle.check(bytes, bytes.length, 100, 100, LinkType.ETHERNET, 'offset at the end')).toBe(false);
    expect(oracle.check(bytes, bytes.length + 5, 100, 100, LinkType.ETHERNET, 'offset past the end')).toBe(false);
  });

  test('bad arguments throw a TypeError', () => {
    const fd = fastDecodeFn();
    const data = e4(tcp4());
    const out = new Int32Array(PACKED_WORDS);
    expect(() => fd(data, 0, data.length, data.length, 1, new Int32Array(PACKED_WORDS - 1))).toThrow(TypeError);
    expect(() => fd(Array.from(data) as unknown as Uint8Array, 0, data.length, data.length, 1, out)).toThrow(TypeError);
    expect(() => fd(data, -1, data.length, data.length, 1, out)).toThrow(TypeError);
    expect(() => fd(data, 0.5, data.length, data.length, 1, out)).toThrow(TypeError);
    expect(() => fd(data, 0, data.length, data.length, 1, new Uint32Array(PACKED_WORDS) as unknown as Int32Array)).toThrow(TypeError);
    expect(fd(data, 0, data.length, data.length, 1, out)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Truncations and fuzzing of real frames

/** Up to `max` real frames with distinct first 96 bytes, per link type round-robin (variety). */
function distinctFrames(max: number): CopiedFrame[] {
  const seen = new Set<string>();
  const out: CopiedFrame[] = [];
  for (const f of corpus) {
    const key = `${f.linkType}:${Buffer.from(f.data.subarray(0, 96)).toString('hex')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(f);
  }
  // Keep a spread: every k-th, so all captures contribute.
  if (out.length <= max) return out;
  const step = out.length / max;
  return Array.from({ length: max }, (_, i) => out[Math.floor(i * step)]!);
}

describe('truncations and fuzzing (never a crash, same oracle)', () => {
  test('every real frame cut at every length (snaplen cut, and cut on the wire too)', () => {
    const oracle = new Oracle();
    const tally = newTally();
    for (const f of distinctFrames(600)) {
      const top = Math.min(f.caplen, 160);
      for (let n = 0; n <= top; n++) {
        oracle.check(f.data, 0, n, f.length, f.linkType, `cut ${n} (wire ${f.length})`, tally);
        oracle.check(f.data, 0, n, n, f.linkType, `cut ${n} (wire ${n})`, tally);
      }
    }
    expect(tally.frames).toBeGreaterThan(50_000);
    expect(tally.accepted).toBeGreaterThan(5_000);
  });

  test('flipped bytes in real frames, wrong original lengths (fast-check)', () => {
    const oracle = new Oracle();
    const frames = distinctFrames(2000);
    const tally = newTally();
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        // Positions mostly in the headers (the first 80 bytes), values anywhere.
        fc.array(fc.tuple(fc.oneof(fc.nat(80), fc.nat(2000)), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.oneof(fc.constant(0), fc.integer({ min: -200, max: 200 }), fc.constant(0xffffffff)),
        fc.nat(9),
        (i, flips, lenDelta, pad) => {
          const f = frames[i]!;
          const data = new Uint8Array(pad + f.caplen).fill(0xee);
          data.set(f.data, pad);
          for (const [pos, val] of flips) data[pad + (pos % Math.max(1, f.caplen))] = val;
          const length = lenDelta === 0xffffffff ? lenDelta : Math.max(0, f.length + lenDelta);
          oracle.check(data, pad, f.caplen, length, f.linkType, `frame ${i} flips ${JSON.stringify(flips)} length ${length}`, tally);
        },
      ),
      { numRuns: 6000, seed: 0x5eed_dec0 },
    );
    expect(tally.accepted).toBeGreaterThan(1000);
  });

  test('real frames read as another link type (fast-check)', () => {
    const oracle = new Oracle();
    const frames = distinctFrames(2000);
    fc.assert(
      fc.property(fc.nat(frames.length - 1), fc.constantFrom(...LINK_TYPES), fc.nat(24), (i, lt, skip) => {
        const f = frames[i]!;
        const n = Math.max(0, f.caplen - skip);
        oracle.check(f.data, Math.min(skip, f.caplen), n, Math.max(0, f.length - skip), lt, `frame ${i} as ${lt} from ${skip}`);
      }),
      { numRuns: 4000, seed: 17 },
    );
  });

  test('random bytes with random link types (fast-check)', () => {
    const oracle = new Oracle();
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...LINK_TYPES), fc.nat(300)),
        fc.uint8Array({ maxLength: 120, size: 'max' }),
        fc.nat(300),
        (lt, bytes, extra) => {
          oracle.check(bytes, 0, bytes.length, bytes.length + extra, lt, `random ${lt}`);
        },
      ),
      { numRuns: 5000, seed: 42 },
    );
  });

  test('random headers behind valid prefixes (fast-check): plausible frames, random fields', () => {
    // A valid link + IP prefix with the rest random, so the L3/L4 field checks themselves are
    // fuzzed (random bytes alone rarely get past the version nibble).
    const oracle = new Oracle();
    const tally = newTally();
    // [link type, link header, IP family behind it (0: either, chosen by the `v6` draw)]
    const prefixes: Array<[number, Uint8Array, number]> = [
      [LinkType.ETHERNET, ethernet(EtherType.IPV4, []), 4],
      [LinkType.ETHERNET, ethernet(EtherType.IPV6, []), 6],
      [LinkType.ETHERNET, ethernet(EtherType.IPV4, [], { vlans: [{ id: 5 }] }), 4],
      [LinkType.LINUX_SLL2, sll2(EtherType.IPV6, []), 6],
      [LinkType.LINUX_SLL, sll(EtherType.IPV4, []), 4],
      [LinkType.RAW, new Uint8Array(0), 0],
    ];
    fc.assert(
      fc.property(
        fc.nat(prefixes.length - 1),
        fc.boolean(),
        fc.oneof(fc.constant(5), fc.integer({ min: 0, max: 15 })),
        fc.uint8Array({ minLength: 0, maxLength: 120, size: 'max' }),
        fc.nat(80),
        fc.oneof(fc.constant(-1), fc.nat(400)),
        (pi, v6, ihl, rest, lenField, extra) => {
          const [lt, prefix, family] = prefixes[pi]!;
          const body = rest.slice();
          if (family === 6 || (family === 0 && v6)) {
            if (body.length > 0) body[0] = 0x60 | (body[0]! & 15);
            if (body.length > 6) body[6] = [0, 6, 17, 58, 1, 43, 60, 51, 44][body[6]! % 9]!;
            if (body.length > 5) body[4] = 0;
            if (body.length > 5) body[5] = lenField;
          } else {
            if (body.length > 0) body[0] = 0x40 | ihl;
            if (body.length > 3) body[2] = 0;
            if (body.length > 3) body[3] = lenField + 20;
            if (body.length > 7) body[6] &= 0xc0; // DF and the reserved bit only: no fragment
            if (body.length > 7) body[7] = 0;
            if (body.length > 9) body[9] = [6, 17, 1, 58][body[9]! % 4]!;
          }
          const bytes = concat(prefix, body);
          const length = extra < 0 ? bytes.length : bytes.length + extra;
          oracle.check(bytes, 0, bytes.length, length, lt, `prefix ${pi} v6 ${v6} body ${Buffer.from(body).toString('hex')}`, tally);
        },
      ),
      { numRuns: 6000, seed: 99 },
    );
    expect(tally.accepted).toBeGreaterThan(300);
  });
});
