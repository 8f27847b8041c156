/**
 * Synthetic captures for the L7 end-to-end tests (test/e2e/l7-*.test.ts): whole conversations
 * between the pods of examples/l7/cluster, written with hubcap's own pcap writer
 * (src/capture/pcap-writer.ts) as Ethernet / IPv4 / TCP or UDP frames the way a Linux stack
 * sends them: a three-way handshake, sequence and acknowledgement numbers that follow the bytes
 * sent, the peer's ACKs, a FIN exchange, IPv4 header checksums and TCP/UDP checksums over the
 * RFC 793 / RFC 768 pseudo-header, a fresh IPv4 ID per packet (so a retransmission is not a
 * `tcpdump -i any` duplicate). Tests control what real recordings cannot: where a request is
 * cut into segments, two requests in one segment, retransmissions and overlaps, exact times.
 *
 * DNS messages are real wire format (dns-packet), over UDP or over TCP with the two-byte length
 * prefix of RFC 1035 section 4.2.2.
 *
 * `replayJson` runs the real `hubcap replay ... -o json` on such a capture and returns the
 * Hubble lines, with the fields the L7 tests read typed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import dnsPacket from 'dns-packet';
import { encodePcap, type PcapPacket } from '../../src/capture/pcap-writer.js';
import { runHubcap, type CliResult } from './cli.js';

// ---------------------------------------------------------------------------------------------
// Addresses of examples/l7/cluster (node l7-node, pods in 10.5.1.0/24)

export const CLIENT = '10.5.1.10';
export const CLIENT2 = '10.5.1.11';
export const WEB = '10.5.1.20';
export const KAFKA = '10.5.1.30';
export const COREDNS = '10.5.1.53';

/** 2026-03-02T10:00:00Z: the captures' first packet. */
export const START_SEC = Date.UTC(2026, 2, 2, 10, 0, 0) / 1000;

// TCP flag bits (RFC 9293 section 3.1)
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

// ---------------------------------------------------------------------------------------------
// Frames

