/**
 * TCP reassembly (src/proxy/reassembly.ts): what Envoy's socket reads from the captured
 * segments of one direction. Rules checked, each against the kernel's receive path
 * (tcp_data_queue / tcp_data_queue_ofo): bytes in sequence order, each once; retransmitted and
 * overlapping bytes dropped and counted; out-of-order bytes held within the window and delivered
 * when the gap fills; FIN ends the stream after its last byte, RST at once (held bytes
 * discarded); 32-bit sequence wrap-around; a capture that starts mid-connection.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HELD_CHUNK_OVERHEAD,
  ReassemblyBudget,
  ReassemblyError,
  SegmentResult as R,
  TcpStreamReassembler,
} from '../../src/proxy/reassembly.js';
import { bytes, Collector } from './helpers.js';

const FLAG: Record<string, number> = { S: 0x02, F: 0x01, R: 0x04, A: 0x10, P: 0x08 };

function flagsOf(s: string): number {
  let f = 0;
  for (const ch of s) f |= FLAG[ch]!;
  return f;
}

/** [sequence relative to the ISN, flags, payload]; the first data byte sits at ISN + 1. */
type Seg = [number, string, string];

interface Run {
  r: TcpStreamReassembler;
  c: Collector;
  budget: ReassemblyBudget;
  results: number[];
}

function feed(isn: number, segs: Seg[], o: { maxBytes?: number; window?: number; budget?: ReassemblyBudget } = {}): Run {
  const budget = o.budget ?? new ReassemblyBudget();
  const c = new Collector();
  const r = new TcpStreamReassembler(budget, o.maxBytes ?? 1 << 20, c.sink, o.window === undefined ? {} : { window: o.window });
  const results = segs.map(([rel, flags, text], i) => {
    const data = bytes(text);
    const res = r.segment((isn + rel) >>> 0, flagsOf(flags), data, 0, data.length, i);
    expect(budget.used).toBe(r.bufferedBytes);
    return res;
  });
  return { r, c, budget, results };
}

describe('in-order delivery', () => {
  it('delivers a view of the packet bytes, no copy (the common case)', () => {
    const budget = new ReassemblyBudget();
    const c = new Collector();
    const r = new TcpStreamReassembler(budget, 1 << 20, c.sink);
    const pkt = bytes('....hello world');
    r.segment(1000, flagsOf('S'), pkt, 0, 0, 0);
    expect(r.segment(1001, flagsOf('AP'), pkt, 4, 11, 7)).toBe(R.DELIVERED);
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]!.bytes).toBe(pkt);
    expect(c.calls[0]!.offset).toBe(4);
    expect(c.calls[0]!.length).toBe(11);
    expect(c.calls[0]!.ts).toBe(7);
    expect(r.bufferedBytes).toBe(0);
  });

  it.each<[string, Seg[], string, number[]]>([
    ['SYN then data', [[0, 'S', ''], [1, 'AP', 'abc'], [4, 'AP', 'def']], 'abcdef', [R.NONE, R.DELIVERED, R.DELIVERED]],
    ['pure ACKs deliver nothing', [[0, 'S', ''], [1, 'A', ''], [1, 'AP', 'x'], [2, 'A', '']], 'x', [R.NONE, R.NONE, R.DELIVERED, R.NONE]],
    ['data on the SYN (TCP Fast Open) is delivered', [[0, 'S', 'tfo'], [4, 'AP', '!']], 'tfo!', [R.DELIVERED, R.DELIVERED]],
    ['mid-stream capture: the first segment seen sets the sequence', [[500, 'AP', 'xyz'], [503, 'AP', 'w']], 'xyzw', [R.DELIVERED, R.DELIVERED]],
    ['mid-stream capture: bytes before the first segment are old', [[500, 'AP', 'xyz'], [490, 'AP', '0123456789']], 'xyz', [R.DELIVERED, R.RETRANSMISSION]],
  ])('%s', (_name, segs, out, results) => {
    const { c, results: got } = feed(1000, segs);
    expect(c.text).toBe(out);
    expect(got).toEqual(results);
  });
});

