/**
 * Differential: the native fast path's duplicate suppression (native/fastpath/dedup.cc
 * DedupIsDuplicate, through exports.fastpathTesting.dedupBind) decides exactly as
 * src/datapath/dedup.ts Deduplicator.isDuplicate and writes exactly the same state.
 *
 * Two Deduplicators see the same packets: `ref`, pure TypeScript, and `twin`, for which each
 * fast-eligible packet (test/helpers/fast-packet.ts isFastEligible) is decided either by the
 * native code, working on twin's own arrays and a scalar block, or by TypeScript, chosen at
 * random (fixed seeds) in runs, the scalars handed over at each switch (saveScalars before the
 * native code takes over, loadScalars when TypeScript does). Every decision, the duplicate
 * counts, and at the end every array word and scalar must be equal.
 *
 * Streams: every capture of pcaps/ (and of ../shared/captures when it is there) read by the
 * project's reader (frames inside its chunks, pcapng interfaces), and synthetic streams of real
 * eligible packets copied at 2-4 observation points (SLL2 interface index and packet type,
 * pcapng interface, VLAN tag) with jittered times inside and outside the window, clock steps
 * back, routed copies (TTL), changed checksums, changed content, snaplen cuts, retransmissions
 * and clear(), under the Deduplicator's internal test options (no fast path, small rings that
 * spill, a bucket or a few). Counters measured around the native calls prove that every branch
 * ran natively (pending rows, flushes, spills, duplicates, stores after a hash hit, evictions of
 * a full bucket and ties among its oldest ways).
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkType, type Frame } from '../../src/capture/frame.js';
import { openCapture } from '../../src/capture/open.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket, EtherType, PacketKind } from '../../src/decode/packet.js';
import { DEDUP_SCALAR_WORDS, DEFAULT_DEDUP_CAPACITY, DEFAULT_DEDUP_WINDOW_NS, Deduplicator, type DedupFrameView } from '../../src/datapath/dedup.js';
import { ethernet, frameOf, sll2 } from '../helpers/decode-build.js';
import { isFastEligible, packDecodedPacket, PACKED_WORDS } from '../helpers/fast-packet.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';

/** native/fastpath/dedup_testing.cc. */
type NativeIsDuplicate = (packed: Int32Array, frame: Uint8Array, frameOffset: number, tsSec: number, tsNsec: number, interfaceId: number) => boolean;
interface DedupTesting {
  dedupBind(
    headers: Int32Array,
    rows: Int32Array,
    links: Int32Array,
    bucketMask: number,
    ringRows: number,
    pendingLimit: number,
    windowNs: number,
    block: Float64Array,
    at: number,
  ): NativeIsDuplicate;
  dedupScalarWords: number;
}

function testing(): DedupTesting {
  return nativeOrFail().fastpathTesting as unknown as DedupTesting;
}

interface DedupOptions {
  windowNs?: number;
  capacity?: number;
  fastPath?: boolean;
  ringRows?: number;
}

const make = (o: DedupOptions) => new Deduplicator(o.windowNs ?? DEFAULT_DEDUP_WINDOW_NS, o.capacity ?? DEFAULT_DEDUP_CAPACITY, o.fastPath ?? true, o.ringRows);
const describeOptions = (o: DedupOptions) => JSON.stringify(o);

/** What ran natively (measured around the native calls, from the arrays and the block). */
class Coverage {
  packets = 0;
  native = 0;
  nativeDups = 0;
  /** Kept as a pending row (the fast path stayed on). */
  pending = 0;
  /** ... and pending rows more than two windows old were dropped. */
  expired = 0;
  /** The fast path ended in a native call. */
  flushes = 0;
  /** The cursor's ring row was linked: it moved to its way's spill row. */
  spills = 0;
  /** Remembered in a way that held the same hash (probeHit's store). */
  hitStores = 0;
  /** Remembered in a full bucket without the hash: a way replaced. */
  evictions = 0;
  /** ... when several ways were the oldest (the tie-break by hash). */
  ties = 0;

  add(o: Coverage): void {
    for (const k of Object.keys(this) as Array<keyof Coverage>) if (typeof this[k] === 'number') (this[k] as number) += o[k] as number;
  }
}

