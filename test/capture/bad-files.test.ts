/**
 * Files that cannot be captures are a CaptureError naming the file and the byte offset of the
 * bad header, whatever the chunking; never another exception, a hang or a partial success.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { LinkType } from '../../src/capture/frame.js';
import { MAX_CAPLEN, MAX_RECORD_BYTES } from '../../src/capture/format.js';
import { CaptureParser, openCapture } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { makeTempDir, parseBytes } from '../helpers/capture-fixtures.js';
import { PcapngBuilder, concat } from '../helpers/capture-pcapng-writer.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

const CHUNKINGS = [[1 << 20], [1], [7], [4096, 3]];

function expectCaptureError(bytes: Uint8Array, offset: number, reason: RegExp): CaptureError {
  let first: CaptureError | undefined;
  for (const sizes of CHUNKINGS) {
    let caught: unknown;
    try {
      parseBytes(bytes, sizes, 'bad.cap');
    } catch (err) {
      caught = err;
    }
    expect(caught, `chunk sizes ${sizes.join(',')}`).toBeInstanceOf(CaptureError);
    const e = caught as CaptureError;
    expect({ sizes, file: e.file, byteOffset: e.byteOffset, code: e.code }).toEqual({ sizes, file: 'bad.cap', byteOffset: offset, code: 'HUBCAP_ERR_CAPTURE' });
    expect(e.message).toMatch(reason);
    expect(e.message.startsWith(`bad.cap: byte ${offset}: `)).toBe(true);
    expect(e.message).not.toContain('\n');
    first ??= e;
  }
  return first!;
}

const pkt = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const le32 = (v: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

/** A valid LE microsecond pcap with two packets (24 + 16+60 + 16+70 bytes). */
const twoPackets = (): Uint8Array => encodePcap([{ data: pkt(60) }, { data: pkt(70) }]);

describe('classic pcap: bad headers', () => {
  it.each([
    ['empty file', new Uint8Array(0), 0, /empty file/],
    ['three bytes', Uint8Array.of(0xd4, 0xc3, 0xb2), 0, /too short for a capture file header \(3 bytes\)/],
    ['magic and half a header', twoPackets().subarray(0, 10), 0, /too short for a capture file header \(10 bytes\)/],
    ['header minus one byte', twoPackets().subarray(0, 23), 0, /too short/],
  ])('%s', (_name, bytes, offset, reason) => {
    expectCaptureError(bytes, offset, reason);
  });

  it('unknown magic', () => {
    expectCaptureError(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 0, /unknown magic 0x47455420: not a pcap or pcapng/);
  });

  it('gzip-compressed capture is named as such', () => {
    expectCaptureError(Uint8Array.of(0x1f, 0x8b, 8, 0, ...new Uint8Array(40)), 0, /gzip/);
  });

  it('unsupported version', () => {
    const b = twoPackets();
    new DataView(b.buffer).setUint16(4, 3, true);
    expectCaptureError(b, 4, /unsupported pcap version 3\.4/);
  });
});

describe('classic pcap: impossible record lengths', () => {
  it('caplen above 256 KiB in the second record names that record', () => {
    const b = twoPackets();
    new DataView(b.buffer).setUint32(24 + 76 + 8, MAX_CAPLEN + 1, true);
    expectCaptureError(b, 100, /captured length 262145 exceeds the maximum of 262144/);
  });

  it('a huge caplen in the last record header is an error, not a truncated tail', () => {
    const b = concat([twoPackets(), le32(0), le32(0), le32(0xffffffff), le32(60)]);
    expectCaptureError(b, 24 + 76 + 86, /captured length 4294967295/);
  });

  it('big-endian files are checked in their own byte order', () => {
    const b = encodePcap([{ data: pkt(60) }], { bigEndian: true });
    new DataView(b.buffer).setUint32(24 + 8, 0x00100000, false);
    expectCaptureError(b, 24, /captured length 1048576/);
  });
});

/** An LE pcapng: SHB (28) + IDB (20) + one EPB; offsets below are computed from it. */
function ng(): PcapngBuilder {
  return new PcapngBuilder().iface({ linkType: LinkType.ETHERNET });
}
const SHB_LEN = 28;
const IDB_LEN = 20;