function ipBytes(text: string): number[] {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not IPv4: ${text}`);
  return parts;
}

/** A pod's MAC as the CNI convention makes it (0a:58 + its IPv4 address). */
function macOf(ip: string): number[] {
  return [0x0a, 0x58, ...ipBytes(ip)];
}

/** RFC 1071 one's-complement sum of `data`, folded, not complemented. */
function sum16(data: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (data[i]! << 8) | (i + 1 < end ? data[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

const ETH = 14;
const IP4 = 20;

/** Ethernet + IPv4 (DF, TTL 64) around a transport header and payload; checksums filled in. */
function ipv4Frame(src: string, dst: string, proto: number, id: number, transport: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH + IP4 + transport.length);
  f.set(macOf(dst), 0);
  f.set(macOf(src), 6);
  f[12] = 0x08;
  f[13] = 0x00;
  const ip = ETH;
  f[ip] = 0x45;
  const total = IP4 + transport.length;
  f[ip + 2] = total >>> 8;
  f[ip + 3] = total & 0xff;
  f[ip + 4] = (id >>> 8) & 0xff;
  f[ip + 5] = id & 0xff;
  f[ip + 6] = 0x40; // DF
  f[ip + 8] = 64;
  f[ip + 9] = proto;
  f.set(ipBytes(src), ip + 12);
  f.set(ipBytes(dst), ip + 16);
  const hc = ~sum16(f, ip, ip + IP4) & 0xffff;
  f[ip + 10] = hc >>> 8;
  f[ip + 11] = hc & 0xff;
  f.set(transport, ip + IP4);
  // Transport checksum over the pseudo-header (addresses, zero, protocol, length) and the segment.
  const l4 = ip + IP4;
  let pseudo = sum16(f, ip + 12, ip + 20);
  pseudo += proto + transport.length;
  const c = ~sum16(f, l4, f.length, pseudo) & 0xffff;
  const at = proto === 6 ? l4 + 16 : l4 + 6;
  const v = proto === 17 && c === 0 ? 0xffff : c; // UDP sends an all-zero sum as all ones
  f[at] = v >>> 8;
  f[at + 1] = v & 0xff;
  return f;
}

function tcpHeader(sport: number, dport: number, seq: number, ack: number, flags: number, payload: Uint8Array): Uint8Array {
  const t = new Uint8Array(20 + payload.length);
  const dv = new DataView(t.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0);
  dv.setUint32(8, (flags & ACK) !== 0 ? ack >>> 0 : 0);
  t[12] = 5 << 4;
  t[13] = flags;
  dv.setUint16(14, 64240);
  t.set(payload, 20);
  return t;
}

function udpHeader(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  const dv = new DataView(u.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, u.length);
  u.set(payload, 8);
  return u;
}

const enc = new TextEncoder();

export function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? enc.encode(data) : data;
}

// ---------------------------------------------------------------------------------------------
// Captures

export interface Peer {
  ip: string;
  port: number;
}

/** One TCP segment as sent (kept for retransmissions). */
export interface Segment {
  fromClient: boolean;
  seq: number;
  ack: number;
  flags: number;
  payload: Uint8Array;
  /** Index of its frame in the capture. */
  frame: number;
}

/** A capture being built: frames with timestamps, one clock for all conversations. */
export class L7Capture {
  private readonly packets: PcapPacket[] = [];
  /** Microseconds since the epoch. */
  private clockUs: number;
  private readonly ids = new Map<string, number>();
  private isnSeed = 0x1f2e3d4c;

  constructor(startSec = START_SEC) {
    this.clockUs = startSec * 1e6;
  }

  /** Seconds since the epoch of the next packet (before its own small step). */
  get now(): number {
    return this.clockUs / 1e6;
  }

  get frames(): number {
    return this.packets.length;
  }

  /** Lets `seconds` pass before the next packet. */
  wait(seconds: number): this {
    this.clockUs += Math.round(seconds * 1e6);
    return this;
  }

  /** Appends one IPv4 packet 50 us after the previous one; returns its frame index. */
  packet(src: string, dst: string, proto: number, transport: Uint8Array): number {
    this.clockUs += 50;
    const id = ((this.ids.get(src) ?? 0x3a00) + 1) & 0xffff;
    this.ids.set(src, id);
    const data = ipv4Frame(src, dst, proto, id, transport);
    const sec = Math.floor(this.clockUs / 1e6);
    this.packets.push({ data, tsSec: sec, tsNsec: (this.clockUs - sec * 1e6) * 1000 });
    return this.packets.length - 1;
  }

  /** Capture time of frame `i` as Hubble prints it (RFC 3339, nanoseconds). */
  timeOf(i: number): string {
    const p = this.packets[i]!;
    return `${new Date((p.tsSec ?? 0) * 1000).toISOString().slice(0, 19)}.${String(p.tsNsec ?? 0).padStart(9, '0')}Z`;
  }

  /** A TCP conversation from `client` to `server` (not opened yet: call open()). */
  tcp(client: Peer, server: Peer): TcpConversation {
    this.isnSeed = (Math.imul(this.isnSeed, 1103515245) + 12345) >>> 0;
    const isnClient = this.isnSeed;
    this.isnSeed = (Math.imul(this.isnSeed, 1103515245) + 12345) >>> 0;
    return new TcpConversation(this, client, server, isnClient, this.isnSeed);
  }

  udp(from: Peer, to: Peer, payload: string | Uint8Array): number {
    return this.packet(from.ip, to.ip, 17, udpHeader(from.port, to.port, bytesOf(payload)));
  }

  /** The capture as pcap bytes (microsecond timestamps, Ethernet). */
  pcap(): Uint8Array {
    return encodePcap(this.packets);
  }

  /** Writes the capture to `path`; returns the path. */
  write(path: string): string {
    writeFileSync(path, this.pcap());
    return path;
  }
}

export interface SendOptions {
  /** Sizes of the first segments; the rest of the data goes in one last segment. */
  split?: number[];
  /** The peer acknowledges after the data (default true). */
  ack?: boolean;
  /** Seconds between the segments of this send (default 0: 50 us apart). */
  gap?: number;
}

/** One TCP connection of an L7Capture, with both sides' sequence numbers. */
export class TcpConversation {
  /** Next sequence number of each side. */
  private clientNext: number;
  private serverNext: number;
  readonly segments: Segment[] = [];

  constructor(
    private readonly cap: L7Capture,
    readonly client: Peer,
    readonly server: Peer,
    readonly isnClient: number,
    readonly isnServer: number,
  ) {
    this.clientNext = isnClient;
    this.serverNext = isnServer;
  }

  /** Sends one raw segment; advances the sender's sequence by its payload (and SYN/FIN). */
  segment(fromClient: boolean, flags: number, payload: string | Uint8Array = new Uint8Array(0)): Segment {
    const data = bytesOf(payload);
    const seq = fromClient ? this.clientNext : this.serverNext;
    const ack = fromClient ? this.serverNext : this.clientNext;
    const advance = data.length + ((flags & SYN) !== 0 ? 1 : 0) + ((flags & FIN) !== 0 ? 1 : 0);
    if (fromClient) this.clientNext = (this.clientNext + advance) >>> 0;
    else this.serverNext = (this.serverNext + advance) >>> 0;
    return this.emit({ fromClient, seq, ack, flags, payload: data, frame: -1 });
  }

  private emit(s: Segment): Segment {
    const [src, dst] = s.fromClient ? [this.client, this.server] : [this.server, this.client];
    s.frame = this.cap.packet(src.ip, dst.ip, 6, tcpHeader(src.port, dst.port, s.seq, s.ack, s.flags, s.payload));
    this.segments.push(s);
    return s;
  }

  /** SYN, SYN-ACK, ACK. */
  open(): this {
    this.segment(true, SYN);
    this.segment(false, SYN | ACK);
    this.segment(true, ACK);
    return this;
  }

  /** Data from one side, cut as `split` says, then the peer's ACK. Returns the data segments. */
  send(fromClient: boolean, data: string | Uint8Array, opts: SendOptions = {}): Segment[] {
    const bytes = bytesOf(data);
    const cuts = opts.split ?? [];
    const out: Segment[] = [];
    let at = 0;
    for (let i = 0; i <= cuts.length; i++) {
      const end = i < cuts.length ? Math.min(bytes.length, at + cuts[i]!) : bytes.length;
      if (end <= at && i < cuts.length) continue;
      const last = end === bytes.length;
      if (i > 0 && opts.gap) this.cap.wait(opts.gap);
      out.push(this.segment(fromClient, last ? PSH | ACK : ACK, bytes.subarray(at, end)));
      at = end;
      if (last) break;
    }
    if (opts.ack !== false) this.segment(!fromClient, ACK);
    return out;
  }

  /** The client's request, then the server's answer (each acknowledged). */
  exchange(request: string | Uint8Array, response: string | Uint8Array, opts: { request?: SendOptions; response?: SendOptions } = {}): { request: Segment[]; response: Segment[] } {
    const req = this.send(true, request, opts.request);
    const res = this.send(false, response, opts.response);
    return { request: req, response: res };
  }

  /**
   * Sends `s` again, as a TCP retransmission: same sequence number, flags and payload (the
   * acknowledgement number is the current one), a new IPv4 ID, after `rto` seconds
   * (Linux's initial RTO is 200 ms).
   */
  retransmit(s: Segment, rto = 0.2): Segment {
    this.cap.wait(rto);
    const ack = s.fromClient ? this.serverNext : this.clientNext;
    return this.emit({ fromClient: s.fromClient, seq: s.seq, ack, flags: s.flags, payload: s.payload, frame: -1 });
  }

  /**
   * A segment that re-sends already-sent bytes and continues past them (a retransmission that
   * coalesced the lost segment with new data, as Linux's tcp_retransmit_collapse does): the
   * bytes from sequence number `fromSeq` up to the side's next sequence number, plus `more`.
   */
  resendFrom(fromClient: boolean, fromSeq: number, sent: Uint8Array, more: string | Uint8Array = new Uint8Array(0), flags = PSH | ACK): Segment {
    const extra = bytesOf(more);
    const payload = new Uint8Array(sent.length + extra.length);
    payload.set(sent, 0);
    payload.set(extra, sent.length);
    const ack = fromClient ? this.serverNext : this.clientNext;
    if (fromClient) this.clientNext = (fromSeq + payload.length) >>> 0;
    else this.serverNext = (fromSeq + payload.length) >>> 0;
    return this.emit({ fromClient, seq: fromSeq >>> 0, ack, flags, payload, frame: -1 });
  }

  /** Next sequence number of a side. */
  next(fromClient: boolean): number {
    return fromClient ? this.clientNext : this.serverNext;
  }

  /** FIN from `clientFirst ? client : server`, FIN-ACK back, last ACK. */
  close(clientFirst = true): this {
    this.segment(clientFirst, FIN | ACK);
    this.segment(!clientFirst, FIN | ACK);
    this.segment(clientFirst, ACK);
    return this;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP and DNS payloads

/** An HTTP/1.1 request head (CRLF line ends, Host first as curl sends it). */
export function httpRequest(method: string, path: string, headers: Record<string, string> = {}, opts: { version?: string; host?: string; body?: string } = {}): string {
  const lines = [`${method} ${path} ${opts.version ?? 'HTTP/1.1'}`];
  if (opts.host !== '') lines.push(`Host: ${opts.host ?? 'web.default.svc.cluster.local'}`);
  lines.push('User-Agent: curl/8.5.0', 'Accept: */*');
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (opts.body !== undefined) lines.push(`Content-Length: ${enc.encode(opts.body).length}`);
  return `${lines.join('\r\n')}\r\n\r\n${opts.body ?? ''}`;
}

/** A small HTTP response as nginx sends it. */
export function httpResponse(status: number, body = '', opts: { version?: string; close?: boolean } = {}): string {
  const reason: Record<number, string> = { 200: 'OK', 201: 'Created', 404: 'Not Found', 503: 'Service Unavailable' };
  const lines = [
    `${opts.version ?? 'HTTP/1.1'} ${status} ${reason[status] ?? 'Status'}`,
    'Server: nginx/1.25.4',
    'Date: Mon, 02 Mar 2026 10:00:00 GMT',
    'Content-Type: text/plain',
    `Content-Length: ${enc.encode(body).length}`,
  ];
  if (opts.close) lines.push('Connection: close');
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export type DnsAnswer = dnsPacket.Answer;

/** A recursive query for one name, as dig sends it (no EDNS, to keep it small). */
export function dnsQuery(id: number, name: string, type: 'A' | 'AAAA' = 'A'): Uint8Array {
  return new Uint8Array(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, class: 'IN', name }] }));
}

/** The server's answer to `dnsQuery(id, name, type)`. `rcode` NOERROR unless given. */
export function dnsResponse(id: number, name: string, answers: DnsAnswer[], opts: { type?: 'A' | 'AAAA'; rcode?: 'NOERROR' | 'NXDOMAIN' | 'REFUSED' } = {}): Uint8Array {
  const rcodes = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 } as const;
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodes[opts.rcode ?? 'NOERROR'];
  return new Uint8Array(
    dnsPacket.encode({ type: 'response', id, flags, questions: [{ type: opts.type ?? 'A', class: 'IN', name }], answers }),
  );
}

/** A DNS message framed for TCP: two-byte length, then the message (RFC 1035 4.2.2). */
export function dnsOverTcp(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >>> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** Decodes a DNS message (tests check what they built). */
export function decodeDns(bytes: Uint8Array): dnsPacket.Packet {
  return dnsPacket.decode(Buffer.from(bytes));
}

// ---------------------------------------------------------------------------------------------
// Replays

/** The Hubble fields the L7 tests read. */
export interface Flow {
  time: string;
  verdict?: string;
  drop_reason_desc?: string;
  Type?: string;
  event_type?: { type: number; sub_type?: number };
  IP?: { source: string; destination: string };
  l4?: {
    TCP?: { source_port?: number; destination_port?: number; flags?: Record<string, boolean> };
    UDP?: { source_port?: number; destination_port?: number };
  };
  source?: { pod_name?: string; namespace?: string; identity?: number; labels?: string[] };
  destination?: { pod_name?: string; namespace?: string; identity?: number; labels?: string[] };
  is_reply?: boolean;
  traffic_direction?: string;
  trace_observation_point?: string;
  l7?: {
    type?: 'REQUEST' | 'RESPONSE';
    latency_ns?: string;
    http?: { code?: number; method?: string; url?: string; protocol?: string; headers?: Array<{ key: string; value: string }> };
    dns?: { query?: string; ips?: string[]; ttl?: number; rcode?: number; qtypes?: string[]; cnames?: string[] };
  };
  Summary?: string;
  hubcap?: { rule?: string; inherited?: boolean; l7_not_evaluated?: boolean };
}

export const DROP = 1;
export const TRACE = 4;
export const POLICY_VERDICT = 5;
export const ACCESS_LOG = 129;

/** A temporary directory for generated captures, removed by `cleanup`. */
export function tempDir(prefix = 'hubcap-l7-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `hubcap replay CAPTURE --cluster examples/l7/cluster --policy POLICIES ... -o json`. */
export function replayJson(capture: string, policies: string, extra: string[] = [], cluster = 'examples/l7/cluster'): Flow[] {
  const r = runReplay(capture, policies, ['-o', 'json', ...extra], cluster);
  if (r.status !== 0) throw new Error(`hubcap replay exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { flow: Flow }).flow);
}