describe('retransmissions and overlaps', () => {
  it.each<[string, Seg[], string, number, number]>([
    ['a segment sent twice is delivered once and counted', [[0, 'S', ''], [1, 'AP', 'abc'], [1, 'AP', 'abc']], 'abc', 3, R.RETRANSMISSION],
    ['a retransmitted SYN is ignored', [[0, 'S', ''], [0, 'S', ''], [1, 'AP', 'a']], 'a', 0, R.DELIVERED],
    ['overlap: only the new part is delivered', [[0, 'S', ''], [1, 'AP', 'abcdef'], [4, 'AP', 'defghi']], 'abcdefghi', 3, R.RETRANSMISSION | R.DELIVERED],
    ['a segment inside delivered bytes', [[0, 'S', ''], [1, 'AP', 'abcdef'], [3, 'AP', 'cd']], 'abcdef', 2, R.RETRANSMISSION],
    ['a repacketized retransmission (two segments as one)', [[0, 'S', ''], [1, 'AP', 'ab'], [3, 'AP', 'cd'], [1, 'AP', 'abcdef']], 'abcdef', 4, R.RETRANSMISSION | R.DELIVERED],
    ['a held segment retransmitted is held once', [[0, 'S', ''], [5, 'AP', 'ef'], [5, 'AP', 'ef'], [1, 'AP', 'abcd']], 'abcdef', 2, R.DELIVERED],
  ])('%s', (_name, segs, out, retrans, last) => {
    const { r, c, results } = feed(77, segs);
    expect(c.text).toBe(out);
    expect(r.retransmittedBytes).toBe(retrans);
    expect(results.at(-1)).toBe(last);
    expect(r.bufferedBytes).toBe(0);
  });
});

describe('out of order', () => {
  it('holds a segment after a gap (a copy) and delivers it when the gap fills', () => {
    const { r, c, results, budget } = feed(1000, [[0, 'S', ''], [4, 'AP', 'def']]);
    expect(results[1]).toBe(R.HELD);
    expect(c.text).toBe('');
    expect(r.heldPayloadBytes).toBe(3);
    expect(r.bufferedBytes).toBe(3 + HELD_CHUNK_OVERHEAD);
    expect(r.missingBytes).toBe(3);
    const data = bytes('abc');
    expect(r.segment(1001, flagsOf('AP'), data, 0, 3, 9)).toBe(R.DELIVERED);
    expect(c.text).toBe('abcdef');
    expect(c.calls[1]!.ts).toBe(9); // held bytes arrive when the gap fills
    expect(r.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);
  });

  it.each<[string, Seg[], string, number]>([
    ['reverse order', [[0, 'S', ''], [7, 'AP', 'gh'], [4, 'AP', 'def'], [1, 'AP', 'abc']], 'abcdefgh', 0],
    ['held chunks overlapping each other keep each byte once', [[0, 'S', ''], [11, 'AP', 'klmnop'], [8, 'AP', 'hijklm'], [1, 'AP', 'abcdefg']], 'abcdefghijklmnop', 3],
    ['a new segment covering two held ones fills only their gaps', [[0, 'S', ''], [3, 'AP', 'c'], [6, 'AP', 'f'], [2, 'AP', 'bcdefg'], [1, 'AP', 'a']], 'abcdefg', 2],
    ['the gap-filler overlaps held bytes', [[0, 'S', ''], [4, 'AP', 'defg'], [1, 'AP', 'abcde']], 'abcdefg', 2],
    ['a segment behind the next byte but reaching into held bytes', [[0, 'S', ''], [1, 'AP', 'ab'], [6, 'AP', 'fg'], [2, 'AP', 'bcdefgh']], 'abcdefgh', 3],
  ])('%s', (_name, segs, out, retrans) => {
    const { r, c } = feed(5, segs);
    expect(c.text).toBe(out);
    expect(r.retransmittedBytes).toBe(retrans);
    expect(r.bufferedBytes).toBe(0);
    expect(r.heldChunks).toBe(0);
  });

  it('drops bytes beyond the window and counts them', () => {
    const { r, c, results } = feed(0, [[0, 'S', ''], [90, 'AP', 'x'.repeat(20)], [1, 'AP', 'y'.repeat(89)]], { window: 100 });
    // The segment covers stream bytes 89..108; the window ends at 100: 11 kept, 9 dropped.
    expect(results[1]).toBe(R.HELD | R.OUT_OF_WINDOW);
    expect(r.outOfWindowBytes).toBe(9);
    expect(c.text).toBe('y'.repeat(89) + 'x'.repeat(11));
  });

  it('a segment wholly beyond the window is not held', () => {
    const { r, results } = feed(0, [[0, 'S', ''], [500, 'AP', 'late']], { window: 100 });
    expect(results[1]).toBe(R.OUT_OF_WINDOW);
    expect(r.heldChunks).toBe(0);
    expect(r.bufferedBytes).toBe(0);
  });
});

