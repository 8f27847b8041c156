/**
 * The native fast path of the replay (native/fastpath/): for the common packet — a later packet
 * of a tracked connection whose outcome is settled (an inherited drop, a reply, an allowed
 * established forward packet), and the first packet of a connection when nothing unusual is in
 * the way (no proxy redirect, no table that would grow or evict; not with --per-packet, --audit
 * or --expect) — the addon does what `Datapath.process` and the summary would, on their own
 * typed arrays, and the TypeScript program decides every other packet exactly as without it. A flow cache in front of the slow path, as Open vSwitch's kernel datapath sits in
 * front of ovs-vswitchd; Cilium's own datapath has no such split (every packet runs the BPF
 * program), so this is an implementation device with no semantics of its own: the replay's
 * results are identical with and without it (test/e2e/fast-path.test.ts replays every example
 * capture both ways, test/datapath/fast-path.test.ts generated traffic).
 *
 * Frames are decided in batches of BATCH, in capture order: the addon runs through a batch
 * until a frame it must leave to TypeScript, which decides that one, and so on. A batch ends
 * early when the reader moves to another chunk (the frames point into it).
 *
 * Used with the native backend when no flow is printed (`-o summary`, with or without `--expect`;
 * not with `--write-enforced`): the packets it finishes produce no FlowEvent. The summary counts
 * them on its arrays, and the expectation checker gets their number per connection (all that
 * their events would change there).
 *
 * Sharing: the addon holds pointers into the conntrack rows and index, the connection cache,
 * the duplicate table, the summary's records and the frontend filter (and a copy of the
 * frontends); whenever TypeScript may
 * have replaced one of those arrays (a table grew) the pointers are bound again before the
 * next native call. Scalars the TypeScript objects keep in fields live in `block` while the
 * native side runs: saved into it before a native call that follows TypeScript work (toNative),
 * loaded back before TypeScript works again (toTs).
 */
import { Frame, type PcapRecordLayout, type PcapRecordSink, type RecordsTaken } from '../capture/frame.js';
import { decodeFrame } from '../decode/decode.js';
import { DecodedPacket } from '../decode/packet.js';
import type { ExpectationChecker } from '../flow/expectations.js';
import { summaryArrayArgs, summaryNewArrayArgs, type FlowSummary } from '../flow/summary.js';
import type { Conntrack } from '../maps/conntrack.js';
import type { NativeModule, NativePolicySetHandle } from '../maps/native.js';
import type { ConnectionCache } from './conn-cache.js';
import type { Deduplicator } from './dedup.js';
import type { Datapath } from './program.js';
import { locateBindArgs, type DatapathState } from './state.js';

/** The block's words (native/fastpath/fastpath.cc kBlock*). */
const BLOCK_FRAMES = 0;
const BLOCK_IP_PACKETS = 1;
const BLOCK_DUPLICATES = 2;
const BLOCK_GENERATION = 3;
const BLOCK_NEXT_EXPIRY = 4;
const BLOCK_CT_EPOCH = 5;
const BLOCK_CT_SEQ = 6;
const BLOCK_ANSWER = 10;
const BLOCK_SCAN_END = 11;
const BLOCK_SCAN_BYTES = 12;
const BLOCK_DEDUP = 16;
const BLOCK_SUMMARY = 48;
const BLOCK_CT_CREATE = 64;
const BLOCK_WORDS = 96;
const CT_TABLES = 4;

/** The answer for a frame the addon left to TypeScript after duplicate suppression kept it. */
const FAST_SLOW_AFTER_DEDUP = 2;

/** scanPcap's flags (native/fastpath/fastpath.cc kScan*). */
const SCAN_LITTLE_ENDIAN = 1;
const SCAN_NANO = 2;

/** A frame descriptor's words (native/fastpath/fastpath.cc kDesc*), and frames per batch. */
const DESC_WORDS = 7;
const BATCH = 256;

