/**
 * Benchmark traffic: a deterministic Ethernet pcap of N packets (1,000,000 by default) written
 * on the fly into bench/.cache (gitignored) and reused while the generator version and
 * parameters stay the same.
 *
 * The traffic is shaped like a busy node capture, not one hot flow (design.md §6): about 2,000
 * connections open at any time and ~100k over the file, interleaved at random; clients spread
 * over thousands of /24s of 10.0.0.0/8, servers over pod, service, node and public prefixes;
 * TCP connections with handshake, request/response data (many small segments, some full MSS),
 * ACKs and FIN teardown; UDP DNS query/answer pairs and other UDP; ICMP echo; ~12% IPv6
 * (TCP, UDP, ICMPv6 echo); ~5% of packets carry an 802.1Q tag. Headers are valid (lengths and
 * IPv4 checksums) so tcpdump and the decoder read them as real traffic; payload bytes are filler.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PcapEncoder } from '../../src/capture/pcap-writer.js';

export const GENERATOR_VERSION = 1;
export const CACHE_DIR = join(import.meta.dirname, '..', '.cache');

export interface GenOptions {
  packets?: number;
  seed?: number;
  /** Connections open at once (the interleaving width). */
  concurrency?: number;
  /**
   * Addresses to draw from instead of the built-in spread, so the traffic matches a cluster
   * (the replay benchmark uses the generated cluster's pods). IPv4 only; `name` keys the cache.
   */
  pools?: AddressPools;
}

export interface AddressPools {
  name: string;
  /** Client addresses (pods, nodes, outside hosts). */
  clients: string[];
  /** Servers with the ports they listen on. */
  servers: Array<{ ip: string; ports: number[] }>;
  /** The DNS server's address (queries go to port 53). */
  dns: string;
}

export interface GeneratedCapture {
  path: string;
  packets: number;
  bytes: number;
  /** Whether this call wrote the file (false: reused from the cache). */
  generated: boolean;
}

/** Returns the cached capture for these options, generating it first if needed. */
export function ensureCapture(options: GenOptions = {}): GeneratedCapture {
  const packets = options.packets ?? 1_000_000;
  const seed = options.seed ?? 1;
  const concurrency = options.concurrency ?? 2000;
  mkdirSync(CACHE_DIR, { recursive: true });
  const pools = options.pools;
  // The name carries a digest of what the bytes depend on besides the numbers: the pools'
  // addresses and this generator's source. A cached file from an older generator or another
  // cluster's pools was once reused silently (the replay benchmark's gate then counted a
  // different traffic's drops), since neither showed in the name.
  const digest = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).update(JSON.stringify(pools ?? null)).digest('hex').slice(0, 12);
  const poolTag = pools ? `-${pools.name}` : '';
  const path = join(CACHE_DIR, `traffic-v${GENERATOR_VERSION}-${packets}-s${seed}-c${concurrency}${poolTag}-${digest}.pcap`);
  if (existsSync(path)) return { path, packets, bytes: statSync(path).size, generated: false };
  const tmp = `${path}.${process.pid}.tmp`;
  writeTraffic(tmp, packets, seed, concurrency, pools ? compilePools(pools) : undefined);
  renameSync(tmp, path);
  return { path, packets, bytes: statSync(path).size, generated: true };
}

// --- deterministic randomness (xorshift32: fast, and the same stream on every machine)
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed * 2654435761) >>> 0 || 1;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
}

const Kind = { TCP: 0, DNS: 1, UDP: 2, ICMP: 3 } as const;

/** One conversation in progress: its addresses, ports, and the script of packets left. */
interface Conn {
  kind: number;
  v6: boolean;
  vlan: number; // -1 = untagged
  cli: Uint8Array; // 4 or 16 bytes
  srv: Uint8Array;
  cport: number;
  sport: number;
  cseq: number;
  sseq: number;
  step: number;
  /** Request/response exchanges left (TCP), or packets left (UDP/ICMP). */
  left: number;
  icmpId: number;
}

const MSS = 1448;

