/**
 * The fast path's walk over classic pcap records (native/fastpath/fastpath.cc ScanPcap) against
 * the TypeScript reader's (src/capture/parser.ts runPcap): the same frames, descriptor for
 * descriptor, in every layout the reader knows (byte orders, micro- and nanosecond timestamps,
 * Kuznetzov's 24-byte record headers), with fractions of a second out of range, and the same
 * place to stop (a record cut short, a captured length over MAX_CAPLEN, a full batch). Then
 * the reader with a bulk record sink: the same frames, totals and errors as frame by frame.
 */
import { describe, expect, test } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { MAX_CAPLEN, PcapMagic } from '../../src/capture/format.js';
import type { Frame, PcapRecordLayout, PcapRecordSink, RecordsTaken } from '../../src/capture/frame.js';
import { CaptureError } from '../../src/errors.js';
import { nativeOrFail } from '../maps/native-helpers.js';
import { prng } from '../helpers/capture-fixtures.js';

const native = nativeOrFail();

/** Descriptor words (src/datapath/fast-path.ts DESC_WORDS) and a batch (BATCH). */
const DESC_WORDS = 7;
const BATCH = 256;
const BLOCK_SCAN_END = 11;
const BLOCK_SCAN_BYTES = 12;

interface ScanApi {
  setData(data: Uint8Array): void;
  scanPcap(pos: number, end: number, flags: number, recordHeaderLen: number, linkType: number): number;
}
type Create = (block: Float64Array, desc: Float64Array, perPacket: boolean, hasL7: boolean, dedupOn: boolean) => ScanApi;

interface Layout {
  name: string;
  magic: number;
  le: boolean;
  nano: boolean;
  header: number;
}

const LAYOUTS: Layout[] = [
  { name: 'microseconds, little-endian', magic: PcapMagic.MICRO, le: true, nano: false, header: 16 },
  { name: 'microseconds, big-endian', magic: PcapMagic.MICRO, le: false, nano: false, header: 16 },
  { name: 'nanoseconds, little-endian', magic: PcapMagic.NANO, le: true, nano: true, header: 16 },
  { name: 'nanoseconds, big-endian', magic: PcapMagic.NANO, le: false, nano: true, header: 16 },
  { name: "Kuznetzov's 24-byte records, little-endian", magic: PcapMagic.KUZNETZOV, le: true, nano: false, header: 24 },
  { name: "Kuznetzov's 24-byte records, big-endian", magic: PcapMagic.KUZNETZOV, le: false, nano: false, header: 24 },
];

interface Record {
  sec: number;
  frac: number;
  caplen: number;
  wire: number;
}