export function runReplay(capture: string, policies: string, extra: string[] = [], cluster = 'examples/l7/cluster'): CliResult {
  return runHubcap(['replay', capture, '--cluster', cluster, '--policy', policies, ...extra]);
}

/** Final events (design.md section 5): drops and traces, one per packet. */
export function finals(flows: Flow[]): Flow[] {
  return flows.filter((f) => f.Type !== 'L7' && (f.event_type?.type === DROP || f.event_type?.type === TRACE));
}

export function l7(flows: Flow[]): Flow[] {
  return flows.filter((f) => f.Type === 'L7');
}

/** Flows of one TCP/UDP connection, by the client's port (either direction). */
export function ofPort(flows: Flow[], clientPort: number): Flow[] {
  return flows.filter((f) => {
    const p = f.l4?.TCP ?? f.l4?.UDP;
    return p !== undefined && (p.source_port === clientPort || p.destination_port === clientPort);
  });
}

/** `METHOD path -> verdict[/code]` of each HTTP access-log flow, in order (compact to assert on). */
export function httpLog(flows: Flow[]): string[] {
  return l7(flows)
    .filter((f) => f.l7?.http)
    .map((f) => {
      const h = f.l7!.http!;
      const path = (h.url ?? '').replace(/^[a-z]+:\/\/[^/]*/, '');
      return f.l7!.type === 'REQUEST' ? `${h.method} ${path} request ${f.verdict}` : `${h.method} ${path} response ${f.verdict} ${h.code}`;
    });
}