interface FastPathApi {
  /** Frames [start, end) of the batch until one is left to TypeScript: its index (end: none). */
  run(start: number, end: number): number;
  setData(data: Uint8Array): void;
  /** A batch of descriptors from the classic pcap records in the chunk's [pos, end): how many (where they end and their bytes in the block). */
  scanPcap(pos: number, end: number, flags: number, recordHeaderLen: number, linkType: number): number;
  bindConntrack(
    i32: Int32Array,
    side: Int32Array,
    s0: Int32Array | null,
    s1: Int32Array | null,
    s2: Int32Array | null,
    s3: Int32Array | null,
    l0: number,
    l1: number,
    l2: number,
    l3: number,
    keyMask: number,
    lruResolutionMs: number,
    freeRows: Int32Array,
  ): void;
  bindConnCache(rows: Int32Array): void;
  bindFrontends(filter: Int32Array, table: Float64Array): void;
  bindExpect(counts: Float64Array): void;
  bindLocate(...args: ReturnType<typeof locateBindArgs>): void;
  /** null: unbinds (new connections then go to TypeScript). */
  bindPolicy(set: NativePolicySetHandle | null, ids: Uint32Array | null): void;
  bindDedup(headers: Int32Array, rows: Int32Array, links: Int32Array, bucketMask: number, ringRows: number, pendingLimit: number, windowNs: number): void;
  /** FlowSummary.nativeArrays in native/fastpath/summary_args.h order. */
  bindSummary(...args: Array<ArrayBufferView | number>): void;
}

type CreateFastPath = (block: Float64Array, desc: Float64Array, perPacket: boolean, hasL7: boolean, dedupOn: boolean, newConnections: boolean) => FastPathApi;

/** The L7 stage's part: when its per-packet tick next has work (ProxyStage.nextTickWork). */
export interface TickClock {
  readonly nextTickWork: number;
}

export class FastPath implements PcapRecordSink {
  private readonly block = new Float64Array(BLOCK_WORDS);
  /** The batch: a descriptor per frame of the current chunk not decided yet. */
  private readonly desc = new Float64Array(DESC_WORDS * BATCH);
  private count = 0;
  /** A frame left to TypeScript, rebuilt from its descriptor. */
  private readonly slowFrame = new Frame();
  private readonly pkt = new DecodedPacket();
  private readonly api: FastPathApi;
  private readonly ct: Conntrack;
  private readonly state: DatapathState;
  private readonly dedup: Deduplicator | undefined;
  private readonly connCache: ConnectionCache;
  /** Packets the addon finished (the rest went to the TypeScript program). */
  finished = 0;
  /** Packets the addon left to TypeScript after duplicate suppression kept them (processKept). */
  keptForTs = 0;
  /** The scalars are in `block` (the native side may run), not in the TypeScript fields. */
  private scalarsNative = false;
  private data: Uint8Array | undefined;
  // What the addon was last bound to.
  private boundCtRows: Int32Array | undefined;
  private boundCtSide: Int32Array | undefined;
  private boundFreeRows: Int32Array | undefined;
  /** New connections are decided natively (not with --per-packet, --audit or --expect). */
  private readonly newConnections: boolean;
  /** The policy maps bound for new connections (kept alive while bound), and at which generation. */
  private boundPolicy: { set: NativePolicySetHandle; ids: Uint32Array } | undefined;
  private boundPolicyGeneration = -1;
  private readonly boundSlots: Array<Int32Array | null> = [null, null, null, null];
  private readonly boundLru = [false, false, false, false];
  private boundConnRows: Int32Array | undefined;
  private boundExpect: Float64Array | undefined;
  private boundRecords: Int32Array | undefined;
  private boundPairPackets: Float64Array | undefined;
  private boundPairConnections: Float64Array | undefined;
  private boundPairBuckets: Int32Array | undefined;

  constructor(
    native: NativeModule,
    private readonly datapath: Datapath,
    private readonly summary: FlowSummary,
    private readonly tick: TickClock | undefined,
    private readonly expectations?: ExpectationChecker,
  ) {
    const create = (native as unknown as { createFastPath: CreateFastPath }).createFastPath;
    const parts = datapath.fastPathParts;
    this.ct = datapath.conntrack;
    this.state = datapath.state;
    this.dedup = parts.dedup;
    this.connCache = parts.connCache;
    // The first packets of connections make events the expectation checker would have to see,
    // and --per-packet and --audit decide them otherwise: those go to TypeScript.
    const locate = this.state.nativeLocateTables();
    this.newConnections = !parts.perPacket && !parts.audit && expectations === undefined && locate !== undefined;
    this.api = create(this.block, this.desc, parts.perPacket, tick !== undefined, parts.dedup !== undefined, this.newConnections);
    this.api.bindFrontends(this.state.frontendFilterWords, this.state.frontendTable());
    if (this.newConnections && locate !== undefined) this.api.bindLocate(...locateBindArgs(locate));
    if (parts.dedup !== undefined) {
      // The Deduplicator's arrays live as long as it does: bound once.
      const v = parts.dedup.nativeView();
      this.api.bindDedup(v.headers, v.rows, v.links, v.bucketMask, v.ringRows, v.pendingLimit, v.windowNs);
    }
  }

