/**
 * pcapng: files converted by editcap and files built block by block (several interfaces with
 * different link types and if_tsresol, both byte orders, several sections, SPB, OPB, unknown
 * and huge blocks, options), checked against tshark where tshark can speak for them.
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { MAX_RECORD_BYTES } from '../../src/capture/format.js';
import { readAllFrames } from '../../src/capture/open.js';
import {
  frameSummary,
  makeTempDir,
  parseBytes,
  prng,
  readWithTshark,
  tcpdumpCaptures,
  tool,
} from '../helpers/capture-fixtures.js';
import { PcapngBuilder, textOption } from '../helpers/capture-pcapng-writer.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

function bytesOf(seed: number, n: number): Uint8Array {
  const rnd = prng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
}

describe('pcapng converted by editcap', () => {
  const sources = tcpdumpCaptures();
  it.each(sources.map((p) => [basename(p), p]))('%s as pcapng reads like the original', async (_name, path) => {
    const ng = join(tmp.dir, `${basename(path)}.pcapng`);
    tool('editcap', ['-F', 'pcapng', path, ng]);
    const original = (await readAllFrames(path)).map(frameSummary);
    const converted = await readAllFrames(ng);
    expect(converted.map(frameSummary)).toEqual(original);
    expect(converted.every((f) => f.interfaceId === 0)).toBe(true);
  });

  const recorded = join(import.meta.dirname, '../../pcaps/foundation-dns.pcapng');
  it('a pcapng recorded by tcpdump agrees with tshark', async () => {
    const ours = await readAllFrames(recorded);
    const theirs = readWithTshark(recorded);
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.map((f) => [f.tsSec, f.tsNsec, f.length, f.caplen, f.interfaceId])).toEqual(
      theirs.map((f) => [f.tsSec, f.tsNsec, f.length, f.caplen, f.interfaceId]),
    );
  });
});

/** Four interfaces with different link types and clocks, packets interleaved across them. */
function multiInterface(bigEndian: boolean) {
  const ifaces = [
    { linkType: LinkType.ETHERNET, tsresol: undefined, perSec: 1_000_000n },
    { linkType: LinkType.LINUX_SLL2, tsresol: 9, perSec: 1_000_000_000n },
    { linkType: LinkType.RAW, tsresol: 0x94, perSec: 1n << 20n }, // 2^-20 s
    { linkType: LinkType.NULL, tsresol: 3, perSec: 1000n },
  ];
  const b = new PcapngBuilder({ bigEndian });
  for (const i of ifaces) {
    b.iface({ linkType: i.linkType, tsresol: i.tsresol, options: [textOption(2, `if${i.linkType}`), textOption(1, 'a comment of odd length')] });
  }
  const expected: Array<{ iface: number; tsSec: number; tsNsec: number; data: string; length: number }> = [];
  const rnd = prng(42);
  for (let k = 0; k < 200; k++) {
    const iface = Math.floor(rnd() * ifaces.length);
    const { perSec } = ifaces[iface]!;
    const sec = 1_732_240_000n + BigInt(k);
    const frac = BigInt(Math.floor(rnd() * Number(perSec)));
    const data = bytesOf(k, 1 + Math.floor(rnd() * 200));
    const length = data.length + (k % 5 === 0 ? 1000 : 0);
    b.epb({ iface, ts: sec * perSec + frac, data, length, options: k % 3 === 0 ? [textOption(1, 'pkt comment')] : [] });
    expected.push({
      iface,
      tsSec: Number(sec),
      tsNsec: Number((frac * 1_000_000_000n) / perSec),
      data: Buffer.from(data).toString('hex'),
      length,
    });
  }
  return { bytes: b.toBytes(), expected, ifaces };
}

