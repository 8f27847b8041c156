/**
 * Bounded reassembly memory (issue 5: "bounded memory per connection and in total; past the
 * bound, a clear error event for that connection, never unbounded growth"): the per-connection
 * bound (`--reassembly-max-bytes`) and the ReassemblyBudget shared by all connections, measured
 * by the reassembler's own count, which must be exact (budget.used equals the sum of the
 * streams' bufferedBytes after every segment).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REASSEMBLY_MAX_BYTES,
  DEFAULT_REASSEMBLY_TOTAL_BYTES,
  HELD_CHUNK_OVERHEAD,
  REASSEMBLY_ERROR_TEXT,
  ReassemblyBudget,
  ReassemblyError,
  SegmentResult as R,
  TcpStreamReassembler,
} from '../../src/proxy/reassembly.js';
import { bytes, Collector } from './helpers.js';

const SYN = 0x02;
const PSH_ACK = 0x18;

describe('per-connection bound', () => {
  it('passing --reassembly-max-bytes errors the stream once and frees it', () => {
    const budget = new ReassemblyBudget();
    const c = new Collector();
    const r = new TcpStreamReassembler(budget, 300, c.sink);
    const a = bytes('a'.repeat(100));
    const results = [
      r.segment(0, SYN, a, 0, 0, 0),
      r.segment(10, PSH_ACK, a, 0, 100, 1), // 100 + 64 counted
      r.segment(200, PSH_ACK, a, 0, 100, 2), // would make 328 > 300
      r.segment(1, PSH_ACK, a, 0, 9, 3),
    ];
    expect(results).toEqual([R.NONE, R.HELD, R.ERROR, R.CLOSED]);
    expect(r.errored).toBe(true);
    expect(r.error).toBe(ReassemblyError.STREAM_LIMIT);
    expect(REASSEMBLY_ERROR_TEXT[r.error]).toMatch(/^reassembly buffer limit exceeded/);
    expect(r.bufferedBytes).toBe(0);
    expect(budget.used).toBe(0);
    expect(c.text).toBe('');
  });

  it('in-order bytes never count, however many', () => {
    const budget = new ReassemblyBudget(0);
    let n = 0;
    const r = new TcpStreamReassembler(budget, 0, (_b, _o, len) => (n += len));
    const big = new Uint8Array(1 << 16);
    r.segment(0, SYN, big, 0, 0, 0);
    for (let i = 0; i < 100; i++) expect(r.segment(1 + i * big.length, PSH_ACK, big, 0, big.length, i)).toBe(R.DELIVERED);
    expect(n).toBe(100 * big.length);
    expect(budget.peak).toBe(0);
  });

  it('one-byte segments are bounded by their chunk cost, not just their payload', () => {
    const budget = new ReassemblyBudget();
    const r = new TcpStreamReassembler(budget, 64 * 1024, () => {});
    r.segment(0, SYN, new Uint8Array(0), 0, 0, 0);
    const one = new Uint8Array(1);
    let errors = 0;
    let held = 0;
    for (let i = 0; i < 10_000 && !r.errored; i++) {
      const res = r.segment(3 + 2 * i, PSH_ACK, one, 0, 1, 0);
      if (res & R.ERROR) errors++;
      if (res & R.HELD) held++;
      expect(r.bufferedBytes).toBe(r.errored ? 0 : held * (1 + HELD_CHUNK_OVERHEAD));
      expect(r.bufferedBytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect(errors).toBe(1);
    expect(held).toBe(Math.floor((64 * 1024) / (1 + HELD_CHUNK_OVERHEAD)));
  });

  it('the defaults are 1 MiB per connection and 256 MiB in total', () => {
    expect(DEFAULT_REASSEMBLY_MAX_BYTES).toBe(1 << 20);
    expect(DEFAULT_REASSEMBLY_TOTAL_BYTES).toBe(256 << 20);
    expect(new ReassemblyBudget().cap).toBe(DEFAULT_REASSEMBLY_TOTAL_BYTES);
  });
});

/** 10,000 redirected connections that send a SYN and then data after a gap, never completed. */
function halfOpen(budget: ReassemblyBudget, count: number, payload: number): TcpStreamReassembler[] {
  const data = new Uint8Array(payload).fill(0x61);
  const streams: TcpStreamReassembler[] = [];
  for (let i = 0; i < count; i++) {
    const r = new TcpStreamReassembler(budget, DEFAULT_REASSEMBLY_MAX_BYTES, () => {
      throw new Error('nothing may be delivered: the gap never fills');
    });
    const isn = (i * 2654435761) >>> 0; // spread over the sequence space, some near the wrap
    r.segment(isn, SYN, data, 0, 0, i);
    // The first byte is missing: everything after it waits. A second, later piece too.
    r.segment((isn + 2) >>> 0, PSH_ACK, data, 0, payload, i);
    r.segment((isn + 2 + payload + 100) >>> 0, PSH_ACK, data, 0, payload, i);
    streams.push(r);
  }
  return streams;
}

