/**
 * The frontend index (src/datapath/frontend-index.ts) answers as lb4/lb6_lookup_service would:
 * the frontend with the packet's address, port and protocol, the first loaded when several
 * share them. Checked against a linear search over random frontends of both families, with
 * IPv6 addresses crafted to share the index's fold (the hit must be confirmed by the words).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FrontendIndex } from '../../src/datapath/frontend-index.js';
import type { Frontend } from '../../src/datapath/state.js';

const PROTOCOLS = { TCP: 6, UDP: 17, SCTP: 132 } as const;

function frontend(index: number, family: 4 | 6, words: number[], port: number, protocol: keyof typeof PROTOCOLS): Frontend {
  return {
    index,
    record: { service: `ns/svc${index}`, type: 'ClusterIP', address: '', port, protocol, backends: [] },
    family,
    words: Uint32Array.from(words),
    protocol: PROTOCOLS[protocol],
    backends: [],
  };
}

/** What the index must answer: the first frontend with these words, port and protocol. */
function linear(frontends: Frontend[], family: number, words: ArrayLike<number>, port: number, protocol: number): Frontend | undefined {
  return frontends.find(
    (fe) =>
      fe.family === family &&
      fe.record.port === port &&
      fe.protocol === protocol &&
      fe.words[0] === words[0] &&
      fe.words[1] === words[1] &&
      fe.words[2] === words[2] &&
      fe.words[3] === words[3],
  );
}

const v4 = (a: number): number[] => [0, 0, 0xffff, a >>> 0];

describe('FrontendIndex', () => {
  test('finds by address, port and protocol; the first of duplicates wins', () => {
    const fes = [
      frontend(0, 4, v4(0x0a60000a), 53, 'UDP'),
      frontend(1, 4, v4(0x0a60000a), 53, 'TCP'),
      frontend(2, 4, v4(0x0a60000a), 53, 'UDP'), // same key as 0: never answered
      frontend(3, 6, [0xfd000000, 0, 0, 0x10], 443, 'TCP'),
    ];
    const index = new FrontendIndex(fes);
    expect(index.find(4, Uint32Array.from(v4(0x0a60000a)), 53, 17)).toBe(fes[0]);
    expect(index.find(4, Uint32Array.from(v4(0x0a60000a)), 53, 6)).toBe(fes[1]);
    expect(index.find(4, Uint32Array.from(v4(0x0a60000a)), 54, 17)).toBeUndefined();
    expect(index.find(4, Uint32Array.from(v4(0x0a60000b)), 53, 17)).toBeUndefined();
    expect(index.find(6, Uint32Array.from([0xfd000000, 0, 0, 0x10]), 443, 6)).toBe(fes[3]);
    expect(index.find(6, Uint32Array.from([0xfd000000, 0, 0, 0x10]), 443, 17)).toBeUndefined();
    // The IPv4 frontend's low word as an IPv6 address is another address.
    expect(index.find(6, Uint32Array.from(v4(0x0a60000a)), 53, 17)).toBeUndefined();
  });

  test('IPv6 addresses with one fold are told apart by their words', () => {
    // Words 0 and 1 chosen so the fold w0 ^ w1 * c1 is equal: w0 = x ^ (w1 * c1) for two w1.
    const c1 = 0x85ebca6b;
    const a = [0x20010db8 ^ Math.imul(1, c1), 1, 0, 7];
    const b = [0x20010db8 ^ Math.imul(2, c1), 2, 0, 7];
    const fes = [frontend(0, 6, a, 80, 'TCP'), frontend(1, 6, b, 80, 'TCP')];
    const index = new FrontendIndex(fes);
    expect(index.find(6, Uint32Array.from(a), 80, 6)).toBe(fes[0]);
    expect(index.find(6, Uint32Array.from(b), 80, 6)).toBe(fes[1]);
    expect(index.find(6, Uint32Array.from([a[0]!, 3, 0, 7]), 80, 6)).toBeUndefined();
  });

  test('agrees with a linear search over random frontends and probes', () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    const spec = fc.record({
      family: fc.constantFrom<4 | 6>(4, 6),
      words: fc.tuple(fc.constantFrom(0, 1, 0xfd000000), word, fc.constantFrom(0, 0xffff), fc.integer({ min: 0, max: 40 })),
      port: fc.integer({ min: 1, max: 6 }),
      protocol: fc.constantFrom<keyof typeof PROTOCOLS>('TCP', 'UDP', 'SCTP'),
    });
    fc.assert(
      fc.property(fc.array(spec, { maxLength: 60 }), fc.array(spec, { maxLength: 60 }), (specs, probes) => {
        const fes = specs.map((s, i) => frontend(i, s.family, s.family === 4 ? v4(s.words[3]) : [...s.words], s.port, s.protocol));
        const index = new FrontendIndex(fes);
        // Every loaded key, and random ones (mostly absent).
        const asked = [...specs, ...probes];
        for (const s of asked) {
          const words = Uint32Array.from(s.family === 4 ? v4(s.words[3]) : s.words);
          const protocol = PROTOCOLS[s.protocol];
          expect(index.find(s.family, words, s.port, protocol)).toBe(linear(fes, s.family, words, s.port, protocol));
        }
      }),
      { numRuns: 300 },
    );
  });
});
