/**
 * The enforced-capture writer (src/capture/enforced-writer.ts) driven directly, the way the replay
 * and the L7 proxy stage drive it: frames built here (Ethernet, SLL, SLL2, raw IP; IPv4, IPv6;
 * plain and VXLAN), each with the fate and the edits a test gives it, the output read back with
 * hubcap's own reader and decoder, checked by an independent TCP bookkeeping (every segment at
 * the sequence number its direction reached, no acknowledgement of bytes not yet sent, the
 * stream bytes each side received) and by tshark (checksums, TCP analysis expert infos).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EnforcedCaptureWriter, Fate, internetChecksum, type EnforcedEdits, type EnforcedWriterOptions } from '../../src/capture/enforced-writer.js';
import { LinkType } from '../../src/capture/frame.js';
import { CaptureError } from '../../src/errors.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { formatIp } from '../../src/net/addr.js';
import { makeTempDir, parseBytes, tool } from '../helpers/capture-fixtures.js';
import { concat, ethernet, frameOf, ipv4, ipv6, sll, sll2, tcp, udp, v4, v6, vxlan } from '../helpers/decode-build.js';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

const tmp = makeTempDir('hubcap-enforced-');
afterAll(() => tmp.cleanup());
let fileNo = 0;

// ---------------------------------------------------------------------------------------------
// Frames with valid checksums (computed here, independently of the writer's code)

function sum16(b: Uint8Array | number[], init = 0): number {
  let s = init;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

function addrBytes(ip: string): number[] {
  return ip.includes(':') ? v6(ip) : v4(ip);
}

/** Fills the transport checksum of `seg` (TCP at 16, UDP at 6) over the pseudo-header. */
function withChecksum(seg: Uint8Array, src: string, dst: string, proto: number): Uint8Array {
  const len = seg.length;
  const pseudo = src.includes(':')
    ? [...addrBytes(src), ...addrBytes(dst), 0, 0, len >>> 8, len & 255, 0, 0, 0, proto]
    : [...addrBytes(src), ...addrBytes(dst), 0, proto, len >>> 8, len & 255];
  const at = proto === 6 ? 16 : 6;
  seg[at] = 0;
  seg[at + 1] = 0;
  let c = ~sum16(seg, sum16(pseudo)) & 0xffff;
  if (proto === 17 && c === 0) c = 0xffff;
  seg[at] = c >>> 8;
  seg[at + 1] = c & 255;
  return seg;
}

type Link = 'ethernet' | 'sll' | 'sll2' | 'raw';

interface WireOpts {
  link: Link;
  family: 4 | 6;
  /** Wrap the packets in VXLAN between two nodes (outer Ethernet + IPv4 + UDP 8472). */
  vxlan?: boolean;
}

interface Endpoint {
  ip: string;
  port: number;
  mac: string;
}

const LINK_TYPES: Record<Link, number> = { ethernet: LinkType.ETHERNET, sll: LinkType.LINUX_SLL, sll2: LinkType.LINUX_SLL2, raw: LinkType.RAW };
const NODE_A = { ip: '192.168.50.1', mac: '02:00:c0:a8:32:01' };
const NODE_B = { ip: '192.168.50.2', mac: '02:00:c0:a8:32:02' };

let ipId = 0x100;

/** One IP packet from `from` to `to` around transport bytes, with the link layer of `w`. */
function ipFrame(w: WireOpts, from: Endpoint, to: Endpoint, proto: number, transport: Uint8Array, packetType: number): Uint8Array {
  const ip = w.family === 4 ? ipv4({ src: from.ip, dst: to.ip, proto, id: ipId++, df: true }, transport) : ipv6({ src: from.ip, dst: to.ip, nextHeader: proto }, transport);
  const et = w.family === 4 ? 0x0800 : 0x86dd;
  if (w.vxlan) {
    const inner = ethernet(et, ip, { src: from.mac, dst: to.mac });
    const [na, nb] = from.port === 80 || from.port === 53 ? [NODE_B, NODE_A] : [NODE_A, NODE_B];
    const outerUdp = withChecksum(udp({ sport: 40000 + (ipId & 0xfff), dport: 8472 }, vxlan(42, inner)), na.ip, nb.ip, 17);
    return ethernet(0x0800, ipv4({ src: na.ip, dst: nb.ip, proto: 17, id: ipId++ }, outerUdp), { src: na.mac, dst: nb.mac });
  }
  switch (w.link) {
    case 'ethernet':
      return ethernet(et, ip, { src: from.mac, dst: to.mac });
    case 'sll':
      return sll(et, ip, { packetType });
    case 'sll2':
      return sll2(et, ip, { packetType, ifIndex: 7 });
    case 'raw':
      return ip;
  }
}

