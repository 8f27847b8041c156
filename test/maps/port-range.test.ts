/**
 * Port ranges to masked ports, as Cilium's PortRangeToMaskedPorts
 * (pkg/policy/types/port_range.go): counts Cilium's own tests and docs give, and exact coverage.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { portRangeToMaskedPorts } from '../../src/maps/policy-map.js';
import { portMask } from './builders.js';

function covers(p: { port: number; prefixLen: number }, port: number): boolean {
  return (port & portMask(p.prefixLen)) === p.port;
}

describe('portRangeToMaskedPorts', () => {
  test.each([
    ['1-65535 needs 16 prefixes', 1, 65535, 16],
    ['1-65534 needs 30 prefixes', 1, 65534, 30],
    ['1-1023 needs 10 prefixes', 1, 1023, 10],
    ['a single port is one exact prefix', 80, 80, 1],
    ['an aligned power-of-two block is one prefix (16-31)', 16, 31, 1],
    ['0-1023 is one prefix', 0, 1023, 1],
    ['8080-8090 needs 3 prefixes', 8080, 8090, 3],
  ])('%s', (_rule, start, end, count) => {
    expect(portRangeToMaskedPorts(start, end)).toHaveLength(count);
  });

  test('a single port has prefix 24', () => {
    expect(portRangeToMaskedPorts(80, 80)).toEqual([{ port: 80, prefixLen: 24 }]);
  });

  test.each([
    ['0-65535', 0, 65535],
    ['0-0', 0, 0],
  ])('%s is the wildcard port: protocol only (prefix 8)', (_name, start, end) => {
    expect(portRangeToMaskedPorts(start, end)).toEqual([{ port: 0, prefixLen: 8 }]);
  });

  test('an inverted range is the single start port, as in Cilium', () => {
    expect(portRangeToMaskedPorts(90, 80)).toEqual([{ port: 90, prefixLen: 24 }]);
  });

  test('16-31 is 0b1xxxx: port 16 with 12 significant bits (prefix 20)', () => {
    expect(portRangeToMaskedPorts(16, 31)).toEqual([{ port: 16, prefixLen: 20 }]);
  });

  test('ports outside 0..65535 are refused', () => {
    expect(() => portRangeToMaskedPorts(-1, 5)).toThrow(RangeError);
    expect(() => portRangeToMaskedPorts(1, 65536)).toThrow(RangeError);
  });

  test('every port in the range is covered by exactly one prefix, none outside', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b) => {
        const start = Math.min(a, b);
        const end = Math.max(a, b);
        if (start === 0 && end === 65535) return; // the wildcard, checked above
        const prefixes = portRangeToMaskedPorts(start, end);
        for (const p of prefixes) {
          expect(p.prefixLen).toBeGreaterThanOrEqual(9);
          expect(p.prefixLen).toBeLessThanOrEqual(24);
          expect(p.port & ~portMask(p.prefixLen) & 0xffff).toBe(0);
        }
        const probes = [start, end, start - 1, end + 1, 0, 65535];
        for (let i = 0; i < 64; i++) probes.push((start + Math.floor(((end - start + 1) * i) / 64)) & 0xffff);
        for (const port of probes) {
          if (port < 0 || port > 65535) continue;
          const n = prefixes.filter((p) => covers(p, port)).length;
          expect(n).toBe(port >= start && port <= end ? 1 : 0);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('coverage is exact over every port for a few hard ranges', () => {
    for (const [start, end] of [
      [1, 65534],
      [1, 65535],
      [1023, 1025],
      [32767, 32769],
      [12345, 54321],
    ] as const) {
      const prefixes = portRangeToMaskedPorts(start, end);
      for (let port = 0; port <= 65535; port++) {
        let n = 0;
        for (const p of prefixes) if (covers(p, port)) n++;
        if (n !== (port >= start && port <= end ? 1 : 0)) throw new Error(`${start}-${end}: port ${port} covered ${n} times`);
      }
    }
  });
});