/** Equal arrays, or a failure naming the first difference. */
function sameWords(name: string, a: Int32Array | Float64Array, b: Int32Array | Float64Array, context: string): void {
  expect(b.length, `${context}: ${name} length`).toBe(a.length);
  if (Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) return;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) expect(`${name}[${i}] = ${b[i]}`, context).toBe(`${name}[${i}] = ${a[i]}`);
  }
}

/** Where the scalars sit in the block. */
const AT = 3;
const GUARD = 12345.5;

/** ref and twin side by side (see the module comment). */
class Differential {
  readonly ref: Deduplicator;
  readonly twin: Deduplicator;
  readonly cov = new Coverage();
  /** The scalars at AT, guard words around them (the native code must not write there). */
  private readonly block = new Float64Array(AT + DEDUP_SCALAR_WORDS + 2).fill(GUARD);
  private readonly native: NativeIsDuplicate;
  private readonly packed = new Int32Array(PACKED_WORDS);
  private readonly links: Int32Array;
  private readonly headers: Int32Array;
  /** The headers before a native call (small tables only), to tell what the call did. */
  private readonly before: Int32Array | undefined;
  private nativeOwns = false;
  private count = 0;

  constructor(
    readonly options: DedupOptions,
    private readonly random: () => number,
    /** Chance that a run of eligible packets goes native, and of switching after each. */
    private readonly nativeShare = 0.5,
    private readonly switchChance = 0.3,
  ) {
    this.ref = make(options);
    this.twin = make(options);
    const v = this.twin.nativeView();
    this.native = testing().dedupBind(v.headers, v.rows, v.links, v.bucketMask, v.ringRows, v.pendingLimit, v.windowNs, this.block, AT);
    this.links = v.links;
    this.headers = v.headers;
    this.before = v.headers.length <= 4096 ? new Int32Array(v.headers.length) : undefined;
    this.own(this.random() / 2 ** 32 < this.nativeShare);
  }

  step(p: DecodedPacket, tsSec: number, tsNsec: number, frame: DedupFrameView, label: string): void {
    const index = this.count++;
    this.cov.packets++;
    const expected = this.ref.isDuplicate(p, tsSec, tsNsec, frame);
    if (this.random() / 2 ** 32 < this.switchChance) this.own(this.random() / 2 ** 32 < this.nativeShare);
    let got: boolean;
    const decidedNatively = this.nativeOwns && isFastEligible(p);
    if (decidedNatively) got = this.nativeStep(p, tsSec, tsNsec, frame);
    else {
      this.own(false);
      got = this.twin.isDuplicate(p, tsSec, tsNsec, frame);
    }
    if (got !== expected) expect(got, `${label}: packet ${index} (${describeOptions(this.options)}): decided by ${decidedNatively ? 'native' : 'TypeScript'}`).toBe(expected);
  }

  /** clear() on both (TypeScript's). */
  clear(): void {
    this.own(false);
    this.ref.clear();
    this.twin.clear();
  }

  /** Hands the scalars over: to the native side (true) or back to TypeScript. */
  private own(native: boolean): void {
    if (native === this.nativeOwns) return;
    if (native) this.twin.saveScalars(this.block, AT);
    else this.twin.loadScalars(this.block, AT);
    this.nativeOwns = native;
  }

  private nativeStep(p: DecodedPacket, tsSec: number, tsNsec: number, frame: DedupFrameView): boolean {
    const b = this.block;
    const cov = this.cov;
    const single = b[AT + 1] !== 0;
    const cursor = b[AT]!;
    const pendingCount = b[AT + 5]!;
    if (!single && this.links[cursor] !== 0) cov.spills++;
    this.before?.set(this.headers);
    const offset = frame.offset ?? 0;
    packDecodedPacket(p, offset, this.packed);
    const dup = this.native(this.packed, frame.data, offset, tsSec, tsNsec, frame.interfaceId ?? 0);
    cov.native++;
    if (dup) cov.nativeDups++;
    const singleAfter = b[AT + 1] !== 0;
    if (single && singleAfter) {
      cov.pending++;
      if (b[AT + 5]! < pendingCount + 1) cov.expired++;
    }
    if (single && !singleAfter) cov.flushes++;
    if (!single && !dup && this.before !== undefined) this.classify(cursor, tsSec - b[AT + 8]!, tsNsec);
    return dup;
  }

