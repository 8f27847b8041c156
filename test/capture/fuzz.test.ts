/**
 * Fuzz: random bytes, and real captures truncated, bit-flipped and with random 32-bit words
 * written over them, pushed in random chunks. Only CaptureError may escape; every frame handed
 * out lies inside its buffer with sane fields; the parser never holds more than one record.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { type Frame } from '../../src/capture/frame.js';
import { MAX_CAPLEN, MAX_RECORD_BYTES } from '../../src/capture/format.js';
import { CaptureParser } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { makeTempDir, randomPackets, tcpdumpCaptures, tool } from '../helpers/capture-fixtures.js';
import { PcapngBuilder, textOption } from '../helpers/capture-pcapng-writer.js';
import { join } from 'node:path';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

/** Parses with the given chunk sizes; returns 'ok' or 'capture-error', rethrows anything else. */
function fuzzParse(bytes: Uint8Array, sizes: number[]): 'ok' | 'capture-error' {
  const parser = new CaptureParser('fuzz', { chunkSize: Math.max(...sizes) });
  let expectIndex = 0;
  const sink = (f: Frame): void => {
    if (f.index !== expectIndex++) throw new Error(`index ${f.index}, expected ${expectIndex - 1}`);
    if (!(f.caplen >= 0 && f.caplen <= MAX_CAPLEN)) throw new Error(`caplen ${f.caplen}`);
    if (!(f.offset >= 0 && f.offset + f.caplen <= f.data.length)) throw new Error(`frame outside its buffer`);
    if (!(f.tsNsec >= 0 && f.tsNsec < 1e9 && Number.isInteger(f.tsNsec))) throw new Error(`tsNsec ${f.tsNsec}`);
    if (!Number.isFinite(f.tsSec)) throw new Error(`tsSec ${f.tsSec}`);
  };
  try {
    let k = 0;
    for (let at = 0; at < bytes.length; ) {
      const n = sizes[k++ % sizes.length]!;
      parser.push(bytes.subarray(at, at + n), sink);
      if (parser.bufferedBytes > MAX_RECORD_BYTES) throw new Error(`bufferedBytes ${parser.bufferedBytes}`);
      at += n;
    }
    parser.end();
    return 'ok';
  } catch (err) {
    if (err instanceof CaptureError) {
      if (err.message.includes('\n') || !err.message.startsWith('fuzz: byte ')) throw new Error(`bad message: ${err.message}`);
      return 'capture-error';
    }
    throw err;
  }
}

/** Real and generated captures of every kind, as seeds for mutation. */
function seeds(): Uint8Array[] {
  const out: Uint8Array[] = tcpdumpCaptures().map((p) => new Uint8Array(readFileSync(p)));
  for (const p of tcpdumpCaptures().slice(0, 4)) {
    const ng = join(tmp.dir, `${p.split('/').pop()}.pcapng`);
    tool('editcap', ['-F', 'pcapng', p, ng]);
    out.push(new Uint8Array(readFileSync(ng)));
  }
  out.push(encodePcap(randomPackets(1, 20, 1, 300), { bigEndian: true, nanosecond: true }));
  const b = new PcapngBuilder({ bigEndian: true })
    .iface({ linkType: 1, tsresol: 0x94, options: [textOption(2, 'eth0')] })
    .iface({ linkType: 276, tsresol: 9, tsoffset: 100n })
    .epb({ iface: 1, ts: 123n, data: new Uint8Array(40) })
    .spb(new Uint8Array(30))
    .block(0x0bad, new Uint8Array(16))
    .section()
    .iface({ linkType: 101 })
    .opb({ iface: 0, ts: 9n, data: new Uint8Array(20) });
  out.push(b.toBytes());
  return out;
}

const chunkings = fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 6 });

describe('fuzz', () => {
  it('random bytes, bare or behind a valid magic', () => {
    const magics = [
      [], [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0], [0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
      [0x0a, 0x0d, 0x0d, 0x0a], [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 3000 }), chunkings, (magic, rest, sizes) => {
        const bytes = new Uint8Array([...magic, ...rest]);
        fuzzParse(bytes, sizes);
      }),
      { numRuns: 3000 },
    );
  });

  it('real captures truncated, bit-flipped and overwritten', () => {
    const all = seeds();
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant('word' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 3, 12, 0xffffffff, 0x7fffffff, MAX_CAPLEN + 1, MAX_RECORD_BYTES + 4).chain((v) => fc.oneof(fc.constant(v), fc.nat())) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    );
    let errors = 0;
    let clean = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: all.length - 1 }), fc.array(mutation, { maxLength: 4 }), chunkings, (which, muts, sizes) => {
        let bytes = all[which]!.slice();
        const dv = (): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (const m of muts) {
          if (bytes.length === 0) break;
          const at = m.at % bytes.length;
          if (m.kind === 'flip') bytes[at]! ^= 1 << m.bit;
          else if (m.kind === 'word' && at + 4 <= bytes.length) dv().setUint32(at & ~3, m.value >>> 0, (m.at & 1) === 0);
          else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
        }
        if (fuzzParse(bytes, sizes) === 'ok') clean++;
        else errors++;
      }),
      { numRuns: 4000 },
    );
    // The mutations reach both outcomes (otherwise the fuzzer is not exploring much).
    expect(errors).toBeGreaterThan(100);
    expect(clean).toBeGreaterThan(100);
  });

  it('a file claiming huge records does not allocate them', () => {
    // Each of these headers claims gigabytes; the parser must refuse, not wait or allocate.
    const pcap = encodePcap([{ data: new Uint8Array(4) }]);
    new DataView(pcap.buffer).setUint32(24 + 8, 0xfffffff0, true);
    expect(fuzzParse(pcap, [1])).toBe('capture-error');
    const ng = new PcapngBuilder().iface({ linkType: 1 }).toBytes();
    const tail = new Uint8Array(12);
    new DataView(tail.buffer).setUint32(0, 6, true);
    new DataView(tail.buffer).setUint32(4, 0xfffffff0, true);
    expect(fuzzParse(new Uint8Array([...ng, ...tail]), [5])).toBe('capture-error');
  });
});