describe('pcapng built block by block', () => {
  it.each([
    ['little-endian', false],
    ['big-endian', true],
  ])('several interfaces with different link types and if_tsresol (%s)', (_name, bigEndian) => {
    const { bytes, expected, ifaces } = multiInterface(bigEndian);
    const got = parseBytes(bytes, [bytes.length]).frames;
    expect(
      got.map((f) => ({ iface: f.interfaceId, tsSec: f.tsSec, tsNsec: f.tsNsec, data: Buffer.from(f.data).toString('hex'), length: f.length })),
    ).toEqual(expected);
    expect(got.map((f) => f.linkType)).toEqual(expected.map((e) => ifaces[e.iface]!.linkType));
  });

  it('agrees with tshark on the same multi-interface file, in both byte orders', () => {
    for (const bigEndian of [false, true]) {
      const { bytes } = multiInterface(bigEndian);
      const path = join(tmp.dir, `multi-${bigEndian ? 'be' : 'le'}.pcapng`);
      writeFileSync(path, bytes);
      const ours = parseBytes(bytes).frames.map((f) => [f.tsSec, f.tsNsec, f.length, f.caplen, f.interfaceId]);
      const theirs = readWithTshark(path).map((f) => [f.tsSec, f.tsNsec, f.length, f.caplen, f.interfaceId]);
      expect(ours).toEqual(theirs);
    }
  });

  it('reads the same frames whatever the chunking', () => {
    const { bytes } = multiInterface(false);
    const whole = parseBytes(bytes).frames.map(frameSummary);
    for (const sizes of [[1], [3], [13, 1, 64], [4096]]) {
      expect(parseBytes(bytes, sizes).frames.map(frameSummary)).toEqual(whole);
    }
  });

  it('restarts interface ids per section; each section has its own byte order', () => {
    const b = new PcapngBuilder({ bigEndian: false })
      .iface({ linkType: LinkType.ETHERNET })
      .iface({ linkType: LinkType.RAW, tsresol: 9 })
      .epb({ iface: 1, ts: 5_000_000_123n, data: bytesOf(1, 20) })
      .section({ bigEndian: true })
      .iface({ linkType: LinkType.LINUX_SLL, tsresol: 9 })
      .epb({ iface: 0, ts: 7_000_000_001n, data: bytesOf(2, 30) })
      .section({ bigEndian: false })
      .iface({ linkType: LinkType.LOOP })
      .epb({ iface: 0, ts: 9_000_002n, data: bytesOf(3, 40) });
    const bytes = b.toBytes();
    const got = parseBytes(bytes, [5]).frames;
    expect(got.map((f) => [f.interfaceId, f.linkType, f.tsSec, f.tsNsec, f.caplen])).toEqual([
      [1, LinkType.RAW, 5, 123, 20],
      [0, LinkType.LINUX_SLL, 7, 1, 30],
      [0, LinkType.LOOP, 9, 2000, 40],
    ]);
    const path = join(tmp.dir, 'sections.pcapng');
    writeFileSync(path, bytes);
    expect(readWithTshark(path).map((f) => [f.interfaceId, f.tsSec, f.tsNsec, f.caplen])).toEqual(
      got.map((f) => [f.interfaceId, f.tsSec, f.tsNsec, f.caplen]),
    );
  });

  it('applies if_tsoffset', () => {
    const bytes = new PcapngBuilder()
      .iface({ linkType: LinkType.ETHERNET, tsresol: 9, tsoffset: 1_600_000_000n })
      .epb({ iface: 0, ts: 2_500_000_000n, data: bytesOf(4, 60) })
      .toBytes();
    expect(parseBytes(bytes).frames.map((f) => [f.tsSec, f.tsNsec])).toEqual([[1_600_000_002, 500_000_000]]);
  });

  it('reads Simple Packet Blocks on interface 0: captured length min(original, snaplen, block)', () => {
    const data = bytesOf(5, 100);
    const bytes = new PcapngBuilder({ bigEndian: true })
      .iface({ linkType: LinkType.LINUX_SLL2, snaplen: 64 })
      .spb(data.subarray(0, 64), 100) // cut by the snaplen
      .spb(data.subarray(0, 50), 50)
      .iface({ linkType: LinkType.ETHERNET })
      .spb(data.subarray(0, 10), 10)
      .toBytes();
    const got = parseBytes(bytes, [7]).frames;
    expect(got.map((f) => [f.caplen, f.length, f.linkType, f.interfaceId, f.tsSec, f.tsNsec])).toEqual([
      [64, 100, LinkType.LINUX_SLL2, 0, 0, 0],
      [50, 50, LinkType.LINUX_SLL2, 0, 0, 0],
      [10, 10, LinkType.LINUX_SLL2, 0, 0, 0],
    ]);
    expect(Buffer.from(got[0]!.data).equals(Buffer.from(data.subarray(0, 64)))).toBe(true);
  });

  it('reads Obsolete Packet Blocks (16-bit interface id)', () => {
    const bytes = new PcapngBuilder()
      .iface({ linkType: LinkType.ETHERNET })
      .iface({ linkType: LinkType.RAW })
      .opb({ iface: 1, ts: 3_000_004n, data: bytesOf(6, 33) })
      .toBytes();
    expect(parseBytes(bytes).frames.map((f) => [f.interfaceId, f.linkType, f.tsSec, f.tsNsec, f.caplen])).toEqual([
      [1, LinkType.RAW, 3, 4000, 33],
    ]);
  });

  it('skips unknown, statistics, name-resolution and custom blocks, small and huge', () => {
    const huge = MAX_RECORD_BYTES * 3 + 4; // streamed past, never buffered
    const b = new PcapngBuilder()
      .block(0x00000bad, bytesOf(7, 17))
      .iface({ linkType: LinkType.ETHERNET })
      .block(4, bytesOf(8, 40)) // NRB
      .epb({ iface: 0, ts: 1_000_000n, data: bytesOf(9, 60) })
      .block(5, bytesOf(10, 24), [textOption(1, 'isb')]) // ISB
      .block(0x40000bad, new Uint8Array(huge)) // custom, huge
      .epb({ iface: 0, ts: 2_000_000n, data: bytesOf(11, 70) })
      .block(0x0000000a, bytesOf(12, 12)); // DSB
    const bytes = b.toBytes();
    for (const sizes of [[bytes.length], [1 << 16], [1000, 7], [MAX_RECORD_BYTES + 1]]) {
      const r = parseBytes(bytes, sizes);
      expect(r.frames.map((f) => [f.tsSec, f.caplen])).toEqual([
        [1, 60],
        [2, 70],
      ]);
      expect(r.stats.truncatedTail).toBe(false);
      expect(r.maxBuffered).toBeLessThanOrEqual(MAX_RECORD_BYTES);
    }
  });

  it('skips a huge section header block (large options) and still reads its section', () => {
    const big = textOption(1, 'x'.repeat(65_000));
    const b = new PcapngBuilder();
    b.section({ options: Array.from({ length: 6 }, () => big) });
    b.iface({ linkType: LinkType.RAW, tsresol: 9 }).epb({ iface: 0, ts: 1_000_000_001n, data: bytesOf(13, 20) });
    const bytes = b.toBytes();
    const r = parseBytes(bytes, [4096]);
    expect(r.frames.map((f) => [f.linkType, f.tsSec, f.tsNsec])).toEqual([[LinkType.RAW, 1, 1]]);
    expect(r.maxBuffered).toBeLessThanOrEqual(MAX_RECORD_BYTES);
  });

  it('ignores unknown and wrongly sized interface options, honours if_tsresol after them', () => {
    const bytes = new PcapngBuilder()
      .iface({
        linkType: LinkType.ETHERNET,
        tsresol: 9,
        options: [
          { code: 0x1234, value: bytesOf(14, 3) },
          { code: 14, value: bytesOf(15, 5) }, // if_tsoffset must be 8 bytes: ignored
          { code: 0x8001, value: new Uint8Array(0) },
        ],
      })
      .epb({ iface: 0, ts: 1_000_000_007n, data: bytesOf(16, 20) })
      .toBytes();
    expect(parseBytes(bytes).frames.map((f) => [f.tsSec, f.tsNsec])).toEqual([[1, 7]]);
  });
});