  /** Which way the packet just remembered in ring row `row` went to, and why (see Coverage). */
  private classify(row: number, sec: number, nsec: number): void {
    const before = this.before!;
    const slot = this.links[row]! - 1;
    expect(slot).toBeGreaterThanOrEqual(0);
    const o = (slot >>> 2) * 16;
    const h = this.headers[o + (slot & 3)]!;
    const hashes = [0, 1, 2, 3].map((w) => before[o + w]!);
    if (hashes.includes(h)) this.cov.hitStores++;
    else if (hashes.every((x) => x !== 0)) {
      this.cov.evictions++;
      const ages = [0, 1, 2, 3].map((w) => Math.max(0, (sec - before[o + 4 + w]!) * 1e9 + (nsec - before[o + 8 + w]!)));
      const oldest = Math.max(...ages);
      if (ages.filter((a) => a === oldest).length > 1) this.cov.ties++;
    }
  }

  /** Every word of both Deduplicators' state is the same; the guard words are untouched. */
  finish(label: string): Coverage {
    this.own(false);
    const context = `${label} (${describeOptions(this.options)})`;
    expect(this.twin.duplicates, context).toBe(this.ref.duplicates);
    const a = this.ref.nativeView();
    const b = this.twin.nativeView();
    expect([b.bucketMask, b.ringRows, b.pendingLimit, b.windowNs]).toEqual([a.bucketMask, a.ringRows, a.pendingLimit, a.windowNs]);
    sameWords('headers', a.headers, b.headers, context);
    sameWords('rows', a.rows, b.rows, context);
    sameWords('links', a.links, b.links, context);
    const sa = new Float64Array(DEDUP_SCALAR_WORDS);
    const sb = new Float64Array(DEDUP_SCALAR_WORDS);
    this.ref.saveScalars(sa, 0);
    this.twin.saveScalars(sb, 0);
    sameWords('scalars', sa, sb, context);
    for (let i = 0; i < this.block.length; i++) if (i < AT || i >= AT + DEDUP_SCALAR_WORDS) expect(this.block[i], `${context}: block guard ${i}`).toBe(GUARD);
    return this.cov;
  }
}


// --- real captures

const PCAPS = resolve(import.meta.dirname, '../../pcaps');
const SHARED = resolve(import.meta.dirname, '../../../shared/captures');

function captureFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = resolve(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (/\.pcap(ng)?$/.test(e.name)) out.push(path);
    }
  };
  walk(PCAPS);
  walk(SHARED);
  return out.sort();
}

/** Runs a capture through a Differential, frames as the reader hands them over (chunk offsets, pcapng interfaces). */
async function runCapture(path: string, options: DedupOptions, seed: number, share = 0.5): Promise<Coverage> {
  const d = new Differential(options, rng(seed), share);
  const p = new DecodedPacket();
  await openCapture(path).run((f: Frame) => {
    decodeFrame(f, p);
    d.step(p, f.tsSec, f.tsNsec, f, path);
  });
  return d.finish(path);
}

const CAPTURE_OPTIONS: DedupOptions[] = [{}, { capacity: 1024, fastPath: false }, { capacity: 16, ringRows: 4 }, { capacity: 8, fastPath: false, ringRows: 2 }, { capacity: 64, ringRows: 8, windowNs: 2_000_000 }];

// --- synthetic streams

/** An observation point: an SLL2 device (interface index, packet type) or an Ethernet one (VLAN tag or none), and a pcapng interface. */
interface Point {
  sll2?: { ifIndex: number; packetType: number };
  vlan?: number;
  iface: number;
}

const POINTS: Point[] = [
  { sll2: { ifIndex: 5, packetType: 0 }, iface: 0 },
  { sll2: { ifIndex: 4, packetType: 4 }, iface: 0 },
  { sll2: { ifIndex: 3, packetType: 4 }, iface: 0 },
  { sll2: { ifIndex: 5, packetType: 0 }, iface: 2 },
  { sll2: { ifIndex: 0xfffffffe, packetType: 3 }, iface: 7 },
  { iface: 0 },
  { vlan: 42, iface: 0 },
  { vlan: 4095, iface: 0 },
  { iface: 1 },
  { iface: 0x7fffffff },
];