describe('pcapng: bad blocks', () => {
  it('file ends inside the first section header block', () => {
    expectCaptureError(ng().toBytes().subarray(0, 20), 0, /ends inside the pcapng section header block/);
  });

  it('bad byte-order magic', () => {
    const b = ng().toBytes();
    new DataView(b.buffer).setUint32(8, 0x11223344, false);
    expectCaptureError(b, 0, /bad pcapng byte-order magic 0x11223344/);
  });

  it('unsupported version', () => {
    const b = new PcapngBuilder().section({ major: 2 }).toBytes().subarray(SHB_LEN);
    expectCaptureError(b, 0, /unsupported pcapng version 2\.0/);
  });

  it('section header block shorter than 28 bytes', () => {
    const b = ng().toBytes();
    const dv = new DataView(b.buffer);
    dv.setUint32(4, 24, true);
    expectCaptureError(b, 0, /section header block length 24 is less than 28/);
  });

  it('block total length below 12', () => {
    const b = concat([ng().toBytes(), le32(6), le32(8)]);
    expectCaptureError(concat([b, new Uint8Array(8)]), SHB_LEN + IDB_LEN, /block total length 8 is less than 12/);
  });

  it('block total length not a multiple of 4', () => {
    const b = ng().epb({ iface: 0, ts: 1n, data: pkt(60) }).toBytes();
    new DataView(b.buffer).setUint32(SHB_LEN + IDB_LEN + 4, 94, true);
    expectCaptureError(b, SHB_LEN + IDB_LEN, /block total length 94 is not a multiple of 4/);
  });

  it('leading and trailing block total lengths differ', () => {
    const b = ng().epb({ iface: 0, ts: 1n, data: pkt(60) }).epb({ iface: 0, ts: 2n, data: pkt(60) }).toBytes();
    const epbLen = 32 + 60;
    new DataView(b.buffer).setUint32(SHB_LEN + IDB_LEN + epbLen + epbLen - 4, 96, true);
    expectCaptureError(b, SHB_LEN + IDB_LEN + epbLen, /total length mismatch: 92 at the start, 96 at the end/);
  });

  it('trailing length of a huge skipped block is checked too', () => {
    const b = ng().block(0x0bad, new Uint8Array(MAX_RECORD_BYTES + 100)).toBytes();
    new DataView(b.buffer).setUint32(b.length - 4, 12, true);
    expectCaptureError(b, SHB_LEN + IDB_LEN, /total length mismatch: 327792 at the start, 12 at the end/);
  });

  it('packet block too large to buffer', () => {
    const b = concat([ng().toBytes(), le32(6), le32(MAX_RECORD_BYTES + 4), new Uint8Array(64)]);
    expectCaptureError(b, SHB_LEN + IDB_LEN, /exceeds the maximum of 327680/);
  });

  it('EPB referencing a missing interface', () => {
    expectCaptureError(
      new PcapngBuilder().epb({ iface: 0, ts: 1n, data: pkt(10) }).toBytes(),
      SHB_LEN,
      /packet block for interface 0, but the section describes 0 interfaces/,
    );
    expectCaptureError(
      ng().iface({ linkType: 1 }).epb({ iface: 2, ts: 1n, data: pkt(10) }).toBytes(),
      SHB_LEN + 2 * IDB_LEN,
      /interface 2, but the section describes 2 interfaces/,
    );
  });

  it('EPB referencing an interface of the previous section', () => {
    const b = ng().iface({ linkType: 1 }).section().iface({ linkType: 1 }).epb({ iface: 1, ts: 1n, data: pkt(10) }).toBytes();
    expectCaptureError(b, SHB_LEN + 2 * IDB_LEN + SHB_LEN + IDB_LEN, /interface 1, but the section describes 1 interface$/);
  });

  it('SPB without an interface', () => {
    expectCaptureError(new PcapngBuilder().spb(pkt(10)).toBytes(), SHB_LEN, /simple packet block, but the section describes no interface/);
  });

  it('EPB captured length overrunning its block', () => {
    const b = ng().epb({ iface: 0, ts: 1n, data: pkt(60) }).toBytes();
    new DataView(b.buffer).setUint32(SHB_LEN + IDB_LEN + 20, 64, true);
    expectCaptureError(b, SHB_LEN + IDB_LEN, /captured length 64 overruns its block of 92 bytes/);
  });

  it('EPB captured length above 256 KiB', () => {
    const b = ng().epb({ iface: 0, ts: 1n, data: pkt(60) }).toBytes();
    new DataView(b.buffer).setUint32(SHB_LEN + IDB_LEN + 20, 0x7fffffff, true);
    expectCaptureError(b, SHB_LEN + IDB_LEN, /captured length 2147483647 exceeds the maximum/);
  });

  it('interface option overrunning its block', () => {
    const b = new PcapngBuilder().iface({ linkType: 1, tsresol: 9 }).toBytes();
    // The if_tsresol option header sits right after the IDB's fixed part: claim 200 bytes.
    new DataView(b.buffer).setUint16(SHB_LEN + 16 + 2, 200, true);
    expectCaptureError(b, SHB_LEN + 16, /interface option 9 of 200 bytes overruns its block/);
  });
});

describe('errors are sticky and files are named', () => {
  it('a parser that failed keeps failing', () => {
    const p = new CaptureParser('x.pcap');
    expect(() => p.push(Uint8Array.of(1, 2, 3, 4, 5), () => undefined)).toThrow(CaptureError);
    expect(() => p.push(new Uint8Array(10), () => undefined)).toThrow(/x\.pcap: byte 0: unknown magic/);
    expect(() => p.end()).toThrow(CaptureError);
  });

  it('frames before the bad record were delivered, none after', () => {
    const b = concat([twoPackets(), le32(0), le32(0), le32(MAX_CAPLEN + 1), le32(0), new Uint8Array(40)]);
    const seen: number[] = [];
    const p = new CaptureParser('x.pcap');
    expect(() => p.push(b, (f) => seen.push(f.caplen))).toThrow(CaptureError);
    expect(seen).toEqual([60, 70]);
  });

  it('a missing file, a directory and an empty file through openCapture', async () => {
    const missing = join(tmp.dir, 'nope.pcap');
    await expect(openCapture(missing).run(() => undefined)).rejects.toThrow(`${missing}: byte 0: cannot open: no such file`);
    const dir = join(tmp.dir, 'adir');
    mkdirSync(dir);
    await expect(openCapture(dir).run(() => undefined)).rejects.toThrow(/is a directory/);
    const empty = join(tmp.dir, 'empty.pcap');
    writeFileSync(empty, '');
    const err = await openCapture(empty).run(() => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).message).toBe(`${empty}: byte 0: empty file: not a pcap or pcapng capture`);
  });
});