/** Short text of flows for assertion messages. */
export function show(flows: Flow[]): string {
  return flows
    .map((f) => {
      const p = f.l4?.TCP ?? f.l4?.UDP;
      const where = f.IP ? `${f.IP.source}:${p?.source_port ?? ''} -> ${f.IP.destination}:${p?.destination_port ?? ''}` : '';
      return `${f.time} ${where} type=${f.event_type?.type} ${f.Type} ${f.verdict}${f.drop_reason_desc ? ` ${f.drop_reason_desc}` : ''} ${f.Summary ?? ''}${f.hubcap ? ` ${JSON.stringify(f.hubcap)}` : ''}`;
    })
    .join('\n');
}

// ---------------------------------------------------------------------------------------------
// Scenarios (the captures of the L7 tests; also committed as pcaps/l7-*.pcap)

/** A named connection of a scenario: its client port and the segments the tests look at. */
export interface ScenarioConn {
  port: number;
  conv?: TcpConversation;
  /** Frame indexes of interest, by name. */
  frames: Record<string, number>;
}

export interface Scenario {
  cap: L7Capture;
  conns: Record<string, ScenarioConn>;
}

const web = (): Peer => ({ ip: WEB, port: 80 });
const ok = (body: string): string => httpResponse(200, body);

/**
 * HTTP to web:80 from client under examples/l7/policies/http. Every request is answered by the
 * server as it was recorded without the policy (200, or 404 for paths it does not have).
 */