/** A real fast-eligible packet: its IP bytes (as captured) and where its transport header starts in them. */
interface Pooled {
  ip: Uint8Array;
  version: number;
  kind: number;
  l4: number;
}

/** A frame of another kind (not fast-eligible), as captured. */
interface Raw {
  data: Uint8Array;
  linkType: number;
}

async function packetPool(): Promise<{ pool: Pooled[]; raws: Raw[] }> {
  const pool: Pooled[] = [];
  const raws: Raw[] = [];
  const p = new DecodedPacket();
  for (const path of captureFiles()) {
    await openCapture(path).run((f) => {
      decodeFrame(f, p);
      if (isFastEligible(p)) pool.push({ ip: f.data.slice(p.l3Offset, p.captureEnd), version: p.ipVersion, kind: p.kind, l4: p.l4Offset - p.l3Offset });
      else raws.push({ data: f.data.slice(f.offset, f.offset + f.caplen), linkType: f.linkType });
    });
  }
  return { pool, raws };
}

interface StreamEvent {
  frame?: Frame;
  ns: number;
  clear?: boolean;
}

/** `ip` seen at `point`, at `offset` in a chunk of junk, `caplen` bytes of it captured. */
function frameAt(ip: Uint8Array, version: number, point: Point, offset: number, cut?: number): Frame {
  const type = version === 4 ? EtherType.IPV4 : EtherType.IPV6;
  const bytes = point.sll2 ? sll2(type, ip, point.sll2) : ethernet(type, ip, point.vlan === undefined ? {} : { vlans: [{ id: point.vlan }] });
  const header = bytes.length - ip.length;
  const f = frameOf(bytes, point.sll2 ? LinkType.LINUX_SLL2 : LinkType.ETHERNET, { offsetInChunk: offset, caplen: cut === undefined ? undefined : Math.min(bytes.length, header + cut) });
  f.interfaceId = point.iface;
  return f;
}

/**
 * A synthetic stream: stretches at one point (the fast path: pending rows, retransmissions),
 * then originals copied at 2-4 points with copies' times jittered around the original's
 * (same time, inside, at and beyond the window, before it), copies changed in what does not
 * count (TTL, transport checksum) or in what does (content, captured length), clock steps
 * forward and back, other frames, and clear() now and then (a new fast path).
 */
