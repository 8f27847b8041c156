/**
 * Helpers for the proxy tests: byte strings, a collecting stream sink, and the TCP segments of a
 * real capture split by connection and direction (read and decoded with hubcap's own reader).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { readAllFrames } from '../../src/capture/open.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { DecodedPacket, PacketKind } from '../../src/decode/packet.js';
import { HttpConnection, HttpDirection, type HttpRequest, type HttpResponse } from '../../src/proxy/http.js';
import { ReassemblyBudget, SegmentResult, TcpStreamReassembler } from '../../src/proxy/reassembly.js';

export const PCAPS = resolve(import.meta.dirname, '../../pcaps');

const enc = new TextEncoder();
const dec = new TextDecoder('latin1');

export function bytes(text: string): Uint8Array {
  return enc.encode(text);
}

export function latin1(b: Uint8Array): string {
  return dec.decode(b);
}

/** A sink that appends what it is given, and remembers each call. */
export class Collector {
  readonly parts: Uint8Array[] = [];
  readonly calls: Array<{ bytes: Uint8Array; offset: number; length: number; ts: number }> = [];
  readonly sink = (b: Uint8Array, offset: number, length: number, ts: number): void => {
    this.calls.push({ bytes: b, offset, length, ts });
    this.parts.push(b.slice(offset, offset + length));
  };
  get total(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  get text(): string {
    return latin1(this.total);
  }
}

export interface CapturedSegment {
  /** 0: client to server (sender of the first SYN, else of the first packet), 1: back. */
  dir: 0 | 1;
  seq: number;
  flags: number;
  payload: Uint8Array;
  /** Nanoseconds since the capture's first packet. */
  ts: number;
}

export interface CapturedConnection {
  clientPort: number;
  serverPort: number;
  segments: CapturedSegment[];
}

function addrKey(w: Uint32Array): string {
  return `${w[0]}.${w[1]}.${w[2]}.${w[3]}`;
}

/** Every TCP connection of a capture, its segments in capture order. */
export async function tcpConnections(path: string): Promise<CapturedConnection[]> {
  const frames = await readAllFrames(path);
  const p = new DecodedPacket();
  const conns = new Map<string, { c: CapturedConnection; clientKey: string }>();
  const out: CapturedConnection[] = [];
  const t0 = frames.length > 0 ? frames[0]!.tsSec * 1e9 + frames[0]!.tsNsec : 0;
  for (const f of frames) {
    decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
    if (p.kind !== PacketKind.TCP || p.error !== 0) continue;
    const a = `${addrKey(p.src)}:${p.sport}`;
    const b = `${addrKey(p.dst)}:${p.dport}`;
    const key = a < b ? `${a}|${b}` : `${b}|${a}`;
    let entry = conns.get(key);
    if (!entry) {
      // The sender of a bare SYN is the client; otherwise assume the first sender is.
      const synAck = (p.tcpFlags & 0x12) === 0x12;
      const clientKey = synAck ? b : a;
      const c: CapturedConnection = {
        clientPort: synAck ? p.dport : p.sport,
        serverPort: synAck ? p.sport : p.dport,
        segments: [],
      };
      entry = { c, clientKey };
      conns.set(key, entry);
      out.push(c);
    }
    entry.c.segments.push({
      dir: a === entry.clientKey ? 0 : 1,
      seq: p.tcpSeq,
      flags: p.tcpFlags,
      payload: p.data.slice(p.payloadOffset, p.payloadOffset + p.payloadLength),
      ts: f.tsSec * 1e9 + f.tsNsec - t0,
    });
  }
  return out;
}

/**
 * tshark's own reassembly of every TCP stream (`-z follow,tcp,raw,N`): per stream the two
 * endpoints' ports and the bytes each side sent, as Wireshark reassembles them.
 */
export function tsharkStreams(path: string): Array<{ ports: [number, number]; sent: [Uint8Array, Uint8Array] }> {
  const convs = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'tcp.stream'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
  const count = convs.length === 0 ? 0 : Math.max(...convs) + 1;
  const out: Array<{ ports: [number, number]; sent: [Uint8Array, Uint8Array] }> = [];
  if (count === 0) return out;
  // One tshark run prints every stream's follow block, in the order asked.
  const args = ['-r', path, '-q'];
  for (let n = 0; n < count; n++) args.push('-z', `follow,tcp,raw,${n}`);
  const text = execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const blocks = text.split(/^Follow: tcp,raw\n/m).slice(1);
  for (const block of blocks) {
    const lines = block.split('\n');
    const portOf = (prefix: string): number => {
      const l = lines.find((x) => x.startsWith(prefix))!;
      return Number(l.slice(l.lastIndexOf(':') + 1));
    };
    const parts: [string[], string[]] = [[], []];
    let inBody = false;
    for (const l of lines) {
      if (l.startsWith('Node 1:')) {
        inBody = true;
        continue;
      }
      if (!inBody || l.startsWith('=====') || l.trim() === '') continue;
      if (l.startsWith('\t')) parts[1].push(l.trim());
      else parts[0].push(l.trim());
    }
    out.push({
      ports: [portOf('Node 0:'), portOf('Node 1:')],
      sent: [Buffer.from(parts[0].join(''), 'hex'), Buffer.from(parts[1].join(''), 'hex')],
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTTP over captured connections.


export interface HttpEvents {
  requests: HttpRequest[];
  responses: HttpResponse[];
  informational: HttpResponse[];
  errors: Array<{ direction: number; code: string; reason: string }>;
  /** Event names in order: 'req-head', 'req-done', 'res-head', 'res-done', 'info', 'error'. */
  order: string[];
}

export function recordingConnection(): { conn: HttpConnection; ev: HttpEvents } {
  const ev: HttpEvents = { requests: [], responses: [], informational: [], errors: [], order: [] };
  const conn = new HttpConnection({
    onRequestHeaders: (r) => {
      ev.requests.push(r);
      ev.order.push('req-head');
    },
    onRequestComplete: () => ev.order.push('req-done'),
    onResponseHeaders: (r) => {
      ev.responses.push(r);
      ev.order.push('res-head');
    },
    onResponseComplete: () => ev.order.push('res-done'),
    onInformational: (r) => {
      ev.informational.push(r);
      ev.order.push('info');
    },
    onError: (direction, code, reason) => {
      ev.errors.push({ direction, code, reason });
      ev.order.push('error');
    },
  });
  return { conn, ev };
}

/** Runs a captured connection through reassembly and the HTTP parser, as the proxy stage would. */
export function httpOverConnection(c: CapturedConnection): HttpEvents & { conn: HttpConnection } {
  const { conn, ev } = recordingConnection();
  const budget = new ReassemblyBudget();
  const rs = [
    new TcpStreamReassembler(budget, 1 << 20, conn.requestSink),
    new TcpStreamReassembler(budget, 1 << 20, conn.responseSink),
  ] as const;
  for (const s of c.segments) {
    const res = rs[s.dir].segment(s.seq, s.flags, s.payload, 0, s.payload.length, s.ts);
    if (res & SegmentResult.END) conn.end(s.dir === 0 ? HttpDirection.REQUEST : HttpDirection.RESPONSE, s.ts);
    if (res & SegmentResult.RESET) conn.end(s.dir === 0 ? HttpDirection.REQUEST : HttpDirection.RESPONSE, s.ts, true);
  }
  return { ...ev, conn };
}