export function httpScenario(): Scenario {
  const cap = new L7Capture();
  const conns: Record<string, ScenarioConn> = {};
  let nextPort = 41001;
  const open = (name: string): TcpConversation => {
    const conv = cap.tcp({ ip: CLIENT, port: nextPort }, web()).open();
    conns[name] = { port: nextPort++, conv, frames: {} };
    return conv;
  };

  // A request cut into four segments, 100 ms apart: decided when its head is complete.
  let c = open('split-allowed');
  let segs = c.send(true, httpRequest('GET', '/public'), { split: [3, 7, 12], gap: 0.1 });
  conns['split-allowed']!.frames.last = segs[segs.length - 1]!.frame;
  conns['split-allowed']!.frames.first = segs[0]!.frame;
  c.send(false, ok('public\n'));
  c.close();

  c = open('split-denied');
  segs = c.send(true, httpRequest('GET', '/private'), { split: [5, 5, 5], gap: 0.1 });
  conns['split-denied']!.frames.last = segs[segs.length - 1]!.frame;
  c.send(false, httpResponse(404, 'not found\n'));
  c.close();

  // The head in two segments, the body in a third: the body is not a second request.
  c = open('split-body');
  const landing = httpRequest('POST', '/v1/request-landing', { 'Content-Type': 'application/x-www-form-urlencoded' }, { body: 'ship=tiefighter&bay=3' });
  const headEnd = landing.indexOf('\r\n\r\n') + 4;
  segs = c.send(true, landing, { split: [20, headEnd - 20] });
  conns['split-body']!.frames.head = segs[1]!.frame;
  c.send(false, ok('Ship landed\n'));
  c.close();

  // Two requests in one segment (HTTP/1.1 pipelining): the first allowed, the second not; the
  // server answers each in its own segment.
  c = open('pipelined');
  segs = c.send(true, httpRequest('GET', '/public') + httpRequest('GET', '/secret'));
  conns['pipelined']!.frames.requests = segs[0]!.frame;
  const first = c.send(false, ok('public\n'), { ack: false });
  const second = c.send(false, httpResponse(404, 'not found\n'));
  conns['pipelined']!.frames.answer1 = first[0]!.frame;
  conns['pipelined']!.frames.answer2 = second[0]!.frame;
  c.close();

  // An allowed request and its answer, each retransmitted once (same sequence numbers).
  c = open('retransmit-allowed');
  segs = c.send(true, httpRequest('GET', '/public'), { ack: false });
  conns['retransmit-allowed']!.frames.retransmission = c.retransmit(segs[0]!).frame;
  c.segment(false, ACK);
  let res = c.send(false, ok('public\n'), { ack: false });
  conns['retransmit-allowed']!.frames.answerRetransmission = c.retransmit(res[0]!).frame;
  c.segment(true, ACK);
  c.close();

  // The request in two segments, then one segment re-sending all of it (overlapping both).
  c = open('retransmit-overlap');
  const overlapping = httpRequest('GET', '/public');
  const start = c.next(true);
  segs = c.send(true, overlapping, { split: [10], ack: false });
  conns['retransmit-overlap']!.frames.overlap = c.resendFrom(true, start, bytesOf(overlapping)).frame;
  c.segment(false, ACK);
  c.send(false, ok('public\n'));
  c.close();

  // A denied request retransmitted: one denial, one 403.
  c = open('retransmit-denied');
  segs = c.send(true, httpRequest('GET', '/secret'), { ack: false });
  conns['retransmit-denied']!.frames.retransmission = c.retransmit(segs[0]!).frame;
  c.segment(false, ACK);
  res = c.send(false, httpResponse(404, 'not found\n'));
  c.close();

  // Keep-alive: four requests one after the other on one connection; the third is denied and
  // the connection goes on.
  c = open('keepalive');
  c.exchange(httpRequest('GET', '/public'), ok('public\n'));
  c.exchange(httpRequest('GET', '/path1'), ok('path1\n'));
  c.exchange(httpRequest('PUT', '/path2'), ok('stored\n'));
  c.exchange(httpRequest('GET', '/public'), ok('public again\n'));
  c.close();

  // HTTP/1.0: one request per connection, the server closes after its answer.
  c = open('http10');
  c.exchange(httpRequest('GET', '/public', {}, { version: 'HTTP/1.0' }), httpResponse(200, 'public\n', { version: 'HTTP/1.0', close: true }));
  c.close(false);
  c = open('http10-denied');
  c.exchange(httpRequest('GET', '/secret', {}, { version: 'HTTP/1.0' }), httpResponse(404, 'not found\n', { version: 'HTTP/1.0', close: true }));
  c.close(false);

  // Header rules (web-api.yaml), one keep-alive connection; every request answered 200.
  c = open('headers');
  for (const [method, path, headers] of HEADER_CASES) c.exchange(httpRequest(method, path, headers), ok('ok\n'));
  c.close();

  return { cap, conns };
}