/** Payload sizes: many small segments, a fifth full-size (bulk), the rest in between. */
function payloadSize(r: Rng): number {
  const p = r.int(100);
  if (p < 45) return 20 + r.int(180);
  if (p < 80) return 200 + r.int(800);
  return MSS;
}

function v4(a: number, b: number, c: number, d: number): Uint8Array {
  return Uint8Array.of(a, b, c, d);
}

/** Client addresses: anywhere in 10.0.0.0/8 (pods across thousands of /24s). */
function clientAddr(r: Rng, v6: boolean): Uint8Array {
  if (v6) {
    const a = new Uint8Array(16);
    a[0] = 0xfd;
    a[1] = 0x00;
    for (let i = 2; i < 16; i++) a[i] = r.int(256);
    return a;
  }
  return v4(10, r.int(256), r.int(256), 1 + r.int(254));
}

/** Servers: pods, ClusterIP services, nodes and public addresses, ~6,000 distinct. */
function serverAddr(r: Rng, v6: boolean): Uint8Array {
  const n = r.int(6000);
  if (v6) {
    const a = new Uint8Array(16);
    a[0] = n % 3 === 0 ? 0x20 : 0xfd;
    a[1] = n % 3 === 0 ? 0x01 : 0x00;
    a[12] = (n >> 8) & 0xff;
    a[15] = n & 0xff;
    return a;
  }
  switch (n % 4) {
    case 0:
      return v4(10, 96 + ((n >> 8) & 15), n & 0xff, 10); // services
    case 1:
      return v4(172, 16 + ((n >> 8) & 15), n & 0xff, 5); // nodes
    case 2:
      return v4(10, (n * 7) & 0xff, (n >> 4) & 0xff, 20 + (n & 0x3f)); // pods
    default:
      return v4(34 + (n & 63), (n * 13) & 0xff, (n >> 3) & 0xff, 1 + (n & 0x7f)); // public
  }
}

const WELL_KNOWN = [80, 443, 8080, 5432, 6379, 9090, 3306, 8443, 27017, 9092];

interface CompiledPools {
  clients: Uint8Array[];
  servers: Array<{ ip: Uint8Array; ports: number[] }>;
  dns: Uint8Array;
}

function ip4Bytes(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((x) => !(x >= 0 && x <= 255))) throw new Error(`gen-capture: not an IPv4 address: ${text}`);
  return Uint8Array.from(parts);
}

function compilePools(p: AddressPools): CompiledPools {
  return { clients: p.clients.map(ip4Bytes), servers: p.servers.map((s) => ({ ip: ip4Bytes(s.ip), ports: s.ports })), dns: ip4Bytes(p.dns) };
}

/** A conversation between pool addresses (IPv4): same shapes and mix as the built-in traffic. */
function newPoolConn(r: Rng, pools: CompiledPools): Conn {
  const c = newConn(r);
  c.v6 = false;
  c.cli = pools.clients[r.int(pools.clients.length)]!;
  if (c.kind === Kind.DNS) c.srv = pools.dns;
  else {
    const s = pools.servers[r.int(pools.servers.length)]!;
    c.srv = s.ip;
    if (c.kind === Kind.TCP || c.kind === Kind.UDP) c.sport = s.ports[r.int(s.ports.length)]!;
  }
  return c;
}

function newConn(r: Rng): Conn {
  const v6 = r.chance(0.12);
  const p = r.int(100);
  const kind = p < 70 ? Kind.TCP : p < 85 ? Kind.DNS : p < 95 ? Kind.UDP : Kind.ICMP;
  return {
    kind,
    v6,
    vlan: r.chance(0.05) ? 1 + r.int(4094) : -1,
    cli: clientAddr(r, v6),
    srv: kind === Kind.DNS ? (v6 ? Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a) : v4(10, 96, 0, 10)) : serverAddr(r, v6),
    cport: 32768 + r.int(28232),
    sport: kind === Kind.DNS ? 53 : kind === Kind.UDP ? 1024 + r.int(60000) : WELL_KNOWN[r.int(WELL_KNOWN.length)]!,
    cseq: r.u32(),
    sseq: r.u32(),
    step: 0,
    left: kind === Kind.TCP ? 1 + r.int(4) : kind === Kind.DNS ? 2 : kind === Kind.UDP ? 1 + r.int(6) : 2 * (1 + r.int(3)),
    icmpId: r.int(65536),
  };
}

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;