describe('total bound: 10,000 half-open redirected connections', () => {
  it('stay under the configured cap, by the reassembler count; the rest error once each', () => {
    const cap = 4 * 1024 * 1024;
    const budget = new ReassemblyBudget(cap);
    const payload = 700;
    const streams = halfOpen(budget, 10_000, payload);
    const perStream = 2 * (payload + HELD_CHUNK_OVERHEAD);
    const sum = streams.reduce((a, r) => a + r.bufferedBytes, 0);
    expect(budget.used).toBe(sum);
    expect(budget.used).toBeLessThanOrEqual(cap);
    expect(budget.peak).toBeLessThanOrEqual(cap);
    const errored = streams.filter((r) => r.errored);
    const holding = streams.filter((r) => !r.errored && r.bufferedBytes > 0);
    // Every stream either holds its two chunks in full or errored and holds nothing.
    for (const r of holding) expect(r.bufferedBytes).toBe(perStream);
    for (const r of errored) {
      expect(r.bufferedBytes).toBe(0);
      expect(r.error).toBe(ReassemblyError.TOTAL_LIMIT);
    }
    expect(holding.length + errored.length).toBe(10_000);
    expect(holding.length).toBeGreaterThan(0);
    expect(errored.length).toBeGreaterThan(0);
    expect(budget.exhausted).toBe(errored.length);
    // The cap is filled as far as whole streams allow: no room for one more stream's chunks.
    expect(cap - budget.used).toBeLessThan(perStream);

    // Closing every connection gives everything back.
    for (const r of streams) r.close();
    expect(budget.used).toBe(0);
  });

  it('with the default cap all 10,000 are held, counted exactly', () => {
    const budget = new ReassemblyBudget();
    const payload = 1000;
    const streams = halfOpen(budget, 10_000, payload);
    expect(streams.every((r) => !r.errored)).toBe(true);
    expect(budget.used).toBe(10_000 * 2 * (payload + HELD_CHUNK_OVERHEAD));
    expect(budget.used).toBe(streams.reduce((a, r) => a + r.bufferedBytes, 0));
    expect(budget.used).toBeLessThanOrEqual(budget.cap);
    for (const r of streams) r.close();
    expect(budget.used).toBe(0);
  });

  it('a freed stream makes room for another', () => {
    const budget = new ReassemblyBudget(2 * (100 + HELD_CHUNK_OVERHEAD));
    const d = new Uint8Array(100);
    const a = new TcpStreamReassembler(budget, 1 << 20, () => {});
    const b = new TcpStreamReassembler(budget, 1 << 20, () => {});
    a.segment(0, SYN, d, 0, 0, 0);
    b.segment(0, SYN, d, 0, 0, 0);
    expect(a.segment(10, PSH_ACK, d, 0, 100, 0)).toBe(R.HELD);
    expect(a.segment(500, PSH_ACK, d, 0, 100, 0)).toBe(R.HELD);
    expect(b.segment(10, PSH_ACK, d, 0, 100, 0)).toBe(R.ERROR);
    const c = new TcpStreamReassembler(budget, 1 << 20, () => {});
    c.segment(0, SYN, d, 0, 0, 0);
    a.segment(0, 0x04, d, 0, 0, 0); // RST frees a's chunks
    expect(budget.used).toBe(0);
    expect(c.segment(10, PSH_ACK, d, 0, 100, 0)).toBe(R.HELD);
  });
});
