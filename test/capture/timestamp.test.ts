/**
 * pcapng timestamps convert exactly to (seconds, nanoseconds) for every if_tsresol, checked
 * against BigInt arithmetic (the reference here; the reader itself avoids BigInt).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimestampUnit } from '../../src/capture/timestamp.js';

/** Reference: units per second for a raw if_tsresol byte, then floor division (as wiretap). */
function reference(tsresol: number, ts: bigint, offset = 0n): { tsSec: number; tsNsec: number } {
  const perSec = (tsresol & 0x80) !== 0 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol & 0x7f);
  const sec = ts / perSec + offset;
  const nsec = ((ts % perSec) * 1_000_000_000n) / perSec;
  return { tsSec: Number(sec), tsNsec: Number(nsec) };
}

function convert(tsresol: number, ts: bigint, offset = 0): { tsSec: number; tsNsec: number } {
  const out = { tsSec: -1, tsNsec: -1 };
  new TimestampUnit(tsresol, offset).convert(Number(ts >> 32n), Number(ts & 0xffffffffn), out);
  return out;
}

const NOW_NS = 1_732_240_000_123_456_789n; // 2024-11-22, ns since the epoch: above 2^53

describe('pcapng timestamp conversion', () => {
  it.each([
    ['microseconds (default, 6)', 6, 1_732_240_000_123_456n, { tsSec: 1_732_240_000, tsNsec: 123_456_000 }],
    ['nanoseconds (9), above 2^53', 9, NOW_NS, { tsSec: 1_732_240_000, tsNsec: 123_456_789 }],
    ['milliseconds (3)', 3, 1_732_240_000_123n, { tsSec: 1_732_240_000, tsNsec: 123_000_000 }],
    ['seconds (0)', 0, 1_732_240_000n, { tsSec: 1_732_240_000, tsNsec: 0 }],
    // 2^64 ps is only 213 days, so a picosecond clock counts from some other origin.
    ['picoseconds (12), truncated to ns', 12, 12_345_678_901_234_567_891n, { tsSec: 12_345_678, tsNsec: 901_234_567 }],
    ['2^-20 (0x94), binary', 0x94, (1_732_240_000n << 20n) + (1n << 19n), { tsSec: 1_732_240_000, tsNsec: 500_000_000 }],
    ['2^-30 (0x9e), binary', 0x9e, (1_732_240_000n << 30n) + 1n, { tsSec: 1_732_240_000, tsNsec: 0 }],
    ['2^-32 (0xa0), binary, quarter second', 0xa0, (1_700_000_000n << 32n) + (1n << 30n), { tsSec: 1_700_000_000, tsNsec: 250_000_000 }],
  ])('%s', (_name, tsresol, ts, expected) => {
    expect(convert(tsresol, ts)).toEqual(expected);
    expect(convert(tsresol, ts)).toEqual(reference(tsresol, ts));
  });

  it('applies if_tsoffset (seconds, may be negative)', () => {
    expect(convert(9, NOW_NS, 3600)).toEqual({ tsSec: 1_732_243_600, tsNsec: 123_456_789 });
    expect(convert(6, 5_000_001n, -2)).toEqual({ tsSec: 3, tsNsec: 1000 });
  });

  it('keeps the nanosecond digit that a float64 of the ns count would lose', () => {
    // Number(NOW_NS) is not exact: a naive (ts / 1e9, ts % 1e9) gets the last digits wrong.
    expect(BigInt(Number(NOW_NS))).not.toBe(NOW_NS);
    expect(convert(9, NOW_NS + 1n).tsNsec).toBe(123_456_790);
  });

  // Every decimal resolution up to 10^-19 and every binary one up to 2^-63 (and a few beyond,
  // where the whole count is a fraction of a second), over the full 64-bit range of counts.
  const resolutions = [
    ...Array.from({ length: 20 }, (_, k) => k),
    ...Array.from({ length: 64 }, (_, k) => 0x80 | k),
    0x80 | 64,
    0x80 | 100,
    0x80 | 127,
    40,
    127,
  ];
  const seconds53 = (tsresol: number, ts: bigint): boolean => reference(tsresol, ts).tsSec <= Number.MAX_SAFE_INTEGER;

  it.each(resolutions.map((r) => [r.toString(16), r]))('matches BigInt for if_tsresol 0x%s over random 64-bit counts', (_hex, tsresol) => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (ts) => {
        // Seconds beyond 2^53 are not real capture times and cannot be exact in a number.
        fc.pre(seconds53(tsresol, ts));
        expect(convert(tsresol, ts)).toEqual(reference(tsresol, ts));
      }),
      { numRuns: 300 },
    );
  });

  it.each(Array.from({ length: 19 }, (_, k) => [k]))('matches BigInt next to every multiple of 10^%i (quotient boundaries)', (k) => {
    const perSec = 10n ** BigInt(k);
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: ((1n << 64n) - 1n) / perSec - 1n }), fc.constantFrom(-2n, -1n, 0n, 1n, 2n), (q, delta) => {
        const ts = q * perSec + delta;
        fc.pre(seconds53(k, ts));
        expect(convert(k, ts)).toEqual(reference(k, ts));
      }),
      { numRuns: 300 },
    );
  });

  it('matches BigInt around realistic times for microseconds and nanoseconds', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 4_102_444_800n * 1_000_000_000n }), fc.constantFrom(6, 9), (ns, tsresol) => {
        const ts = tsresol === 9 ? ns : ns / 1000n;
        expect(convert(tsresol, ts)).toEqual(reference(tsresol, ts));
      }),
      { numRuns: 5000 },
    );
  });
});