  /**
   * Takes one frame. Frames are decided in batches, in order: call `chunkDone` once the reader
   * is done with the chunk the frames point into (CaptureSource.run's second callback), and
   * `finish` at the end.
   */
  process(frame: Frame): void {
    if (frame.data !== this.data) this.useChunk(frame.data);
    const d = this.desc;
    const o = this.count * DESC_WORDS;
    d[o] = frame.offset;
    d[o + 1] = frame.caplen;
    d[o + 2] = frame.length;
    d[o + 3] = frame.linkType;
    d[o + 4] = frame.tsSec;
    d[o + 5] = frame.tsNsec;
    d[o + 6] = frame.interfaceId;
    if (++this.count === BATCH) this.flush();
  }

  /**
   * Takes whole classic pcap records in bulk (frame.ts PcapRecordSink): the addon walks them
   * into batches, with no call a frame. Give the FastPath to CaptureSource.run as its
   * `records` as well as calling `process` from the sink.
   */
  takePcapRecords(buf: Uint8Array, pos: number, end: number, layout: PcapRecordLayout, _fileOffset: number, taken: RecordsTaken): number {
    if (buf !== this.data) this.useChunk(buf);
    else if (this.count > 0) this.flush(); // frames before these ones first
    const flags = (layout.littleEndian ? SCAN_LITTLE_ENDIAN : 0) | (layout.nano ? SCAN_NANO : 0);
    let frames = 0;
    let bytes = 0;
    for (;;) {
      const n = this.api.scanPcap(pos, end, flags, layout.recordHeaderLen, layout.linkType);
      if (n === 0) break;
      frames += n;
      bytes += this.block[BLOCK_SCAN_BYTES]!;
      pos = this.block[BLOCK_SCAN_END]!;
      this.count = n;
      this.flush();
    }
    taken.frames = frames;
    taken.bytes = bytes;
    return pos;
  }

  /** Frames from now on point into `data`: the frames batched so far (another chunk's, or the parser's carry buffer's) are decided first. */
  private useChunk(data: Uint8Array): void {
    if (this.count > 0) this.flush();
    this.data = data;
    this.api.setData(data);
  }

  /** The reader is about to reuse its chunk: decide the frames batched from it. */
  chunkDone(): void {
    if (this.count > 0) this.flush();
  }

  /** Decides the rest of the capture and brings the scalars back to the TypeScript objects. */
  finish(): void {
    if (this.count > 0) this.flush();
    this.toTs();
  }

  /** The batched frames: the addon's in runs, the ones it leaves through the TypeScript program. */
  private flush(): void {
    const n = this.count;
    this.count = 0;
    for (let i = 0; i < n; ) {
      if (this.scalarsNative !== true) this.toNative();
      const stop = this.api.run(i, n);
      this.finished += stop - i;
      if (stop >= n) return;
      this.toTs();
      const kept = this.block[BLOCK_ANSWER] === FAST_SLOW_AFTER_DEDUP;
      if (kept) this.keptForTs++;
      this.decideInTs(stop, kept);
      i = stop + 1;
    }
  }

  /** Frame `i` of the batch through the TypeScript program (from after dedup when `kept`). */
  private decideInTs(i: number, kept: boolean): void {
    const d = this.desc;
    const o = i * DESC_WORDS;
    const f = this.slowFrame;
    f.data = this.data!;
    f.offset = d[o]!;
    f.caplen = d[o + 1]!;
    f.length = d[o + 2]!;
    f.linkType = d[o + 3]!;
    f.tsSec = d[o + 4]!;
    f.tsNsec = d[o + 5]!;
    f.interfaceId = d[o + 6]!;
    const pkt = this.pkt;
    decodeFrame(f, pkt);
    if (kept) this.datapath.processKept(pkt, f.tsSec, f.tsNsec);
    else this.datapath.process(pkt, f.tsSec, f.tsNsec, f);
  }

  /** The block's scalars into the TypeScript fields. */
  private toTs(): void {
    if (this.scalarsNative !== true) return;
    this.scalarsNative = false;
    const b = this.block;
    const c = this.datapath.counters;
    c.frames = b[BLOCK_FRAMES]!;
    c.ipPackets = b[BLOCK_IP_PACKETS]!;
    c.duplicates = b[BLOCK_DUPLICATES]!;
    for (let t = 0; t < CT_TABLES; t++) this.ct.setNativeSeq(t, b[BLOCK_CT_SEQ + t]!);
    this.ct.loadCreateScalars(b, BLOCK_CT_CREATE);
    this.dedup?.loadScalars(b, BLOCK_DEDUP);
    this.summary.loadScalars(b, BLOCK_SUMMARY);
  }