/**
 * The requests of the `headers` connection with the verdict docs.cilium.io gives them (test
 * names repeat the reason): [method, path, headers, allowed].
 */
export const HEADER_CASES: ReadonlyArray<[string, string, Record<string, string>, boolean]> = [
  ['PUT', '/path2', { 'X-My-Header': 'true' }, true],
  ['PUT', '/path2', {}, false],
  ['PUT', '/path2', { 'X-My-Header': 'false' }, false],
  ['GET', '/path1', {}, true],
  ['GET', '/path1/more', {}, false],
  ['GET', '/badge', { 'X-Has-Badge': 'yes' }, true],
  ['GET', '/badge', { 'x-has-badge': 'yes' }, true],
  ['GET', '/badge', { 'X-Has-Badge': 'no' }, false],
  ['GET', '/badge', {}, false],
  ['GET', '/presence', { 'X-Has-Badge': 'whatever' }, true],
  ['GET', '/presence', {}, false],
  ['GET', '/vault', { 'X-Token': 'sesame', 'X-Trace-Id': '4bf92f35' }, true],
  ['GET', '/vault', { 'X-Token': 'sesame' }, false],
  ['GET', '/vault', { 'X-Token': 'open', 'X-Trace-Id': '4bf92f35' }, false],
];

/** One DNS query of the DNS scenario: who asks what, over which transport, and its fate. */
export interface DnsCase {
  client: string;
  name: string;
  type: 'A' | 'AAAA';
  tcp: boolean;
  /** The server's answer as recorded (without the policy). */
  answers: DnsAnswer[];
  rcode?: 'NOERROR' | 'NXDOMAIN';
  /** The documented verdict under examples/l7/policies/dns. */
  allowed: boolean;
  /** Why, for the test name. */
  why: string;
}