function tcpFrame(w: WireOpts, from: Endpoint, to: Endpoint, seq: number, ack: number, flags: number, payload: Uint8Array, options: number[] = [], packetType = 0): Uint8Array {
  const seg = withChecksum(tcp({ sport: from.port, dport: to.port, seq, ack, flags, options }, payload), from.ip, to.ip, 6);
  return ipFrame(w, from, to, 6, seg, packetType);
}

function udpFrame(w: WireOpts, from: Endpoint, to: Endpoint, payload: Uint8Array, checksum = true): Uint8Array {
  const seg = udp({ sport: from.port, dport: to.port }, payload);
  return ipFrame(w, from, to, 17, checksum ? withChecksum(seg, from.ip, to.ip, 17) : seg, 0);
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

// ---------------------------------------------------------------------------------------------
// Conversations and runs

interface Step {
  bytes: Uint8Array;
  linkType: number;
  tsSec: number;
  tsNsec: number;
  fate: number;
  caplen?: number;
  /** What the proxy stage would tell the writer while this frame is decided. */
  edits?: (w: EnforcedEdits) => void;
  fromClient: boolean;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

const START = 1_772_445_600;

class Conv {
  readonly steps: Step[];
  cNext: number;
  sNext: number;
  private clock: number;

  constructor(
    readonly w: WireOpts,
    readonly c: Endpoint,
    readonly s: Endpoint,
    isnC = 1000,
    isnS = 5000,
    steps: Step[] = [],
    clockUs = 0,
  ) {
    this.cNext = isnC >>> 0;
    this.sNext = isnS >>> 0;
    this.steps = steps;
    this.clock = clockUs;
  }

  /** Time of the next step, microseconds after START. */
  get clockUs(): number {
    return this.clock;
  }

  send(fromClient: boolean, flags: number, data: string | Uint8Array = '', opts: { fate?: number; edits?: Step['edits']; options?: number[]; ack?: number } = {}): Step {
    const payload = typeof data === 'string' ? text(data) : data;
    const seq = fromClient ? this.cNext : this.sNext;
    const ack = opts.ack ?? (fromClient ? this.sNext : this.cNext);
    const [from, to] = fromClient ? [this.c, this.s] : [this.s, this.c];
    this.clock += 100;
    const step: Step = {
      bytes: tcpFrame(this.w, from, to, seq, (flags & ACK) !== 0 ? ack : 0, flags, payload, opts.options ?? [], fromClient ? 4 : 0),
      linkType: this.w.vxlan ? LinkType.ETHERNET : LINK_TYPES[this.w.link],
      tsSec: START + Math.floor(this.clock / 1e6),
      tsNsec: (this.clock % 1e6) * 1000,
      fate: opts.fate ?? Fate.KEEP,
      fromClient,
      seq,
      flags,
      payload,
      ...(opts.edits ? { edits: opts.edits } : {}),
    };
    const advance = payload.length + ((flags & (SYN | FIN)) !== 0 ? 1 : 0);
    if (fromClient) this.cNext = (this.cNext + advance) >>> 0;
    else this.sNext = (this.sNext + advance) >>> 0;
    this.steps.push(step);
    return step;
  }

  open(): this {
    this.send(true, SYN);
    this.send(false, SYN | ACK);
    this.send(true, ACK);
    return this;
  }

  close(): this {
    this.send(true, FIN | ACK);
    this.send(false, FIN | ACK);
    this.send(true, ACK);
    return this;
  }
}

interface OutPacket {
  tsSec: number;
  tsNsec: number;
  caplen: number;
  length: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: number;
  seq: number;
  ack: number;
  flags: number;
  payload: string;
  bytes: Uint8Array;
  packet: DecodedPacket;
}

interface RunResult {
  pcap: Uint8Array;
  out: OutPacket[];
  writer: EnforcedCaptureWriter;
}

/** Runs steps through a writer as the replay does; returns the output read back. */
function run(steps: Step[], options: EnforcedWriterOptions = {}): RunResult {
  const parts: Uint8Array[] = [];
  const writer = new EnforcedCaptureWriter((b) => parts.push(b.slice()), options);
  const p = new DecodedPacket();
  steps.forEach((s, i) => {
    const frame = frameOf(s.bytes, s.linkType, { tsSec: s.tsSec, tsNsec: s.tsNsec, ...(s.caplen !== undefined ? { caplen: s.caplen } : {}) });
    frame.index = i;
    decodeFrame(frame, p);
    writer.begin(frame, p);
    s.edits?.(writer);
    writer.end(s.fate);
  });
  writer.close();
  const pcap = concat(...parts);
  return { pcap, out: readBack(pcap), writer };
}

function readBack(pcap: Uint8Array): OutPacket[] {
  return parseBytes(pcap).frames.map((f) => {
    const frame = frameOf(f.data, f.linkType, { tsSec: f.tsSec, tsNsec: f.tsNsec, caplen: f.caplen, length: f.length });
    const p = new DecodedPacket();
    decodeFrame(frame, p);
    const payload = p.payloadOffset >= 0 ? latin1(frame.data.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength)) : '';
    return {
      tsSec: f.tsSec,
      tsNsec: f.tsNsec,
      caplen: f.caplen,
      length: f.length,
      src: formatIp(p.src, p.ipVersion === 6 ? 6 : 4),
      dst: formatIp(p.dst, p.ipVersion === 6 ? 6 : 4),
      sport: p.sport,
      dport: p.dport,
      proto: p.ipProto,
      seq: p.tcpSeq,
      ack: p.tcpAck,
      flags: p.tcpFlags,
      payload,
      bytes: f.data,
      packet: p,
    };
  });
}

/**
 * An independent check of a TCP conversation in the output: per direction, every segment with
 * data, SYN or FIN starts where that direction's stream had reached (no gap, no overlap), and no
 * acknowledgement covers bytes the other side has not sent yet. Returns each direction's bytes.
 */
function tcpBookkeeping(out: OutPacket[], client: Endpoint): { toServer: string; toClient: string; problems: string[] } {
  const problems: string[] = [];
  const next = new Map<boolean, number>();
  const streams = new Map<boolean, string>([
    [true, ''],
    [false, ''],
  ]);
  for (const [i, o] of out.entries()) {
    if (o.proto !== 6) continue;
    const fromClient = o.src === client.ip && o.sport === client.port;
    const len = o.payload.length + ((o.flags & (SYN | FIN)) !== 0 ? 1 : 0);
    if ((o.flags & SYN) !== 0 && (o.flags & ACK) === 0) next.clear();
    const expected = next.get(fromClient);
    if (expected === undefined) {
      next.set(fromClient, (o.seq + len) >>> 0);
    } else {
      if (len > 0 && o.seq !== expected) problems.push(`frame ${i + 1}: seq ${o.seq}, expected ${expected}`);
      if (len === 0 && (o.flags & RST) === 0 && o.seq !== expected) problems.push(`frame ${i + 1}: empty segment at seq ${o.seq}, stream at ${expected}`);
      next.set(fromClient, (o.seq + len) >>> 0);
    }
    streams.set(fromClient, streams.get(fromClient)! + o.payload);
    const peer = next.get(!fromClient);
    if ((o.flags & ACK) !== 0 && peer !== undefined && ((o.ack - peer) | 0) > 0) problems.push(`frame ${i + 1}: ack ${o.ack} beyond ${peer}`);
  }
  return { toServer: streams.get(true)!, toClient: streams.get(false)!, problems };
}

const PROBLEM = /previous segment not captured|ACKed unseen|out-of-order|Duplicate ACK|retransmission|Bad checksum|Malformed|bogus|Checksum Status: Bad/i;

interface TsharkView {
  /** Frames with a bad IP, TCP or UDP checksum. */
  bad: number[];
  /** Expert infos that point at a broken conversation, by frame. */
  problems: string[];
  http403: number;
  dnsRcodes: string[];
}

function tshark(pcap: Uint8Array): TsharkView {
  const file = join(tmp.dir, `out-${fileNo++}.pcap`);
  writeFileSync(file, pcap);
  const lines = tool('tshark', [
    '-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-T', 'fields', '-E', 'separator=|', '-e', 'frame.number', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'udp.checksum.status',
    '-e', '_ws.expert.message', '-e', 'http.response.code', '-e', 'dns.flags.rcode',
  ]).split('\n').filter((l) => l !== '');
  const view: TsharkView = { bad: [], problems: [], http403: 0, dnsRcodes: [] };
  for (const l of lines) {
    const [n, ipS, tcpS, udpS, expert, code, rcode] = l.split('|');
    if ([ipS, tcpS, udpS].some((s) => (s ?? '').split(',').includes('0'))) view.bad.push(Number(n));
    for (const m of (expert ?? '').split(',')) if (PROBLEM.test(m)) view.problems.push(`${n}: ${m}`);
    if (code === '403') view.http403++;
    if (rcode) view.dnsRcodes.push(rcode);
  }
  return view;
}

const CLIENT: Endpoint = { ip: '10.5.1.10', port: 41000, mac: '0a:58:0a:05:01:0a' };
const SERVER: Endpoint = { ip: '10.5.1.20', port: 80, mac: '0a:58:0a:05:01:14' };
const CLIENT6: Endpoint = { ip: 'fd00:5::10', port: 41000, mac: '0a:58:0a:05:01:0a' };
const SERVER6: Endpoint = { ip: 'fd00:5::20', port: 80, mac: '0a:58:0a:05:01:14' };

const DENIED_403 = 'HTTP/1.1 403 Forbidden\r\ncontent-length: 15\r\ncontent-type: text/plain\r\ndate: Mon, 02 Mar 2026 10:00:00 GMT\r\nserver: envoy\r\n\r\nAccess denied\r\n';
const OK_1 = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst';
const OK_3 = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird';
const ANSWER_A = 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 60\r\n\r\n';
const ANSWER_B = 'x'.repeat(60);

/**
 * Keep-alive: an allowed request and its answer, a denied request whose server answer comes in
 * two segments (both dropped, the first replaced by the 403), then an allowed one, then FINs.
 */
function deniedInTheMiddle(w: WireOpts, c = CLIENT, s = SERVER, isnC = 1000, isnS = 5000): { conv: Conv; replaced: Step } {
  const conv = new Conv(w, c, s, isnC, isnS).open();
  conv.send(true, PSH | ACK, 'GET /one HTTP/1.1\r\nHost: web\r\n\r\n');
  conv.send(false, ACK);
  conv.send(false, PSH | ACK, OK_1);
  conv.send(true, ACK);
  let handle = -1;
  conv.send(true, PSH | ACK, 'GET /secret HTTP/1.1\r\nHost: web\r\n\r\n', { edits: (e) => (handle = e.deferReply(text(DENIED_403), 0, 0)) });
  conv.send(false, ACK);
  const replaced = conv.send(false, ACK, ANSWER_A, {
    fate: Fate.DROP,
    edits: (e) => {
      e.anchorReply(handle, replaced.seq);
      e.removeBytes(replaced.seq, ANSWER_A.length);
    },
  });
  conv.send(true, ACK);
  const second = conv.send(false, PSH | ACK, ANSWER_B, { fate: Fate.DROP, edits: (e) => e.removeBytes(second.seq, ANSWER_B.length) });
  conv.send(true, ACK);
  conv.send(true, PSH | ACK, 'GET /three HTTP/1.1\r\nHost: web\r\n\r\n');
  conv.send(false, ACK);
  conv.send(false, PSH | ACK, OK_3);
  conv.send(true, ACK);
  conv.close();
  return { conv, replaced };
}

const REQUESTS = 'GET /one HTTP/1.1\r\nHost: web\r\n\r\nGET /secret HTTP/1.1\r\nHost: web\r\n\r\nGET /three HTTP/1.1\r\nHost: web\r\n\r\n';

// ---------------------------------------------------------------------------------------------

describe('frames without edits', () => {
  test('kept frames are written byte for byte (data, lengths, time), dropped ones not at all', () => {
    const conv = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER).open();
    conv.send(true, PSH | ACK, 'hello', { fate: Fate.DROP });
    conv.send(false, ACK);
    const steps = conv.steps;
    steps[1]!.caplen = 40; // a snaplen cut stays a snaplen cut
    const { out, writer } = run(steps);
    const kept = steps.filter((s) => s.fate === Fate.KEEP);
    expect(out.map((o) => [latin1(o.bytes), o.caplen, o.length, o.tsSec, o.tsNsec])).toEqual(
      kept.map((s) => [latin1(s.bytes.subarray(0, s.caplen ?? s.bytes.length)), s.caplen ?? s.bytes.length, s.bytes.length, s.tsSec, s.tsNsec]),
    );
    expect([writer.stats.frames, writer.stats.written, writer.stats.dropped, writer.stats.rewritten]).toEqual([5, 4, 1, 0]);
  });

  test('an empty capture is a valid empty pcap', () => {
    const { pcap, out } = run([]);
    expect(pcap.length).toBe(24);
    expect(out).toEqual([]);
  });

  test('frames of two link types cannot share the output', () => {
    const a = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER).open();
    const b = new Conv({ link: 'raw', family: 4 }, CLIENT, SERVER);
    b.send(true, SYN);
    expect(() => run([...a.steps, ...b.steps])).toThrow(CaptureError);
  });
});