function syntheticStream(pool: Pooled[], raws: Raw[], n: number, windowNs: number, seed: number): StreamEvent[] {
  const next = rng(seed);
  const r = () => next() / 2 ** 32;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const w = windowNs > 0 ? windowNs : DEFAULT_DEDUP_WINDOW_NS;
  const events: StreamEvent[] = [];
  let ns = 50_000_000;
  let single = 20 + Math.floor(r() * 300);
  let first = pick(POINTS);
  const recent: Pooled[] = [];
  while (events.length < n) {
    // The clock; at one point, never back by more than a window (which would end the fast path).
    const c = r();
    if (single > 0 && c >= 0.85) ns += Math.floor((r() - 0.5) * w);
    else if (c < 0.15) ns += 0;
    else if (c < 0.75) ns += Math.floor(r() * 0.2 * w);
    else if (c < 0.85) ns += Math.floor(w + r() * 2 * w);
    else if (c < 0.93) ns -= Math.floor(r() * 1.5 * w);
    else if (c < 0.97) ns += 1e9 + Math.floor(r() * w);
    else ns -= Math.floor(r() * 3e9);
    if (single === 0 && r() < 0.04) {
      const raw = pick(raws);
      const f = frameOf(raw.data, raw.linkType, { offsetInChunk: Math.floor(r() * 8) });
      f.interfaceId = r() < 0.5 ? 0 : 1;
      events.push({ frame: f, ns });
      continue;
    }
    if (r() < 0.004) {
      events.push({ ns, clear: true });
      single = 10 + Math.floor(r() * 200);
      first = pick(POINTS);
      continue;
    }
    // The original: a new packet, or one seen lately again (a retransmission, or at another point).
    const x = recent.length > 0 && r() < 0.2 ? pick(recent) : pick(pool);
    recent.push(x);
    if (recent.length > 64) recent.shift();
    if (single > 0) {
      single--;
      events.push({ frame: frameAt(x.ip, x.version, first, Math.floor(r() * 16)), ns });
      continue;
    }
    const points = [...POINTS].sort(() => r() - 0.5).slice(0, 2 + Math.floor(r() * 3));
    points.forEach((point, i) => {
      let t = ns;
      if (i > 0) {
        const j = r();
        if (j < 0.15) t = ns;
        else if (j < 0.6) t = ns + Math.floor(r() * w);
        else if (j < 0.7) t = ns + w;
        else if (j < 0.85) t = ns + Math.floor(w + r() * w);
        else t = ns - Math.floor(r() * w);
      }
      const ip = x.ip.slice();
      let cut: number | undefined;
      const m = r();
      const udpOrIcmp = x.kind !== PacketKind.TCP;
      if (i > 0 && m < 0.2) ip[x.version === 4 ? 8 : 7] = (ip[x.version === 4 ? 8 : 7]! - 1) & 0xff; // routed: TTL / hop limit
      else if (i > 0 && m < 0.3 && udpOrIcmp) ip[x.l4 + (x.kind === PacketKind.UDP ? 6 : 2)] ^= 0x5a; // checksum
      else if (i > 0 && m < 0.4 && ip.length > x.l4 + 8) ip[x.l4 + 8 + Math.floor(r() * (ip.length - x.l4 - 8))] ^= 1 + Math.floor(r() * 255); // content
      else if (i > 0 && m < 0.45 && ip.length > x.l4 + 24) cut = x.l4 + 20 + Math.floor(r() * (ip.length - x.l4 - 20)); // snaplen
      events.push({ frame: frameAt(ip, x.version, point, Math.floor(r() * 16), cut), ns: t });
    });
    // A retransmission at the first point, close in time.
    if (r() < 0.05) events.push({ frame: frameAt(x.ip, x.version, points[0]!, 0), ns: ns + Math.floor(r() * 0.5 * w) });
  }
  return events;
}

const T = 1_700_000_000;

function runStream(events: StreamEvent[], options: DedupOptions, seed: number, label: string, share = 0.5): Coverage {
  const d = new Differential(options, rng(seed), share);
  const p = new DecodedPacket();
  for (const ev of events) {
    if (ev.clear) {
      d.clear();
      continue;
    }
    const f = ev.frame!;
    decodeFrame(f, p);
    const sec = Math.floor(ev.ns / 1e9);
    d.step(p, T + sec, ev.ns - sec * 1e9, f, label);
  }
  return d.finish(label);
}

const STREAM_OPTIONS: DedupOptions[] = [
  {},
  { fastPath: false },
  { capacity: 16 },
  { capacity: 16, fastPath: false, ringRows: 4 },
  { capacity: 4, ringRows: 2 },
  { capacity: 4, fastPath: false, ringRows: 2 },
  { capacity: 64, ringRows: 8 },
  { capacity: 256, ringRows: 16, windowNs: 2_000_000 },
  { capacity: 8, ringRows: 4, windowNs: 1_500_000.5 },
  { capacity: 16, windowNs: 0 },
];