const A = (name: string, data: string, ttl = 300): DnsAnswer => ({ type: 'A', name, ttl, class: 'IN', data });
const AAAA = (name: string, data: string, ttl = 300): DnsAnswer => ({ type: 'AAAA', name, ttl, class: 'IN', data });
const CNAME = (name: string, data: string, ttl = 300): DnsAnswer => ({ type: 'CNAME', name, ttl, class: 'IN', data });

/**
 * The DNS queries of the DNS scenario (client: matchPattern "*.cilium.io" OR matchName
 * "api.example.com"; client2: matchPattern "*"), in capture order. Sources: docs.cilium.io, Layer
 * 7 Policies > "DNS Policy and IP Discovery" (quoted in `why`).
 */
export const DNS_CASES: readonly DnsCase[] = [
  { client: CLIENT, name: 'cilium.io', type: 'A', tcp: false, answers: [A('cilium.io', '192.0.2.10')], allowed: false, why: '"*.cilium.io will match sub.cilium.io but not cilium.io"' },
  {
    client: CLIENT,
    name: 'docs.cilium.io',
    type: 'A',
    tcp: false,
    answers: [CNAME('docs.cilium.io', 'cilium.readthedocs.io'), A('cilium.readthedocs.io', '192.0.2.30')],
    allowed: true,
    why: '"*.cilium.io will match sub.cilium.io"',
  },
  { client: CLIENT, name: 'a.b.cilium.io', type: 'A', tcp: false, answers: [], rcode: 'NXDOMAIN', allowed: false, why: '"* within a domain allows 0 or more valid DNS characters, except for the . separator"' },
  { client: CLIENT, name: 'API.Example.COM', type: 'A', tcp: false, answers: [A('API.Example.COM', '203.0.113.7')], allowed: true, why: 'matchName "api.example.com" of the second policy (names compare case-insensitively, RFC 4343)' },
  { client: CLIENT, name: 'www.example.com', type: 'A', tcp: false, answers: [A('www.example.com', '203.0.113.80')], allowed: false, why: 'matched by no rule: "No other DNS queries will be allowed"' },
  {
    client: CLIENT,
    name: 'docs.cilium.io',
    type: 'AAAA',
    tcp: true,
    answers: [CNAME('docs.cilium.io', 'cilium.readthedocs.io'), AAAA('cilium.readthedocs.io', '2001:db8::30')],
    allowed: true,
    why: '"*.cilium.io will match sub.cilium.io", over TCP ("protocol: ANY")',
  },
  { client: CLIENT, name: 'cilium.io', type: 'AAAA', tcp: true, answers: [AAAA('cilium.io', '2001:db8::10')], allowed: false, why: '"... but not cilium.io", over TCP' },
  { client: CLIENT2, name: 'cilium.io', type: 'A', tcp: false, answers: [A('cilium.io', '192.0.2.10')], allowed: true, why: '"* alone matches all names"' },
  { client: CLIENT2, name: 'a.b.cilium.io', type: 'A', tcp: false, answers: [], rcode: 'NXDOMAIN', allowed: true, why: '"* alone matches all names"' },
  { client: CLIENT2, name: 'www.example.com', type: 'A', tcp: false, answers: [A('www.example.com', '203.0.113.80')], allowed: true, why: '"* alone matches all names"' },
];

/**
 * DNS from client and client2 to CoreDNS (UDP and TCP 53), one query per connection as dig sends
 * them, each answered as recorded without the policy. Connection names: `dns-<index>` of
 * DNS_CASES; frames `query` and `answer` (for TCP the segments carrying them).
 */
export function dnsScenario(): Scenario {
  const cap = new L7Capture();
  const conns: Record<string, ScenarioConn> = {};
  DNS_CASES.forEach((q, i) => {
    const port = 50001 + i;
    const id = 0x4a00 + i;
    const query = dnsQuery(id, q.name, q.type);
    const answer = dnsResponse(id, q.name, q.answers, { type: q.type, rcode: q.rcode ?? 'NOERROR' });
    const client = { ip: q.client, port };
    const server = { ip: COREDNS, port: 53 };
    if (!q.tcp) {
      const qf = cap.udp(client, server, query);
      cap.wait(0.002);
      const af = cap.udp(server, client, answer);
      conns[`dns-${i}`] = { port, frames: { query: qf, answer: af } };
    } else {
      const conv = cap.tcp(client, server).open();
      const qs = conv.send(true, dnsOverTcp(query));
      cap.wait(0.002);
      const as = conv.send(false, dnsOverTcp(answer));
      conv.close();
      conns[`dns-${i}`] = { port, conv, frames: { query: qs[0]!.frame, answer: as[0]!.frame } };
    }
    cap.wait(0.05);
  });
  return { cap, conns };
}