/** A classic pcap file of `records` (bytes of each frame arbitrary), cut to `cut` bytes if given. */
function pcapFile(layout: Layout, records: Record[], linkType = 1): Uint8Array {
  const size = 24 + records.reduce((n, r) => n + layout.header + r.caplen, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  // The magic as the writer's byte order stores it (a big-endian read of it says which).
  dv.setUint32(0, layout.magic, layout.le);
  dv.setUint16(4, 2, layout.le);
  dv.setUint16(6, 4, layout.le);
  dv.setUint32(16, 262144, layout.le);
  dv.setUint32(20, linkType, layout.le);
  let at = 24;
  for (const r of records) {
    dv.setUint32(at, r.sec, layout.le);
    dv.setUint32(at + 4, r.frac, layout.le);
    dv.setUint32(at + 8, r.caplen, layout.le);
    dv.setUint32(at + 12, r.wire, layout.le);
    for (let i = 0; i < r.caplen; i++) out[at + layout.header + i] = (at + i) & 0xff;
    at += layout.header + r.caplen;
  }
  return out;
}

/** Records with every kind of timestamp fraction, lengths 0..1514 and one at MAX_CAPLEN. */
function records(layout: Layout, n: number, seed: number): Record[] {
  const rnd = prng(seed);
  const limit = layout.nano ? 1e9 : 1e6;
  const out: Record[] = [];
  for (let i = 0; i < n; i++) {
    const pick = rnd();
    // In range, the last value in range, just out of range (a carry), far out (several seconds).
    const frac = pick < 0.7 ? Math.floor(rnd() * limit) : pick < 0.8 ? limit - 1 : pick < 0.9 ? limit : 0xffffffff - Math.floor(rnd() * 1000);
    const caplen = i === 7 ? MAX_CAPLEN : i % 13 === 0 ? 0 : Math.floor(rnd() * 1515);
    out.push({ sec: 0xffffff00 + Math.floor(rnd() * 255), frac, caplen, wire: caplen + Math.floor(rnd() * 3) * 100 });
  }
  return out;
}

/** The TypeScript reader's frames, as descriptors, and its error if it stopped on one. */
function readerFrames(file: Uint8Array): { frames: number[][]; error?: string } {
  const frames: number[][] = [];
  const parser = new CaptureParser('test.pcap');
  try {
    parser.push(file, (f: Frame) => frames.push([f.offset, f.caplen, f.length, f.linkType, f.tsSec, f.tsNsec, f.interfaceId]));
    parser.end();
  } catch (err) {
    if (!(err instanceof CaptureError)) throw err;
    return { frames, error: err.message };
  }
  return { frames };
}

/** The addon's walk over the file's records from byte 24, batch after batch, until it stops. */
function scannedFrames(file: Uint8Array, layout: Layout, linkType = 1): { frames: number[][]; end: number; bytes: number; batches: number[] } {
  const block = new Float64Array(96);
  const desc = new Float64Array(DESC_WORDS * BATCH);
  const api = (native as unknown as { createFastPath: Create }).createFastPath(block, desc, false, false, false);
  api.setData(file);
  const frames: number[][] = [];
  const batches: number[] = [];
  const flags = (layout.le ? 1 : 0) | (layout.nano ? 2 : 0);
  let pos = 24;
  let bytes = 0;
  for (;;) {
    const n = api.scanPcap(pos, file.length, flags, layout.header, linkType);
    if (n === 0) break;
    batches.push(n);
    for (let i = 0; i < n; i++) frames.push(Array.from(desc.subarray(i * DESC_WORDS, (i + 1) * DESC_WORDS)));
    pos = block[BLOCK_SCAN_END]!;
    bytes += block[BLOCK_SCAN_BYTES]!;
  }
  return { frames, end: pos, bytes, batches };
}

describe.each(LAYOUTS)('$name', (layout) => {
  test('the addon walks the records into the descriptors the reader makes of them, a batch at a time', () => {
    const recs = records(layout, 700, 3);
    const file = pcapFile(layout, recs, 113);
    const want = readerFrames(file);
    expect(want.error).toBeUndefined();
    expect(want.frames).toHaveLength(700);
    const got = scannedFrames(file, layout, 113);
    expect(got.frames).toEqual(want.frames);
    expect(got.batches).toEqual([256, 256, 188]);
    expect(got.end).toBe(file.length);
    expect(got.bytes).toBe(recs.reduce((n, r) => n + r.caplen, 0));
    // Not vacuous: fractions out of range were carried into the seconds.
    expect(want.frames.filter((f, i) => f[4] !== recs[i]!.sec).length).toBeGreaterThan(10);
  });

  test('it stops before a record cut short and before a captured length over MAX_CAPLEN, as the reader does', () => {
    const recs = records(layout, 40, 4);
    const whole = pcapFile(layout, recs);
    // Cut inside the 31st record's bytes: the reader keeps 30 frames and the partial record.
    const upTo30 = 24 + recs.slice(0, 30).reduce((n, r) => n + layout.header + r.caplen, 0);
    const cut = whole.subarray(0, upTo30 + layout.header + Math.max(0, recs[30]!.caplen - 1));
    const scanCut = scannedFrames(cut, layout);
    expect(scanCut.frames).toEqual(readerFrames(whole).frames.slice(0, 30));
    expect(scanCut.end).toBe(upTo30);
    // Cut inside a record header.
    const inHeader = scannedFrames(whole.subarray(0, upTo30 + layout.header - 1), layout);
    expect(inHeader.frames).toHaveLength(30);
    expect(inHeader.end).toBe(upTo30);
    // A corrupt captured length: the walk stops there and leaves the reader to refuse it.
    const bad = whole.slice();
    new DataView(bad.buffer).setUint32(upTo30 + 8, MAX_CAPLEN + 1, layout.le);
    const scanBad = scannedFrames(bad, layout);
    expect(scanBad.frames).toHaveLength(30);
    expect(scanBad.end).toBe(upTo30);
    expect(readerFrames(bad).error).toMatch(/exceeds the maximum/);
  });
});

test('scanPcap refuses a range outside its chunk or an unknown record header size, taking nothing', () => {
  const layout = LAYOUTS[0]!;
  const file = pcapFile(layout, records(layout, 5, 5));
  const block = new Float64Array(96);
  const desc = new Float64Array(DESC_WORDS * BATCH);
  const api = (native as unknown as { createFastPath: Create }).createFastPath(block, desc, false, false, false);
  expect(api.scanPcap(24, file.length, 1, 16, 1)).toBe(0); // no chunk yet
  api.setData(file);
  expect(api.scanPcap(24, file.length + 1, 1, 16, 1)).toBe(0);
  expect(api.scanPcap(30, 24, 1, 16, 1)).toBe(0);
  expect(api.scanPcap(-1, file.length, 1, 16, 1)).toBe(0);
  expect(api.scanPcap(24, file.length, 1, 20, 1)).toBe(0);
  expect(api.scanPcap(24, file.length, 1, 16, 1)).toBe(5);
});

/** A bulk sink that takes at most `most` records a call (recording them), leaving the rest to the per-frame sink. */
class TakingSink implements PcapRecordSink {
  readonly frames: number[][] = [];
  constructor(
    private readonly most: number,
    private readonly seen: number[][] = [],
  ) {}
  takePcapRecords(buf: Uint8Array, pos: number, end: number, layout: PcapRecordLayout, _fileOffset: number, taken: RecordsTaken): number {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    taken.frames = 0;
    taken.bytes = 0;
    while (taken.frames < this.most && end - pos >= layout.recordHeaderLen) {
      const caplen = dv.getUint32(pos + 8, layout.littleEndian);
      if (caplen > MAX_CAPLEN || end - pos < layout.recordHeaderLen + caplen) break;
      const frame = [caplen, dv.getUint32(pos + 12, layout.littleEndian)];
      this.frames.push(frame);
      this.seen.push(frame);
      taken.frames++;
      taken.bytes += caplen;
      pos += layout.recordHeaderLen + caplen;
    }
    return pos;
  }
}

test('the reader with a bulk record sink: every frame once and in order, the same totals and the same error', () => {
  const layout = LAYOUTS[2]!;
  const recs = records(layout, 300, 6);
  const file = pcapFile(layout, recs);
    // [records the bulk sink takes a call at most, chunk size, least taken in bulk, least frame by frame]:
  // a bulk sink that leaves records, one that takes all it can (with small chunks most records
  // come through the parser's carry buffer, one at a time), one that takes none.
  const cases = [
    [5, 65536, 20, 100],
    [1_000_000, 65536, 290, 0],
    [1_000_000, 1000, 10, 0],
    [0, 777, 0, 300],
  ] as const;
  for (const [most, chunk, leastBulk, leastPerFrame] of cases) {
    // Every frame as either sink saw it, in the order they were handed over.
    const seen: number[][] = [];
    const bulk = new TakingSink(most, seen);
    const perFrame: number[][] = [];
    const parser = new CaptureParser('test.pcap');
    parser.takeRecordsWith(bulk);
    const sink = (f: Frame): void => {
      perFrame.push([f.caplen, f.length]);
      seen.push([f.caplen, f.length]);
    };
    for (let at = 0; at < file.length; at += chunk) parser.push(file.subarray(at, Math.min(file.length, at + chunk)), sink);
    const stats = parser.end();
    expect(stats.frames).toBe(300);
    expect(stats.bytes).toBe(recs.reduce((n, r) => n + r.caplen, 0));
    expect(seen).toEqual(recs.map((r) => [r.caplen, r.wire]));
    expect(bulk.frames.length).toBeGreaterThanOrEqual(leastBulk);
    expect(perFrame.length).toBeGreaterThanOrEqual(leastPerFrame);
  }
  // A corrupt captured length after records the bulk sink took: the same one-line error, naming
  // the same byte, as frame by frame.
  const bad = file.slice();
  const at = 24 + recs.slice(0, 200).reduce((n, r) => n + layout.header + r.caplen, 0);
  new DataView(bad.buffer).setUint32(at + 8, MAX_CAPLEN + 1, layout.le);
  const plain = readerFrames(bad);
  const parser = new CaptureParser('test.pcap');
  const bulk = new TakingSink(1_000_000);
  parser.takeRecordsWith(bulk);
  let error = '';
  try {
    parser.push(bad, () => undefined);
  } catch (err) {
    error = (err as Error).message;
  }
  expect(bulk.frames).toHaveLength(200);
  expect(plain.frames).toHaveLength(200);
  expect(error).toBe(plain.error);
  expect(error).toContain(`byte ${at}`);
});