describe('a denied request: the server answer replaced by the proxy reply', () => {
  const cases: Array<[string, WireOpts, Endpoint, Endpoint]> = [
    ['Ethernet, IPv4', { link: 'ethernet', family: 4 }, CLIENT, SERVER],
    ['Ethernet, IPv6', { link: 'ethernet', family: 6 }, CLIENT6, SERVER6],
    ['Linux cooked v1, IPv4', { link: 'sll', family: 4 }, CLIENT, SERVER],
    ['Linux cooked v2, IPv6', { link: 'sll2', family: 6 }, CLIENT6, SERVER6],
    ['raw IP, IPv4', { link: 'raw', family: 4 }, CLIENT, SERVER],
    ['VXLAN between nodes, IPv4 inside', { link: 'ethernet', family: 4, vxlan: true }, CLIENT, SERVER],
    ['VXLAN between nodes, IPv6 inside', { link: 'ethernet', family: 6, vxlan: true }, CLIENT6, SERVER6],
  ];

  test.each(cases)('%s: streams, sequence numbers, checksums', (_name, w, c, s) => {
    const { conv, replaced } = deniedInTheMiddle(w, c, s);
    const { out, pcap } = run(conv.steps);
    const book = tcpBookkeeping(out, c);
    expect(book.problems).toEqual([]);
    // The client received the first answer, the proxy's 403 in place of the second, the third.
    expect(book.toClient).toBe(OK_1 + DENIED_403 + OK_3);
    expect(book.toServer).toBe(REQUESTS);
    // The 403 carries the replaced packet's time and travels server -> client.
    const reply = out.find((o) => o.payload === DENIED_403)!;
    expect([reply.src, reply.sport, reply.dst, reply.dport]).toEqual([s.ip, s.port, c.ip, c.port]);
    expect([reply.tsSec, reply.tsNsec]).toEqual([replaced.tsSec, replaced.tsNsec]);
    // Everything after it in the server's direction moved by 403 length - removed bytes.
    const shift = DENIED_403.length - ANSWER_A.length - ANSWER_B.length;
    const third = out.find((o) => o.payload === OK_3)!;
    const third0 = conv.steps.find((st) => latin1(st.payload) === OK_3)!;
    expect((third.seq - third0.seq) | 0).toBe(shift);
    // tshark: every checksum good, no sign of a broken conversation.
    const t = tshark(pcap);
    expect(t.bad).toEqual([]);
    expect(t.problems).toEqual([]);
  });

  test('the client ACK of the second removed segment acknowledges nothing new: not written', () => {
    const { conv, replaced } = deniedInTheMiddle({ link: 'ethernet', family: 4 });
    const { out } = run(conv.steps);
    const inputAcks = conv.steps.filter((s) => s.fromClient && s.payload.length === 0 && s.flags === ACK);
    const clientAcks = out.filter((o) => o.src === CLIENT.ip && o.payload === '' && o.flags === ACK);
    expect(clientAcks.length).toBe(inputAcks.length - 1);
    // One acknowledgement of the 403 (the end of what replaced both removed segments), no repeat.
    expect(clientAcks.filter((o) => o.ack === ((replaced.seq + DENIED_403.length) >>> 0))).toHaveLength(1);
    expect(new Set(clientAcks.map((o) => o.ack)).size).toBe(clientAcks.length);
  });

  test('outer VXLAN lengths and checksums follow the inner packet', () => {
    const { conv } = deniedInTheMiddle({ link: 'ethernet', family: 4, vxlan: true });
    const { out } = run(conv.steps);
    for (const o of out) {
      const d = o.bytes;
      const outerIp = 14;
      expect(((d[outerIp + 2]! << 8) | d[outerIp + 3]!), 'outer IPv4 total length').toBe(d.length - outerIp);
      expect(internetChecksum(d, outerIp, outerIp + 20), 'outer IPv4 header checksum').toBe(0);
      const outerUdp = outerIp + 20;
      expect(((d[outerUdp + 4]! << 8) | d[outerUdp + 5]!), 'outer UDP length').toBe(d.length - outerUdp);
    }
  });

  test('sequence numbers that wrap past 2^32 map alike', () => {
    const { conv } = deniedInTheMiddle({ link: 'ethernet', family: 4 }, CLIENT, SERVER, 0xffffff80, 0xffffffc0);
    const { out, pcap } = run(conv.steps);
    const book = tcpBookkeeping(out, CLIENT);
    expect(book.problems).toEqual([]);
    expect(book.toClient).toBe(OK_1 + DENIED_403 + OK_3);
    expect(tshark(pcap).problems).toEqual([]);
  });

  test('duplicates (a node capture sees each packet twice) share their original fate and rewrite', () => {
    const { conv } = deniedInTheMiddle({ link: 'sll2', family: 4 });
    const steps: Step[] = [];
    for (const s of conv.steps) {
      steps.push(s);
      const copy = s.bytes.slice();
      copy[7] = 9; // another interface index: the same packet at another observation point
      steps.push({ ...s, bytes: copy, fate: Fate.DUPLICATE, tsNsec: s.tsNsec + 5000 });
      delete steps[steps.length - 1]!.edits;
    }
    const { out } = run(steps);
    const reply = out.filter((o) => o.payload === DENIED_403);
    expect(reply.length, 'the proxy reply appears once').toBe(1);
    expect(out.filter((o) => o.payload.startsWith('HTTP/1.1 503') || o.payload === ANSWER_B)).toEqual([]);
    // Every other written frame comes with its copy, rewritten the same way.
    const others = out.filter((o) => o !== reply[0]);
    for (let i = 0; i < others.length; i += 2) {
      expect([others[i + 1]!.seq, others[i + 1]!.ack, others[i + 1]!.payload]).toEqual([others[i]!.seq, others[i]!.ack, others[i]!.payload]);
    }
  });

  test('Ethernet padding of short frames is not payload: rewritten frames drop it, numbers stay right', () => {
    const { conv } = deniedInTheMiddle({ link: 'ethernet', family: 4 });
    for (const st of conv.steps) if (st.bytes.length < 60) st.bytes = concat(st.bytes, new Uint8Array(60 - st.bytes.length));
    const { out, pcap } = run(conv.steps);
    expect(tcpBookkeeping(out, CLIENT)).toMatchObject({ problems: [], toClient: OK_1 + DENIED_403 + OK_3 });
    expect(tshark(pcap)).toMatchObject({ bad: [], problems: [] });
  });

  test('a truncated frame (snaplen) keeps its lengths; only its numbers move', () => {
    const { conv } = deniedInTheMiddle({ link: 'ethernet', family: 4 });
    const third = conv.steps.find((st) => latin1(st.payload) === OK_3)!;
    third.caplen = 60;
    const { out } = run(conv.steps);
    const cut = out.find((o) => o.caplen === 60)!;
    expect(cut.length).toBe(third.bytes.length);
    expect((cut.seq - third.seq) | 0).toBe(DENIED_403.length - ANSWER_A.length - ANSWER_B.length);
  });
});