/** The address api.example.com resolves to in the toFQDNs scenario, and its answer's TTL. */
export const API_IP = '203.0.113.7';
export const API_TTL = 60;

const tlsBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0x16 : i === 1 ? 0x03 : (i * 37) & 0xff));

/**
 * toFQDNs under examples/l7/policies/fqdn (DNS to kube-dns allowed and seen; TCP 443 to what
 * api.example.com resolves to). Times from the first packet:
 *   0 s   `before`: client:42001 -> 203.0.113.7:443, SYN / SYN-ACK / ACK (no DNS answer yet)
 *   1 s   `dns`: client:50101 asks api.example.com A, CoreDNS answers 203.0.113.7 TTL 60
 *   2 s   `after`: the same handshake from client:42002, a few bytes each way, closed at once
 *         (unless `keepOpen`: then it stays open and exchanges more bytes at 63 s, then closes)
 *   2 s   `other-ip`: client:42003 -> 203.0.113.8:443 (an address the answer did not give)
 *   2 s   `other-port`: client:42004 -> 203.0.113.7:80 (the rule allows 443 only)
 *   63 s  `late`: client:42005 -> 203.0.113.7:443 (62 s after the answer: its TTL has passed)
 */
export function fqdnScenario(opts: { keepOpen?: boolean } = {}): Scenario {
  const cap = new L7Capture();
  const conns: Record<string, ScenarioConn> = {};
  const handshake = (name: string, port: number, ip: string, dport: number): TcpConversation => {
    const conv = cap.tcp({ ip: CLIENT, port }, { ip, port: dport });
    const syn = conv.segment(true, SYN);
    conv.segment(false, SYN | ACK);
    conv.segment(true, ACK);
    conns[name] = { port, conv, frames: { syn: syn.frame } };
    return conv;
  };

  let c = handshake('before', 42001, API_IP, 443);
  c.send(true, tlsBytes(64));
  c.segment(true, RST | ACK);

  cap.wait(1);
  const query = dnsQuery(0x5a01, 'api.example.com');
  const answer = dnsResponse(0x5a01, 'api.example.com', [A('api.example.com', API_IP, API_TTL)]);
  const qf = cap.udp({ ip: CLIENT, port: 50101 }, { ip: COREDNS, port: 53 }, query);
  cap.wait(0.003);
  const af = cap.udp({ ip: COREDNS, port: 53 }, { ip: CLIENT, port: 50101 }, answer);
  conns.dns = { port: 50101, frames: { query: qf, answer: af } };

  cap.wait(1);
  const after = handshake('after', 42002, API_IP, 443);
  after.send(true, tlsBytes(64));
  after.send(false, tlsBytes(96));
  if (!opts.keepOpen) after.close();
  c = handshake('other-ip', 42003, '203.0.113.8', 443);
  c.segment(true, RST | ACK);
  c = handshake('other-port', 42004, API_IP, 80);
  c.segment(true, RST | ACK);

  cap.wait(61);
  if (opts.keepOpen) {
    const more = after.send(true, tlsBytes(48));
    conns.after!.frames.late = more[0]!.frame;
    conns.after!.frames.lateAnswer = after.send(false, tlsBytes(80))[0]!.frame;
    after.close();
  }
  c = handshake('late', 42005, API_IP, 443);
  c.send(true, tlsBytes(64));
  c.send(false, tlsBytes(96));
  c.close();
  return { cap, conns };
}

/** The committed captures (pcaps/l7-*.pcap): `npx tsx test/helpers/l7-capture.ts` rewrites them. */
export const COMMITTED: Record<string, () => Scenario> = {
  'l7-http.pcap': httpScenario,
  'l7-dns.pcap': dnsScenario,
  'l7-fqdn.pcap': () => fqdnScenario(),
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [file, build] of Object.entries(COMMITTED)) {
    const path = join(import.meta.dirname, '..', '..', 'pcaps', file);
    build().cap.write(path);
    console.log(`wrote ${path}`);
  }
}