describe('FIN and RST', () => {
  it.each<[string, Seg[], string, number[]]>([
    ['FIN after the data ends the stream', [[0, 'S', ''], [1, 'AP', 'abc'], [4, 'AF', '']], 'abc', [R.NONE, R.DELIVERED, R.END]],
    ['FIN on the last data segment', [[0, 'S', ''], [1, 'APF', 'abc']], 'abc', [R.NONE, R.DELIVERED | R.END]],
    ['FIN before a gap waits for the missing bytes', [[0, 'S', ''], [4, 'APF', 'def'], [1, 'AP', 'abc']], 'abcdef', [R.NONE, R.HELD, R.DELIVERED | R.END]],
    ['retransmitted FIN is old data', [[0, 'S', ''], [1, 'APF', 'abc'], [1, 'APF', 'abc']], 'abc', [R.NONE, R.DELIVERED | R.END, R.RETRANSMISSION]],
    ['data after the end is ignored', [[0, 'S', ''], [1, 'AF', ''], [1, 'AP', 'zz']], '', [R.NONE, R.END, R.CLOSED]],
    ['held bytes past the FIN are never delivered', [[0, 'S', ''], [5, 'AP', 'efgh'], [1, 'APF', 'abcdef']], 'abcdef', [R.NONE, R.HELD, R.DELIVERED | R.RETRANSMISSION | R.END]],
    ['RST ends the stream and discards held bytes', [[0, 'S', ''], [1, 'AP', 'ab'], [6, 'AP', 'fg'], [3, 'R', ''], [3, 'AP', 'cde']], 'ab', [R.NONE, R.DELIVERED, R.HELD, R.RESET, R.CLOSED]],
    ['RST as the first segment', [[9, 'R', ''], [9, 'AP', 'x']], '', [R.RESET, R.CLOSED]],
  ])('%s', (_name, segs, out, results) => {
    const { r, c, results: got, budget } = feed(3_000_000_000, segs);
    expect(c.text).toBe(out);
    expect(got).toEqual(results);
    expect(r.done).toBe(true);
    expect(r.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);
  });

  it('close() frees held bytes', () => {
    const { r, budget } = feed(0, [[0, 'S', ''], [10, 'AP', 'held']]);
    expect(budget.used).toBe(4 + HELD_CHUNK_OVERHEAD);
    r.close();
    expect(budget.used).toBe(0);
    expect(r.segment(1, 0x18, bytes('x'), 0, 1, 0)).toBe(R.CLOSED);
  });
});