describe('edits inside a segment', () => {
  test('a segment carrying the end of an allowed answer and the start of the denied one is cut, the reply between', () => {
    const conv = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER).open();
    let handle = -1;
    conv.send(true, PSH | ACK, 'GET /one HTTP/1.1\r\n\r\nGET /secret HTTP/1.1\r\n\r\n', { edits: (e) => (handle = e.deferReply(text(DENIED_403), 0, 0)) });
    const mixed = conv.send(false, PSH | ACK, OK_1 + ANSWER_A, {
      edits: (e) => {
        const at = (mixed.seq + OK_1.length) >>> 0;
        e.anchorReply(handle, at);
        e.removeBytes(at, ANSWER_A.length);
      },
    });
    conv.send(true, ACK);
    conv.close();
    const { out, pcap } = run(conv.steps);
    const book = tcpBookkeeping(out, CLIENT);
    expect(book.problems).toEqual([]);
    expect(book.toClient).toBe(OK_1 + DENIED_403);
    expect(out.map((o) => o.payload).filter((x) => x !== '')).toEqual(['GET /one HTTP/1.1\r\n\r\nGET /secret HTTP/1.1\r\n\r\n', OK_1, DENIED_403]);
    expect(tshark(pcap)).toMatchObject({ bad: [], problems: [] });
  });

  test('removed bytes strictly inside a segment: kept head, reply, kept tail as three segments', () => {
    const conv = new Conv({ link: 'raw', family: 6 }, CLIENT6, SERVER6).open();
    let handle = -1;
    conv.send(true, PSH | ACK, 'three requests', { edits: (e) => (handle = e.deferReply(text('<REPLY>'), 0, 0)) });
    const seg = conv.send(false, PSH | ACK, 'head|removed-part|tail', {
      edits: (e) => {
        const at = (seg.seq + 5) >>> 0;
        e.anchorReply(handle, at);
        e.removeBytes(at, 'removed-part|'.length);
      },
    });
    conv.send(true, ACK);
    conv.close();
    const { out, pcap } = run(conv.steps);
    const server = out.filter((o) => o.src === SERVER6.ip && o.payload !== '');
    expect(server.map((o) => o.payload)).toEqual(['head|', '<REPLY>', 'tail']);
    expect(tcpBookkeeping(out, CLIENT6)).toMatchObject({ problems: [], toClient: 'head|<REPLY>tail' });
    expect(tshark(pcap)).toMatchObject({ bad: [], problems: [] });
  });

  test('SACK blocks are mapped like acknowledgements; a block of removed bytes makes the option NOPs', () => {
    const conv = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER).open();
    let handle = -1;
    conv.send(true, PSH | ACK, 'GET /secret HTTP/1.1\r\n\r\n', { edits: (e) => (handle = e.deferReply(text('NO'), 0, 0)) });
    const answer = conv.send(false, PSH | ACK, 'ANSWER-TO-REMOVE', {
      fate: Fate.DROP,
      edits: (e) => {
        e.anchorReply(handle, answer.seq);
        e.removeBytes(answer.seq, 16);
      },
    });
    const later = conv.send(false, PSH | ACK, 'later bytes');
    const sack = (l: number, r: number): number[] => [1, 1, 5, 10, l >>> 24, (l >>> 16) & 255, (l >>> 8) & 255, l & 255, r >>> 24, (r >>> 16) & 255, (r >>> 8) & 255, r & 255];
    // A client ACK of the handshake only, SACKing the later bytes, then one SACKing removed bytes.
    conv.send(true, ACK, '', { ack: answer.seq, options: sack(later.seq, later.seq + 11) });
    conv.send(true, ACK, '', { ack: answer.seq, options: sack(answer.seq + 4, answer.seq + 8) });
    const { out } = run(conv.steps);
    const acks = out.filter((o) => o.src === CLIENT.ip && o.payload === '' && o.packet.payloadOffset - o.packet.l4Offset === 32);
    expect(acks).toHaveLength(2);
    const opt = (o: OutPacket, at: number): number => {
      const b = o.bytes;
      const i = o.packet.l4Offset + 20 + at;
      return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
    };
    const shift = 2 - 16;
    expect([acks[0]!.bytes[acks[0]!.packet.l4Offset + 22], opt(acks[0]!, 4), opt(acks[0]!, 8)]).toEqual([5, (later.seq + shift) >>> 0, (later.seq + 11 + shift) >>> 0]);
    const nops = Array.from(acks[1]!.bytes.subarray(acks[1]!.packet.l4Offset + 20, acks[1]!.packet.l4Offset + 32));
    expect(nops).toEqual(new Array(12).fill(1));
  });
});