describe('native dedup (native/fastpath/dedup.cc) decides and writes as Deduplicator', () => {
  it('the test bindings are there', () => {
    const t = testing();
    expect(typeof t.dedupBind).toBe('function');
    expect(t.dedupScalarWords).toBe(DEDUP_SCALAR_WORDS);
  });

  it('every capture, frames as the reader hands them over', async () => {
    const files = captureFiles();
    expect(files.length).toBeGreaterThan(20);
    const total = new Coverage();
    let seed = 1;
    for (const path of files) {
      for (const options of CAPTURE_OPTIONS) total.add(await runCapture(path, options, seed++));
      // All native, then all TypeScript but for the handovers at the start.
      total.add(await runCapture(path, {}, seed++, 1));
    }
    // The node captures (-i any, SLL2) hold copies: found natively.
    for (const name of ['starwars-node-sll2.pcap', 'foundation-node-sll2.pcap']) {
      const cov = await runCapture(resolve(PCAPS, name), {}, 99, 1);
      expect(cov.native, name).toBeGreaterThan(100);
      expect(cov.nativeDups, name).toBeGreaterThan(40);
    }
    expect(total.nativeDups).toBeGreaterThan(100);
    expect(total.pending).toBeGreaterThan(500);
    expect(total.flushes).toBeGreaterThan(5);
  });

  it('synthetic copies at 2-4 points, every branch (fast path, flush, spill, hit, eviction, tie)', async () => {
    const { pool, raws } = await packetPool();
    expect(pool.length).toBeGreaterThan(1000);
    expect(raws.length).toBeGreaterThan(20);
    // Kinds in the pool: TCP, UDP and ICMP echoes of both versions.
    for (const k of [PacketKind.TCP, PacketKind.UDP, PacketKind.ICMP, PacketKind.ICMPV6]) expect(pool.some((x) => x.kind === k)).toBe(true);
    const total = new Coverage();
    let seed = 1000;
    for (const options of STREAM_OPTIONS) {
      for (let s = 0; s < 2; s++) {
        const events = syntheticStream(pool, raws, 3000, options.windowNs ?? DEFAULT_DEDUP_WINDOW_NS, seed++);
        const cov = runStream(events, options, seed++, `stream ${s}`);
        expect(cov.native, describeOptions(options)).toBeGreaterThan(500);
        total.add(cov);
      }
    }
    expect(total.nativeDups).toBeGreaterThan(1000);
    expect(total.pending).toBeGreaterThan(500);
    expect(total.expired).toBeGreaterThan(20);
    expect(total.flushes).toBeGreaterThan(10);
    expect(total.spills).toBeGreaterThan(1000);
    expect(total.hitStores).toBeGreaterThan(100);
    expect(total.evictions).toBeGreaterThan(1000);
    expect(total.ties).toBeGreaterThan(50);
  });

  it('a full bucket whose other ways are ahead of the clock: the oldest way by hash, not the next one', async () => {
    // One bucket: A at t, B, C and D a little later, then E at t again. A, the way probe would
    // take next, is as old as the others count (an age ahead of the clock counts as 0), so the
    // lower hash decides (oldestWay), not probe's shortcut, which wants A strictly oldest.
    const { pool } = await packetPool();
    const next = rng(4242);
    const events: StreamEvent[] = [];
    let ns = 0;
    for (let round = 0; round < 300; round++) {
      ns += 10 * DEFAULT_DEDUP_WINDOW_NS;
      const xs = [0, 1, 2, 3, 4].map(() => pool[next() % pool.length]!);
      const at = (x: Pooled, t: number) => events.push({ frame: frameAt(x.ip, x.version, POINTS[0]!, 0), ns: t });
      at(xs[0]!, ns);
      for (const x of xs.slice(1, 4)) at(x, ns + 1000);
      at(xs[4]!, ns - (round % 3 === 0 ? 1 : 0));
      // And a copy of one of them at another point.
      const copy = xs[next() % 5]!;
      events.push({ frame: frameAt(copy.ip, copy.version, POINTS[1]!, 0), ns: ns + 2000 });
    }
    const cov = runStream(events, { capacity: 4, fastPath: false }, 1, 'ahead', 1);
    expect(cov.evictions).toBeGreaterThan(1000);
    expect(cov.ties).toBeGreaterThan(200);
  });

  it('handing over at every packet (native and TypeScript alternating)', async () => {
    const { pool, raws } = await packetPool();
    const events = syntheticStream(pool, raws, 4000, DEFAULT_DEDUP_WINDOW_NS, 77);
    for (const options of [{ capacity: 16, ringRows: 4 }, { fastPath: false, capacity: 8, ringRows: 2 }]) {
      const d = new Differential(options, rng(5), 0.5, 1);
      const p = new DecodedPacket();
      for (const ev of events) {
        if (ev.clear) d.clear();
        else {
          decodeFrame(ev.frame!, p);
          const sec = Math.floor(ev.ns / 1e9);
          d.step(p, T + sec, ev.ns - sec * 1e9, ev.frame!, 'alternating');
        }
      }
      const cov = d.finish('alternating');
      expect(cov.nativeDups).toBeGreaterThan(50);
    }
  });

  it('refuses arguments that do not fit (no wild reads)', () => {
    const t = testing();
    const d = new Deduplicator(DEFAULT_DEDUP_WINDOW_NS, 16, true, 4);
    const v = d.nativeView();
    const block = new Float64Array(DEDUP_SCALAR_WORDS);
    const bind = (o: Partial<Record<'headers' | 'rows' | 'links', unknown>> & { bucketMask?: unknown; ringRows?: unknown; pendingLimit?: unknown; windowNs?: unknown; block?: unknown; at?: unknown }) =>
      (t.dedupBind as unknown as (...a: unknown[]) => NativeIsDuplicate)(
        'headers' in o ? o.headers : v.headers,
        'rows' in o ? o.rows : v.rows,
        'links' in o ? o.links : v.links,
        'bucketMask' in o ? o.bucketMask : v.bucketMask,
        'ringRows' in o ? o.ringRows : v.ringRows,
        'pendingLimit' in o ? o.pendingLimit : v.pendingLimit,
        'windowNs' in o ? o.windowNs : v.windowNs,
        'block' in o ? o.block : block,
        'at' in o ? o.at : 0,
      );
    expect(typeof bind({})).toBe('function');
    expect(() => bind({ headers: new Uint32Array(v.headers.length) })).toThrow(TypeError);
    expect(() => bind({ rows: [] })).toThrow(TypeError);
    expect(() => bind({ block: new Float32Array(DEDUP_SCALAR_WORDS) })).toThrow(TypeError);
    expect(() => bind({ windowNs: '1' })).toThrow(TypeError);
    expect(() => bind({ headers: new Int32Array(v.headers.length - 1) })).toThrow(RangeError);
    expect(() => bind({ rows: new Int32Array(v.rows.length - 32) })).toThrow(RangeError);
    expect(() => bind({ links: new Int32Array(v.links.length * 2) })).toThrow(RangeError);
    expect(() => bind({ bucketMask: v.bucketMask + 1 })).toThrow(RangeError);
    expect(() => bind({ ringRows: 3 })).toThrow(RangeError);
    expect(() => bind({ ringRows: v.ringRows * 2 })).toThrow(RangeError);
    expect(() => bind({ pendingLimit: v.ringRows })).toThrow(RangeError);
    expect(() => bind({ windowNs: NaN })).toThrow(RangeError);
    expect(() => bind({ windowNs: -1 })).toThrow(RangeError);
    expect(() => bind({ at: 1 })).toThrow(RangeError);
    expect(() => bind({ at: 0.5, block: new Float64Array(20) })).toThrow(RangeError);

    const isDup = bind({}) as unknown as (...a: unknown[]) => boolean;
    d.saveScalars(block, 0);
    const f = frameAt(Uint8Array.from([0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 53, 0, 53, 0, 8, 0, 0]), 4, POINTS[0]!, 5);
    const p = new DecodedPacket();
    decodeFrame(f, p);
    expect(isFastEligible(p)).toBe(true);
    const packed = packDecodedPacket(p, f.offset);
    expect(isDup(packed, f.data, f.offset, T, 0, 0)).toBe(false);
    expect(() => isDup(packed.subarray(1), f.data, f.offset, T, 0, 0)).toThrow(TypeError);
    expect(() => isDup(packed, Array.from(f.data), f.offset, T, 0, 0)).toThrow(TypeError);
    expect(() => isDup(packed, f.data, f.offset, T, 0)).toThrow(TypeError);
    expect(() => isDup(packed, f.data, f.data.length + 1, T, 0, 0)).toThrow(RangeError);
    expect(() => isDup(packed, f.data, -1, T, 0, 0)).toThrow(RangeError);
    expect(() => isDup(packed, f.data, f.data.length - 10, T, 0, 0)).toThrow(RangeError); // captureLength past the end
    const long = packed.slice();
    long[PACKED_WORDS - 1] = f.data.length;
    expect(() => isDup(long, f.data, f.offset, T, 0, 0)).toThrow(RangeError);
    long[PACKED_WORDS - 1] = -1;
    expect(() => isDup(long, f.data, f.offset, T, 0, 0)).toThrow(RangeError);
  });
});