describe('sequence wrap-around (32-bit arithmetic)', () => {
  it.each<[string, number, Seg[], string]>([
    ['in order across 2^32', 0xfffffff8, [[0, 'S', ''], [1, 'AP', 'abcdef'], [7, 'AP', 'ghijkl'], [13, 'AP', 'mn']], 'abcdefghijklmn'],
    ['the SYN is the last sequence number', 0xffffffff, [[0, 'S', ''], [1, 'AP', 'abc']], 'abc'],
    ['out of order across 2^32', 0xfffffffa, [[0, 'S', ''], [9, 'AP', 'ijkl'], [4, 'AP', 'defgh'], [1, 'AP', 'abc']], 'abcdefghijkl'],
    ['a retransmission from before the wrap', 0xfffffffc, [[0, 'S', ''], [1, 'AP', 'abcdefgh'], [2, 'AP', 'bcd'], [9, 'APF', 'i']], 'abcdefghi'],
  ])('%s', (_name, isn, segs, out) => {
    const { r, c } = feed(isn, segs);
    expect(c.text).toBe(out);
    expect(r.bufferedBytes).toBe(0);
  });

  it('a stream longer than 4 GiB of sequence space keeps counting', () => {
    const budget = new ReassemblyBudget();
    let total = 0;
    const r = new TcpStreamReassembler(budget, 1 << 20, (_b, _o, n) => (total += n));
    const chunk = new Uint8Array(65536);
    r.segment(123, flagsOf('S'), chunk, 0, 0, 0);
    let seq = 124;
    for (let i = 0; i < 70_000; i++) {
      expect(r.segment(seq, 0x18, chunk, 0, chunk.length, i)).toBe(R.DELIVERED);
      seq = (seq + chunk.length) >>> 0;
    }
    expect(total).toBe(70_000 * 65536);
    expect(r.deliveredBytes).toBe(70_000 * 65536);
  });
});

describe('SYN on a live stream', () => {
  it('a SYN with another initial sequence is ignored', () => {
    const { c, results } = feed(100, [[0, 'S', ''], [1, 'AP', 'a'], [5000, 'S', ''], [2, 'AP', 'b']]);
    expect(results[2]).toBe(R.IGNORED);
    expect(c.text).toBe('ab');
  });
});

describe('property: any segmentation, order and duplication delivers the stream once', () => {
  it('matches the original bytes; the budget equals the held count after every segment', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 400 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 60 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        fc.boolean(),
        (stream, isn, cuts, order, fin) => {
          // Segments: every byte covered at least once (a tiling), plus random extra pieces.
          const segs: Array<[number, number]> = [];
          for (let o = 0, k = 0; o < stream.length; k++) {
            const n = Math.min(cuts[k % cuts.length]![1], stream.length - o);
            segs.push([o, n]);
            o += n;
          }
          for (const [at, n] of cuts) {
            const o = at % stream.length;
            segs.push([o, Math.min(n, stream.length - o)]);
          }
          // Shuffle by the random keys (a stable permutation).
          const keyed = segs.map((s, i) => ({ s, k: order[i % Math.max(1, order.length)] ?? i }));
          keyed.sort((a, b) => a.k - b.k);
          const budget = new ReassemblyBudget();
          const c = new Collector();
          const r = new TcpStreamReassembler(budget, 1 << 20, c.sink);
          r.segment(isn, flagsOf('S'), stream, 0, 0, 0);
          for (const { s } of keyed) {
            const [o, n] = s;
            const last = o + n === stream.length;
            r.segment((isn + 1 + o) >>> 0, 0x18 | (fin && last ? 0x01 : 0), stream, o, n, 1);
            expect(budget.used).toBe(r.bufferedBytes);
          }
          expect(c.total).toEqual(stream);
          expect(r.bufferedBytes).toBe(0);
          expect(r.ended).toBe(fin);
          const sent = segs.reduce((a, [, n]) => a + n, 0);
          expect(r.retransmittedBytes).toBe(sent - stream.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