/** Builds packets into one reusable buffer. */
class PacketBuilder {
  readonly buf = new Uint8Array(2048);
  private readonly dv = new DataView(this.buf.buffer);
  len = 0;
  /** Offset of the L4 header of the packet being built. */
  private l4 = 0;

  /**
   * Fills the L4 checksum at l4 + ckOff (RFC 1071 over the pseudo-header and segment; ICMPv4
   * has no pseudo-header), so `tcpdump -v` finds nothing wrong with the traffic.
   */
  private checksum(c: Conn, fromClient: boolean, proto: number, ckOff: number): void {
    const b = this.buf;
    const start = this.l4;
    const end = this.len;
    const n = end - start;
    b[start + ckOff] = 0;
    b[start + ckOff + 1] = 0;
    let sum = 0;
    if (proto !== 1) {
      const src = fromClient ? c.cli : c.srv;
      const dst = fromClient ? c.srv : c.cli;
      for (let i = 0; i < src.length; i += 2) sum += (src[i]! << 8) | src[i + 1]!;
      for (let i = 0; i < dst.length; i += 2) sum += (dst[i]! << 8) | dst[i + 1]!;
      sum += proto + n;
    }
    for (let i = start; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (n & 1) sum += b[end - 1]! << 8;
    while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
    let ck = ~sum & 0xffff;
    if (ck === 0 && proto === 17) ck = 0xffff; // UDP: 0 means "no checksum"
    b[start + ckOff] = ck >> 8;
    b[start + ckOff + 1] = ck & 0xff;
  }

  /** Ethernet (+ VLAN) + IP header; returns the L4 offset. */
  private l3(c: Conn, fromClient: boolean, proto: number, l4len: number): number {
    const b = this.buf;
    const dv = this.dv;
    // MACs: derived from the addresses so flows look consistent.
    const src = fromClient ? c.cli : c.srv;
    const dst = fromClient ? c.srv : c.cli;
    b[0] = 0x02; b[1] = 0; b[2] = dst[dst.length - 4]!; b[3] = dst[dst.length - 3]!; b[4] = dst[dst.length - 2]!; b[5] = dst[dst.length - 1]!;
    b[6] = 0x02; b[7] = 1; b[8] = src[src.length - 4]!; b[9] = src[src.length - 3]!; b[10] = src[src.length - 2]!; b[11] = src[src.length - 1]!;
    let o = 12;
    if (c.vlan >= 0) {
      dv.setUint16(o, 0x8100);
      dv.setUint16(o + 2, c.vlan);
      o += 4;
    }
    if (c.v6) {
      dv.setUint16(o, 0x86dd);
      o += 2;
      dv.setUint32(o, 0x60000000);
      dv.setUint16(o + 4, l4len);
      b[o + 6] = proto;
      b[o + 7] = 64;
      b.set(src, o + 8);
      b.set(dst, o + 24);
      this.l4 = o + 40;
      return o + 40;
    }
    dv.setUint16(o, 0x0800);
    o += 2;
    b[o] = 0x45;
    b[o + 1] = 0;
    dv.setUint16(o + 2, 20 + l4len);
    dv.setUint16(o + 4, (c.cport * 31 + c.step) & 0xffff);
    dv.setUint16(o + 6, 0x4000);
    b[o + 8] = 64;
    b[o + 9] = proto;
    dv.setUint16(o + 10, 0);
    b.set(src, o + 12);
    b.set(dst, o + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += dv.getUint16(o + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    dv.setUint16(o + 10, ~sum & 0xffff);
    this.l4 = o + 20;
    return o + 20;
  }

  tcp(c: Conn, fromClient: boolean, flags: number, payload: number): void {
    const opt = flags & TCP_SYN ? 4 : 0;
    const o = this.l3(c, fromClient, 6, 20 + opt + payload);
    const dv = this.dv;
    dv.setUint16(o, fromClient ? c.cport : c.sport);
    dv.setUint16(o + 2, fromClient ? c.sport : c.cport);
    dv.setUint32(o + 4, fromClient ? c.cseq : c.sseq);
    dv.setUint32(o + 8, flags & TCP_ACK ? (fromClient ? c.sseq : c.cseq) : 0);
    this.buf[o + 12] = ((20 + opt) / 4) << 4;
    this.buf[o + 13] = flags;
    dv.setUint16(o + 14, 64240);
    dv.setUint32(o + 16, 0);
    if (opt) dv.setUint32(o + 20, 0x020405b4); // MSS 1460
    this.fill(o + 20 + opt, payload);
    this.checksum(c, fromClient, 6, 16);
    const adv = payload + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    if (fromClient) c.cseq = (c.cseq + adv) >>> 0;
    else c.sseq = (c.sseq + adv) >>> 0;
  }

  udp(c: Conn, fromClient: boolean, payload: number): void {
    const o = this.l3(c, fromClient, 17, 8 + payload);
    const dv = this.dv;
    dv.setUint16(o, fromClient ? c.cport : c.sport);
    dv.setUint16(o + 2, fromClient ? c.sport : c.cport);
    dv.setUint16(o + 4, 8 + payload);
    dv.setUint16(o + 6, 0);
    this.fill(o + 8, payload);
    this.checksum(c, fromClient, 17, 6);
  }

  /**
   * A DNS query for `svc-N.ns-M.svc.cluster.local` (A or AAAA) and its answer with one
   * record (TTL 30), as a pod's resolver and CoreDNS exchange them.
   */
  dns(c: Conn, query: boolean): void {
    const name = `svc-${c.icmpId % 500}.ns-${c.icmpId % 37}.svc.cluster.local`;
    const labels = name.split('.');
    let qlen = 1;
    for (const l of labels) qlen += 1 + l.length;
    const aaaa = c.v6;
    const rdlen = aaaa ? 16 : 4;
    const payload = 12 + qlen + 4 + (query ? 0 : 12 + rdlen);
    const o0 = this.l3(c, query, 17, 8 + payload);
    const dv = this.dv;
    const b = this.buf;
    dv.setUint16(o0, query ? c.cport : c.sport);
    dv.setUint16(o0 + 2, query ? c.sport : c.cport);
    dv.setUint16(o0 + 4, 8 + payload);
    dv.setUint16(o0 + 6, 0);
    let o = o0 + 8;
    dv.setUint16(o, c.icmpId); // transaction id
    dv.setUint16(o + 2, query ? 0x0100 : 0x8180); // RD / QR RD RA
    dv.setUint16(o + 4, 1);
    dv.setUint16(o + 6, query ? 0 : 1);
    dv.setUint32(o + 8, 0);
    o += 12;
    for (const l of labels) {
      b[o++] = l.length;
      for (let i = 0; i < l.length; i++) b[o++] = l.charCodeAt(i);
    }
    b[o++] = 0;
    dv.setUint16(o, aaaa ? 28 : 1);
    dv.setUint16(o + 2, 1);
    o += 4;
    if (!query) {
      dv.setUint16(o, 0xc00c); // pointer to the question name
      dv.setUint16(o + 2, aaaa ? 28 : 1);
      dv.setUint16(o + 4, 1);
      dv.setUint32(o + 6, 30);
      dv.setUint16(o + 10, rdlen);
      o += 12;
      if (aaaa) {
        b.fill(0, o, o + 16);
        b[o] = 0xfd;
        b[o + 14] = (c.icmpId >> 8) & 0xff;
        b[o + 15] = c.icmpId & 0xff;
      } else {
        b[o] = 10;
        b[o + 1] = 96 + (c.icmpId % 16);
        b[o + 2] = (c.icmpId >> 4) & 0xff;
        b[o + 3] = 10;
      }
      o += rdlen;
    }
    this.len = o;
    this.checksum(c, query, 17, 6);
  }

  icmpEcho(c: Conn, fromClient: boolean, seq: number): void {
    const o = this.l3(c, fromClient, c.v6 ? 58 : 1, 64);
    const type = c.v6 ? (fromClient ? 128 : 129) : fromClient ? 8 : 0;
    this.buf[o] = type;
    this.buf[o + 1] = 0;
    this.dv.setUint16(o + 2, 0);
    this.dv.setUint16(o + 4, c.icmpId);
    this.dv.setUint16(o + 6, seq);
    this.fill(o + 8, 56);
    this.checksum(c, fromClient, c.v6 ? 58 : 1, 2);
  }

  private fill(from: number, n: number): void {
    const b = this.buf;
    for (let i = 0; i < n; i++) b[from + i] = (from + i) & 0xff;
    this.len = from + n;
  }
}

/** Emits the next packet of `c` into `pb`; returns false when the conversation is over. */
function step(c: Conn, pb: PacketBuilder, r: Rng): boolean {
  const s = c.step++;
  switch (c.kind) {
    case Kind.TCP: {
      // SYN, SYN-ACK, ACK, then per exchange: request, ACK, response segments, ACK; then FINs.
      if (s === 0) pb.tcp(c, true, TCP_SYN, 0);
      else if (s === 1) pb.tcp(c, false, TCP_SYN | TCP_ACK, 0);
      else if (s === 2) pb.tcp(c, true, TCP_ACK, 0);
      else if (c.left > 0) {
        const phase = (s - 3) % 4;
        if (phase === 0) pb.tcp(c, true, TCP_PSH | TCP_ACK, payloadSize(r) >> 1);
        else if (phase === 1) pb.tcp(c, false, TCP_ACK, 0);
        else if (phase === 2) pb.tcp(c, false, TCP_PSH | TCP_ACK, payloadSize(r));
        else {
          pb.tcp(c, true, TCP_ACK, 0);
          c.left--;
        }
      } else {
        // Teardown: client FIN, server FIN, last ACK (`left` counts down past zero).
        if (c.left === 0) {
          pb.tcp(c, true, TCP_FIN | TCP_ACK, 0);
          c.left = -1;
        } else if (c.left === -1) {
          pb.tcp(c, false, TCP_FIN | TCP_ACK, 0);
          c.left = -2;
        } else {
          pb.tcp(c, true, TCP_ACK, 0);
          return false;
        }
      }
      return true;
    }
    case Kind.DNS:
      pb.dns(c, s === 0);
      return s < 1;
    case Kind.UDP:
      pb.udp(c, r.chance(0.6), 40 + r.int(900));
      return --c.left > 0;
    default:
      pb.icmpEcho(c, s % 2 === 0, s >> 1);
      return --c.left > 0;
  }
}

function writeTraffic(path: string, packets: number, seed: number, concurrency: number, pools?: CompiledPools): void {
  const r = new Rng(seed);
  const fd = openSync(path, 'w');
  try {
    const enc = new PcapEncoder({ bufferSize: 4 << 20 }, (bytes) => {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    });
    const fresh = (): Conn => (pools ? newPoolConn(r, pools) : newConn(r));
    const open: Conn[] = Array.from({ length: concurrency }, fresh);
    const pb = new PacketBuilder();
    let sec = 1_732_240_000;
    let usec = 0;
    for (let i = 0; i < packets; i++) {
      const k = r.int(concurrency);
      const c = open[k]!;
      const more = step(c, pb, r);
      if (!more) open[k] = fresh();
      // Inter-arrival ~ 5 us on average, bursty.
      usec += r.chance(0.9) ? r.int(4) : r.int(80);
      if (usec >= 1_000_000) {
        sec++;
        usec -= 1_000_000;
      }
      enc.writeRecord(pb.buf, 0, pb.len, pb.len, sec, usec * 1000);
    }
    enc.flush();
  } finally {
    closeSync(fd);
  }
}

// `npx tsx bench/lib/gen-capture.ts [packets]` generates (or finds) the file and prints its path.
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined;
  const t = process.hrtime.bigint();
  const g = ensureCapture(n ? { packets: n } : {});
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(`${g.path}: ${g.packets} packets, ${(g.bytes / 1e6).toFixed(1)} MB (${g.generated ? `generated in ${ms.toFixed(0)} ms` : 'cached'})`);
}