  /** The TypeScript fields into the block, and the arrays bound again where they changed. */
  private toNative(): void {
    this.scalarsNative = true;
    const b = this.block;
    const c = this.datapath.counters;
    b[BLOCK_FRAMES] = c.frames;
    b[BLOCK_IP_PACKETS] = c.ipPackets;
    b[BLOCK_DUPLICATES] = c.duplicates;
    b[BLOCK_GENERATION] = this.state.generation;
    b[BLOCK_NEXT_EXPIRY] = this.tick !== undefined ? this.tick.nextTickWork : Infinity;
    b[BLOCK_CT_EPOCH] = this.ct.epoch;
    for (let t = 0; t < CT_TABLES; t++) b[BLOCK_CT_SEQ + t] = this.ct.nativeSeq(t);
    this.ct.saveCreateScalars(b, BLOCK_CT_CREATE);
    this.dedup?.saveScalars(b, BLOCK_DEDUP);
    this.summary.saveScalars(b, BLOCK_SUMMARY);
    this.bindChanged();
  }

  private bindChanged(): void {
    const ct = this.ct;
    let ctChanged = ct.i32 !== this.boundCtRows || ct.sideWords !== this.boundCtSide || ct.nativeFreeRows !== this.boundFreeRows;
    for (let t = 0; t < CT_TABLES && !ctChanged; t++) ctChanged = ct.nativeIndexSlots(t) !== this.boundSlots[t] || ct.nativeLruBuilt(t) !== this.boundLru[t];
    if (ctChanged) {
      this.boundCtRows = ct.i32;
      this.boundCtSide = ct.sideWords;
      this.boundFreeRows = ct.nativeFreeRows;
      for (let t = 0; t < CT_TABLES; t++) {
        this.boundSlots[t] = ct.nativeIndexSlots(t);
        this.boundLru[t] = ct.nativeLruBuilt(t);
      }
      const s = this.boundSlots;
      const l = this.boundLru;
      this.api.bindConntrack(ct.i32, ct.sideWords, s[0]!, s[1]!, s[2]!, s[3]!, +l[0]!, +l[1]!, +l[2]!, +l[3]!, ct.nativeKeyMask, ct.nativeLruResolutionMs, ct.nativeFreeRows);
    }
    // A replaced policy map moves the generation: its endpoints' map ids are bound again.
    if (this.newConnections && this.state.generation !== this.boundPolicyGeneration) {
      this.boundPolicyGeneration = this.state.generation;
      this.boundPolicy = this.state.nativePolicyMaps();
      this.api.bindPolicy(this.boundPolicy?.set ?? null, this.boundPolicy?.ids ?? null);
    }
    const ex = this.expectations;
    if (ex !== undefined) {
      // Room for every connection number given so far, and more (doubling).
      const need = this.ct.nextConnectionId;
      if (ex.fastPackets.length <= need) {
        const grown = new Float64Array(Math.max(1024, 2 * need));
        grown.set(ex.fastPackets);
        ex.fastPackets = grown;
      }
      if (ex.fastPackets !== this.boundExpect) {
        this.boundExpect = ex.fastPackets;
        this.api.bindExpect(ex.fastPackets);
      }
    }
    const rows = this.connCache.nativeRows;
    if (rows !== this.boundConnRows) {
      this.boundConnRows = rows;
      this.api.bindConnCache(rows);
    }
    const sum = this.summary;
    if (
      sum.nativeRecords !== this.boundRecords ||
      sum.nativePairPackets !== this.boundPairPackets ||
      sum.nativePairConnections !== this.boundPairConnections ||
      (this.newConnections && sum.nativePairBuckets !== this.boundPairBuckets)
    ) {
      const a = sum.nativeArrays();
      this.boundRecords = a.records;
      this.boundPairPackets = a.pairPackets;
      this.boundPairConnections = a.pairConnections;
      this.boundPairBuckets = a.pairBuckets;
      // New connections' events also need the rule counts and the pair table (its sides are
      // replaced with pairPackets, its buckets on their own).
      if (this.newConnections) this.api.bindSummary(...summaryArrayArgs(a), ...summaryNewArrayArgs(a));
      else this.api.bindSummary(...summaryArrayArgs(a));
    }
  }
}

/** True when the addon has the fast path (an older build may not). */
export function hasFastPath(native: NativeModule): boolean {
  return typeof (native as unknown as { createFastPath?: unknown }).createFastPath === 'function';
}