describe('replies the capture never answered', () => {
  test("before the server's FIN, with the request's time", () => {
    const conv = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER).open();
    const request = conv.send(true, PSH | ACK, 'GET /secret HTTP/1.1\r\n\r\n', { edits: (e) => e.deferReply(text(DENIED_403), request.tsSec, request.tsNsec) });
    conv.send(false, ACK);
    conv.send(false, FIN | ACK);
    conv.send(true, FIN | ACK);
    conv.send(false, ACK);
    const { out, pcap } = run(conv.steps);
    const i = out.findIndex((o) => o.payload === DENIED_403);
    expect(i).toBeGreaterThan(0);
    expect([out[i]!.tsSec, out[i]!.tsNsec]).toEqual([request.tsSec, request.tsNsec]);
    expect(out[i + 1]!.flags & FIN).toBe(FIN);
    expect(tcpBookkeeping(out, CLIENT)).toMatchObject({ problems: [], toClient: DENIED_403 });
    expect(tshark(pcap)).toMatchObject({ bad: [], problems: [] });
  });

  test('at the end of the capture, with the request headers turned around (MACs, addresses, ports, SLL type, TCP timestamps)', () => {
    for (const w of [{ link: 'ethernet', family: 4 }, { link: 'sll', family: 6 }] as WireOpts[]) {
      const [c, s] = w.family === 4 ? [CLIENT, SERVER] : [CLIENT6, SERVER6];
      const conv = new Conv(w, c, s).open();
      // TCP timestamps: TSval 0x11111111, TSecr 0x22222222.
      const ts = [1, 1, 8, 10, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22];
      const request = conv.send(true, PSH | ACK, 'GET /secret HTTP/1.1\r\n\r\n', { options: ts, edits: (e) => e.deferReply(text(DENIED_403), request.tsSec, request.tsNsec) });
      const { out, pcap } = run(conv.steps);
      const reply = out[out.length - 1]!;
      expect(reply.payload).toBe(DENIED_403);
      expect([reply.src, reply.sport, reply.dst, reply.dport]).toEqual([s.ip, s.port, c.ip, c.port]);
      expect([reply.seq, reply.ack]).toEqual([conv.sNext, conv.cNext]);
      const b = reply.bytes;
      if (w.link === 'ethernet') expect(Array.from(b.subarray(0, 12))).toEqual(Array.from(request.bytes.subarray(6, 12)).concat(Array.from(request.bytes.subarray(0, 6))));
      else expect((b[0]! << 8) | b[1]!, 'SLL packet type: outgoing turned to host').toBe(0);
      const opt = reply.packet.l4Offset + 20;
      expect(Array.from(b.subarray(opt, opt + 12))).toEqual([1, 1, 8, 10, 0x22, 0x22, 0x22, 0x22, 0x11, 0x11, 0x11, 0x11]);
      expect(tshark(pcap).bad).toEqual([]);
    }
  });

  test('a new SYN on the same addresses and ports starts afresh (port reuse)', () => {
    const { conv } = deniedInTheMiddle({ link: 'ethernet', family: 4 });
    const again = new Conv({ link: 'ethernet', family: 4 }, CLIENT, SERVER, 77_000, 99_000, conv.steps, conv.clockUs).open();
    again.send(true, PSH | ACK, 'GET /one HTTP/1.1\r\n\r\n');
    const answer = again.send(false, PSH | ACK, OK_1);
    const { out } = run(again.steps);
    const last = out.filter((o) => o.payload === OK_1).pop()!;
    expect(last.seq).toBe(answer.seq);
  });

  test('state is kept for at most maxConnections; a forgotten connection writes its waiting replies', () => {
    const steps: Step[] = [];
    for (let i = 0; i < 3; i++) {
      const c = { ...CLIENT, port: 42000 + i };
      const conv = new Conv({ link: 'ethernet', family: 4 }, c, SERVER, 1000, 5000, steps, i * 1000).open();
      const req = conv.send(true, PSH | ACK, `GET /secret/${i} HTTP/1.1\r\n\r\n`, { edits: (e) => e.deferReply(text(`reply ${i}`), req.tsSec, req.tsNsec) });
    }
    const { out, writer } = run(steps, { maxConnections: 2 });
    expect(writer.stats.evicted).toBe(1);
    // The forgotten connection's reply comes when it is forgotten (before the third request's end), the others at the end.
    expect(out.filter((o) => o.payload.startsWith('reply')).map((o) => o.payload)).toEqual(['reply 0', 'reply 1', 'reply 2']);
    const firstReply = out.findIndex((o) => o.payload === 'reply 0');
    const thirdRequest = out.findIndex((o) => o.payload.startsWith('GET /secret/2'));
    expect(firstReply).toBeLessThan(thirdRequest);
  });
});

