/**
 * Tiny packet builders for decoder tests: each returns the bytes of one header plus its payload,
 * so a test reads like the layering it checks (`ethernet(0x0800, ipv4({...}, udp({...})))`).
 * Lengths and checksums are filled in like a real stack would, unless a test overrides them to
 * build a malformed packet.
 */
import { Frame, LinkType } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { formatIp, parseIp } from '../../src/net/addr.js';

export type Bytes = Uint8Array | readonly number[];

export function concat(...parts: Bytes[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u16(v: number): number[] {
  return [(v >>> 8) & 255, v & 255];
}

function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

export function v4(text: string): number[] {
  const a = parseIp(text);
  if (!a || a.family !== 4) throw new Error(`not IPv4: ${text}`);
  return u32(a.words[3]!);
}

export function v6(text: string): number[] {
  const a = parseIp(text);
  if (!a || a.family !== 6) throw new Error(`not IPv6: ${text}`);
  const out: number[] = [];
  for (let i = 0; i < 4; i++) out.push(...u32(a.words[i]!));
  return out;
}

export function mac(text: string): number[] {
  return text.split(':').map((h) => parseInt(h, 16));
}

function checksum(bytes: Bytes): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

// --- link layer

export interface VlanTag {
  tpid?: number; // 0x8100 default
  id: number;
  pcp?: number;
}

export function ethernet(
  etherType: number,
  payload: Bytes,
  opts: { dst?: string; src?: string; vlans?: VlanTag[] } = {},
): Uint8Array {
  const tags: number[] = [];
  const vlans = opts.vlans ?? [];
  // The first tag's TPID sits where the EtherType would; each tag ends with the next type.
  const types = [...vlans.map((v) => v.tpid ?? 0x8100), etherType];
  for (let i = 0; i < vlans.length; i++) {
    const v = vlans[i]!;
    tags.push(...u16(((v.pcp ?? 0) << 13) | v.id), ...u16(types[i + 1]!));
  }
  return concat(
    mac(opts.dst ?? '02:00:00:00:00:02'),
    mac(opts.src ?? '02:00:00:00:00:01'),
    u16(types[0]!),
    tags,
    payload,
  );
}

/** Linux cooked v1 header (16 bytes). */
export function sll(protocol: number, payload: Bytes, opts: { packetType?: number; hatype?: number } = {}): Uint8Array {
  return concat(u16(opts.packetType ?? 0), u16(opts.hatype ?? 1), u16(6), mac('02:00:00:00:00:01'), [0, 0], u16(protocol), payload);
}

/** Linux cooked v2 header (20 bytes). */
export function sll2(
  protocol: number,
  payload: Bytes,
  opts: { packetType?: number; hatype?: number; ifIndex?: number } = {},
): Uint8Array {
  return concat(
    u16(protocol),
    [0, 0],
    u32(opts.ifIndex ?? 3),
    u16(opts.hatype ?? 1),
    [opts.packetType ?? 0, 6],
    mac('02:00:00:00:00:01'),
    [0, 0],
    payload,
  );
}

/** BSD loopback header: the family as a 4-byte integer, little- or big-endian. */
export function loopback(family: number, payload: Bytes, littleEndian: boolean): Uint8Array {
  const f = u32(family);
  return concat(littleEndian ? f.reverse() : f, payload);
}

export function arp(opts: {
  op: number;
  senderMac?: string;
  senderIp: string;
  targetMac?: string;
  targetIp: string;
}): Uint8Array {
  return concat(
    u16(1),
    u16(0x0800),
    [6, 4],
    u16(opts.op),
    mac(opts.senderMac ?? '02:00:00:00:00:01'),
    v4(opts.senderIp),
    mac(opts.targetMac ?? '00:00:00:00:00:00'),
    v4(opts.targetIp),
  );
}

// --- network layer

export interface Ipv4Opts {
  src: string;
  dst: string;
  proto: number;
  ttl?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  /** Option bytes (padded to a multiple of 4 by the caller). */
  options?: number[];
  /** Overrides (for malformed packets). */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

export function ipv4(o: Ipv4Opts, payload: Bytes): Uint8Array {
  const options = o.options ?? [];
  const ihl = o.ihl ?? (20 + options.length) / 4;
  const total = o.totalLength ?? 20 + options.length + payload.length;
  const flags = (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3);
  const hdr = [
    ((o.version ?? 4) << 4) | (ihl & 15),
    0,
    ...u16(total),
    ...u16(o.id ?? 0x1234),
    ...u16(flags),
    o.ttl ?? 64,
    o.proto,
    0,
    0,
    ...v4(o.src),
    ...v4(o.dst),
    ...options,
  ];
  const c = checksum(hdr);
  hdr[10] = c >> 8;
  hdr[11] = c & 255;
  return concat(hdr, payload);
}

export interface Ipv6Opts {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit?: number;
  payloadLength?: number;
  version?: number;
}

export function ipv6(o: Ipv6Opts, payload: Bytes): Uint8Array {
  return concat(
    [(o.version ?? 6) << 4, 0, 0, 0],
    u16(o.payloadLength ?? payload.length),
    [o.nextHeader, o.hopLimit ?? 64],
    v6(o.src),
    v6(o.dst),
    payload,
  );
}

/** Hop-by-hop, routing or destination options header: `len8` units of 8 bytes after the first 8. */
export function extHeader(nextHeader: number, payload: Bytes, len8 = 0): Uint8Array {
  const body = new Array<number>(6 + len8 * 8).fill(0);
  // PadN option filling the header (type 1, length), valid for hop-by-hop / destination options.
  body[0] = 1;
  body[1] = body.length - 2;
  return concat([nextHeader, len8], body, payload);
}

/** A routing header of type 0 with no addresses and segments left 0 (8 bytes). */
export function routingHeader(nextHeader: number, payload: Bytes): Uint8Array {
  return concat([nextHeader, 0, 0, 0, 0, 0, 0, 0], payload);
}

export function fragmentHeader(nextHeader: number, o: { offset: number; more: boolean; id: number }, payload: Bytes): Uint8Array {
  return concat([nextHeader, 0], u16((o.offset & 0xfff8) | (o.more ? 1 : 0)), u32(o.id), payload);
}

/** Authentication header with a 12-byte ICV (payload length field = 4: (12 + 12) / 4 - 2). */
export function authHeader(nextHeader: number, payload: Bytes): Uint8Array {
  return concat([nextHeader, 4, 0, 0], u32(0x100), u32(1), new Array<number>(12).fill(0xab), payload);
}

// --- transport layer

export interface TcpOpts {
  sport: number;
  dport: number;
  /** Flag bits as TcpFlag values (NS = 0x100). */
  flags: number;
  seq?: number;
  ack?: number;
  window?: number;
  options?: number[];
  /** Data offset override in bytes (for malformed headers). */
  dataOffset?: number;
}

export function tcp(o: TcpOpts, payload: Bytes = []): Uint8Array {
  const options = o.options ?? [];
  const doff = o.dataOffset ?? 20 + options.length;
  return concat(
    u16(o.sport),
    u16(o.dport),
    u32(o.seq ?? 1000),
    u32(o.ack ?? 0),
    [((doff / 4) << 4) | ((o.flags >> 8) & 1), o.flags & 0xff],
    u16(o.window ?? 64240),
    [0, 0, 0, 0],
    options,
    payload,
  );
}

export function udp(o: { sport: number; dport: number; length?: number }, payload: Bytes = []): Uint8Array {
  return concat(u16(o.sport), u16(o.dport), u16(o.length ?? 8 + payload.length), [0, 0], payload);
}

export function sctp(o: { sport: number; dport: number; vtag?: number }, payload: Bytes = []): Uint8Array {
  // One INIT-less DATA-free chunk list is fine for port tests: a minimal ABORT chunk.
  const chunks = payload.length > 0 ? payload : [6, 0, 0, 4];
  return concat(u16(o.sport), u16(o.dport), u32(o.vtag ?? 0), [0, 0, 0, 0], chunks);
}

/** ICMPv4 message; `rest` is the 4-byte rest-of-header (echo id/seq, unused, MTU). */
export function icmp4(o: { type: number; code?: number; id?: number; seq?: number }, payload: Bytes = []): Uint8Array {
  const msg = concat([o.type, o.code ?? 0, 0, 0], u16(o.id ?? 0), u16(o.seq ?? 0), payload);
  const c = checksum(msg);
  msg[2] = c >> 8;
  msg[3] = c & 255;
  return msg;
}

export function icmp6(o: { type: number; code?: number; id?: number; seq?: number }, payload: Bytes = []): Uint8Array {
  return concat([o.type, o.code ?? 0, 0, 0], u16(o.id ?? 0), u16(o.seq ?? 0), payload);
}

// --- overlays

export function vxlan(vni: number, innerFrame: Bytes, flags = 0x08): Uint8Array {
  return concat([flags, 0, 0, 0], [(vni >> 16) & 255, (vni >> 8) & 255, vni & 255, 0], innerFrame);
}

/** Geneve with `options` bytes (a multiple of 4) and the given protocol type. */
export function geneve(vni: number, protocol: number, inner: Bytes, options: number[] = [], version = 0): Uint8Array {
  return concat(
    [(version << 6) | (options.length / 4), 0],
    u16(protocol),
    [(vni >> 16) & 255, (vni >> 8) & 255, vni & 255, 0],
    options,
    inner,
  );
}

/** A Geneve option TLV: class, type, and `data` (a multiple of 4 bytes). */
export function geneveOption(cls: number, type: number, data: number[]): number[] {
  return [...u16(cls), type, data.length / 4, ...data];
}

// --- frames

export interface FrameOpts {
  /** Bytes kept (snaplen cut); default all. */
  caplen?: number;
  /** Original length; default the full byte count. */
  length?: number;
  tsSec?: number;
  tsNsec?: number;
  /** Put the frame at this offset inside a larger chunk (readers hand out chunk views). */
  offsetInChunk?: number;
  /** Byte value filling the chunk around the frame (default 0xee). */
  fill?: number;
}

export function frameOf(bytes: Bytes, linkType: number = LinkType.ETHERNET, o: FrameOpts = {}): Frame {
  const f = new Frame();
  const pad = o.offsetInChunk ?? 0;
  const caplen = o.caplen ?? bytes.length;
  // Fill the surrounding chunk with junk so a decoder reading past caplen would be caught.
  const chunk = new Uint8Array(pad + bytes.length + 64).fill(o.fill ?? 0xee);
  chunk.set(bytes.slice(0, caplen), pad);
  f.data = chunk;
  f.offset = pad;
  f.caplen = caplen;
  f.length = o.length ?? bytes.length;
  f.tsSec = o.tsSec ?? 1_700_000_000;
  f.tsNsec = o.tsNsec ?? 0;
  f.linkType = linkType;
  return f;
}

/**
 * The frames copied into one chunk, each a view at its own offset: how every reader hands
 * frames over (a file reader's chunk, the live capture's one buffer), so the decoder's one
 * DataView per chunk is made once, not per frame.
 */
export function inOneChunk(frames: Frame[]): Frame[] {
  const chunk = new Uint8Array(frames.reduce((n, f) => n + f.data.length, 0));
  let at = 0;
  return frames.map((f) => {
    chunk.set(f.data, at);
    const g = Object.assign(new Frame(), f);
    g.data = chunk;
    g.offset = at + f.offset;
    at += f.data.length;
    return g;
  });
}

// --- decoding shorthands


/** Decodes `bytes` into a fresh record. */
export function decode(bytes: Bytes, linkType: number = LinkType.ETHERNET, o: FrameOpts = {}): DecodedPacket {
  const p = new DecodedPacket();
  decodeFrame(frameOf(bytes, linkType, o), p);
  return p;
}

export function srcOf(p: DecodedPacket): string {
  return formatIp(p.src, p.ipVersion === 0 ? 4 : p.ipVersion);
}

export function dstOf(p: DecodedPacket): string {
  return formatIp(p.dst, p.ipVersion === 0 ? 4 : p.ipVersion);
}
