/**
 * pcapng times are 64-bit counts of if_tsresol units plus a signed if_tsoffset, so a corrupt
 * interface block can put packets billions of years away. Flows print times as RFC 3339 (Hubble's
 * protobuf Timestamp, years 0001..9999); fuzzing found `-o json` lines such as
 * "879572-07-31T10:00:00.234375000Z" that break the published schema. A packet outside those
 * years is now a CaptureError at its block, as other impossible block contents are.
 */
import { describe, expect, test } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { parseBytes } from '../helpers/capture-fixtures.js';
import { PcapngBuilder } from '../helpers/capture-pcapng-writer.js';

const DATA = Uint8Array.from({ length: 60 }, (_, i) => i);

function capture(iface: { tsresol?: number; tsoffset?: bigint }, ts: bigint): Uint8Array {
  const ng = new PcapngBuilder();
  ng.iface({ linkType: 1, ...iface });
  ng.epb({ iface: 0, ts, data: DATA });
  ng.epb({ iface: 0, ts, data: DATA });
  return ng.toBytes();
}

describe('pcapng packet times outside the years 0001..9999', () => {
  test.each([
    ['a huge if_tsoffset', { tsoffset: 0x7fffffffffffffffn }, 0n],
    ['a hugely negative if_tsoffset', { tsoffset: -0x7fffffffffffffffn }, 0n],
    ['if_tsresol 1 s and an all-ones timestamp', { tsresol: 0 }, 0xffffffffffffffffn],
    ['just after 9999-12-31T23:59:59Z', { tsresol: 0 }, 253402300800n],
  ])('%s is a CaptureError at the first packet block', (_name, iface, ts) => {
    const bytes = capture(iface, ts);
    let caught: unknown;
    try {
      parseBytes(bytes, [bytes.length], 'far.pcapng');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CaptureError);
    const e = caught as CaptureError;
    // The section header and the interface block come first; the error names the first EPB.
    expect(e.message).toMatch(/^far\.pcapng: byte \d+: packet time -?\d+ s since 1970 is outside the years 0001\.\.9999 \(interface 0's if_tsresol \/ if_tsoffset\)$/);
    expect(e.byteOffset).toBe(bytes.length - 2 * (32 + DATA.length));
  });

  test.each([
    ['9999-12-31T23:59:59Z', { tsresol: 0 }, 253402300799n, 253402300799],
    ['0001-01-01T00:00:00Z', { tsresol: 0, tsoffset: -62135596800n }, 0n, -62135596800],
  ])('the edge %s is read', (_name, iface, ts, sec) => {
    const bytes = capture(iface, ts);
    const parsed = parseBytes(bytes, [bytes.length], 'edge.pcapng');
    expect(parsed.frames.map((f) => f.tsSec)).toEqual([sec, sec]);
  });
});