describe('datagrams (the DNS proxy)', () => {
  const C53: Endpoint = { ip: '10.5.1.10', port: 50001, mac: '0a:58:0a:05:01:0a' };
  const S53: Endpoint = { ip: '10.5.1.53', port: 53, mac: '0a:58:0a:05:01:35' };
  const C53v6: Endpoint = { ip: 'fd00:5::10', port: 50001, mac: '0a:58:0a:05:01:0a' };
  const S53v6: Endpoint = { ip: 'fd00:5::53', port: 53, mac: '0a:58:0a:05:01:35' };
  const step = (bytes: Uint8Array, us: number, extra: Partial<Step> = {}): Step => ({
    bytes,
    linkType: LinkType.ETHERNET,
    tsSec: START + Math.floor(us / 1e6),
    tsNsec: (us % 1e6) * 1000,
    fate: Fate.KEEP,
    fromClient: true,
    seq: 0,
    flags: 0,
    payload: new Uint8Array(0),
    ...extra,
  });

  test.each([
    ['IPv4 with a UDP checksum', 4, true],
    ['IPv4 without a UDP checksum (0 stays 0)', 4, false],
    ['IPv6 (the checksum is mandatory)', 6, true],
  ] as const)('the real answer replaced by the reply: %s', (_name, family, checksum) => {
    const w: WireOpts = { link: 'ethernet', family };
    const [c, s] = family === 4 ? [C53, S53] : [C53v6, S53v6];
    let handle = -1;
    const refused = text('REFUSED-ANSWER');
    const steps = [
      step(udpFrame(w, c, s, text('query'), checksum), 100, { edits: (e) => (handle = e.deferReply(refused, START, 100_000)) }),
      step(udpFrame(w, s, c, text('the real answer, longer'), checksum), 2100, { fate: Fate.DROP, edits: (e) => e.replaceWithReply(handle) }),
    ];
    const { out, pcap } = run(steps);
    expect(out.map((o) => [o.src, o.payload])).toEqual([
      [c.ip, 'query'],
      [s.ip, 'REFUSED-ANSWER'],
    ]);
    expect([out[1]!.tsSec, out[1]!.tsNsec]).toEqual([steps[1]!.tsSec, steps[1]!.tsNsec]);
    const u = out[1]!.packet.l4Offset;
    expect(((out[1]!.bytes[u + 4]! << 8) | out[1]!.bytes[u + 5]!), 'UDP length').toBe(8 + refused.length);
    const sum = (out[1]!.bytes[u + 6]! << 8) | out[1]!.bytes[u + 7]!;
    if (family === 4 && !checksum) expect(sum).toBe(0);
    else expect(sum).not.toBe(0);
    expect(tshark(pcap).bad).toEqual([]);
  });

  test('a reply with no answer to replace comes after the wait, with the query time and turned-around headers', () => {
    const w: WireOpts = { link: 'ethernet', family: 4 };
    const steps = [
      step(udpFrame(w, C53, S53, text('query')), 100, { edits: (e) => e.deferReply(text('REFUSED'), START, 100_000) }),
      step(udpFrame(w, C53, S53, text('later')), 1_000_000),
      step(udpFrame(w, C53, S53, text('after the wait')), 6_000_000),
    ];
    const { out } = run(steps, { datagramReplyWaitNs: 5e9 });
    expect(out.map((o) => o.payload)).toEqual(['query', 'later', 'after the wait', 'REFUSED']);
    const r = out[3]!;
    expect([r.src, r.sport, r.dst, r.dport, r.tsSec, r.tsNsec]).toEqual([S53.ip, 53, C53.ip, C53.port, START, 100_000]);
  });
});
