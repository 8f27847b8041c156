/**
 * A capture cut inside its last record is a warning, not an error: every whole record before
 * the cut is delivered, CaptureStats has truncatedTail and one warning naming file and offset
 * (tcpdump does the same: "truncated dump file", packets before it printed).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { MAX_RECORD_BYTES } from '../../src/capture/format.js';
import { openCapture } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { TCPDUMP_TESTS, makeTempDir, parseBytes, randomPackets, tool } from '../helpers/capture-fixtures.js';
import { PcapngBuilder } from '../helpers/capture-pcapng-writer.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

/**
 * Where records end: the file header (or each pcapng block) and each packet record. A cut on
 * one of these is a clean end; `frameEnds` are the ends of the packet records only.
 */
function recordEnds(bytes: Uint8Array, pcapng: boolean): { ends: number[]; frameEnds: number[] } {
  const r = parseBytes(bytes);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ends: number[] = [];
  if (pcapng) {
    const le = dv.getUint32(8, true) === 0x1a2b3c4d;
    for (let p = 0; p < bytes.length; ) ends.push((p += dv.getUint32(p + 4, le)));
  } else {
    ends.push(24);
    for (const [i, o] of r.offsets.entries()) ends.push(o + 16 + r.frames[i]!.caplen);
  }
  const frameEnds = r.offsets.map((o) => ends.find((e) => e > o)!);
  return { ends, frameEnds };
}

describe('truncated last record', () => {
  it('pcap cut inside the last packet: the others delivered, one warning', () => {
    const bytes = encodePcap(randomPackets(3, 5, 100, 100)); // records of 116 bytes
    const cut = bytes.subarray(0, 24 + 4 * 116 + 50);
    const r = parseBytes(cut, [1 << 20], 'cut.pcap');
    expect(r.frames.length).toBe(4);
    expect(r.stats).toEqual({
      frames: 4,
      bytes: 400,
      truncatedTail: true,
      warnings: ['cut.pcap: byte 488: capture ends inside its last record (50 of 116 bytes); ignored it'],
    });
  });

  it('pcap cut inside the last record header', () => {
    const bytes = encodePcap(randomPackets(3, 2, 100, 100));
    const r = parseBytes(bytes.subarray(0, 24 + 116 + 5), [7], 'cut.pcap');
    expect(r.frames.length).toBe(1);
    expect(r.stats.truncatedTail).toBe(true);
    expect(r.stats.warnings).toEqual(['cut.pcap: byte 140: capture ends inside its last record (5 of 16 bytes); ignored it']);
  });

  it('pcapng cut inside the last block, and inside a huge skipped block', () => {
    const b = new PcapngBuilder().iface({ linkType: LinkType.ETHERNET });
    for (let i = 0; i < 3; i++) b.epb({ iface: 0, ts: BigInt(i), data: new Uint8Array(64) });
    const bytes = b.toBytes();
    const r = parseBytes(bytes.subarray(0, bytes.length - 10), [1 << 20], 'cut.pcapng');
    expect(r.frames.length).toBe(2);
    expect(r.stats.truncatedTail).toBe(true);
    expect(r.stats.warnings[0]).toMatch(/^cut\.pcapng: byte 240: capture ends inside its last block \(86 of 96 bytes\)/);

    const huge = b.block(0x0bad, new Uint8Array(MAX_RECORD_BYTES * 2)).toBytes();
    const r2 = parseBytes(huge.subarray(0, bytes.length + 100_000), [65536], 'cut.pcapng');
    expect(r2.frames.length).toBe(3);
    expect(r2.stats.truncatedTail).toBe(true);
    expect(r2.stats.warnings[0]).toMatch(/capture ends inside its last block \(100000 of 655372 bytes\)/);
  });

  // Every cut point of a small file, in both formats: never an error once the header is whole.
  const pcap = encodePcap(randomPackets(9, 6, 1, 90), { nanosecond: true });
  const pcapng = (() => {
    const b = new PcapngBuilder({ bigEndian: true }).iface({ linkType: LinkType.RAW, tsresol: 9 });
    for (const [i, p] of randomPackets(9, 6, 1, 90).entries()) b.epb({ iface: 0, ts: BigInt(i) * 1000n, data: p.data });
    return b.block(0x1234, new Uint8Array(20)).toBytes();
  })();
  it.each([
    ['pcap', pcap, false],
    ['pcapng', pcapng, true],
  ])('%s cut at every byte: whole records delivered, truncatedTail unless on a boundary', (_name, bytes, isNg) => {
    const { ends, frameEnds } = recordEnds(bytes, isNg);
    expect(frameEnds).toHaveLength(6);
    for (let len = ends[0]!; len <= bytes.length; len++) {
      const r = parseBytes(bytes.subarray(0, len), [len % 2 === 0 ? 1 << 20 : 5]);
      expect({ len, frames: r.frames.length, truncated: r.stats.truncatedTail }).toEqual({
        len,
        frames: frameEnds.filter((e) => e <= len).length,
        truncated: !ends.includes(len),
      });
    }
  });

  it('agrees with tcpdump on a truncated file (same packet count, and it also warns)', async () => {
    const src = readFileSync(join(TCPDUMP_TESTS, 'dns_tcp.pcap'));
    const path = join(tmp.dir, 'dns_tcp-cut.pcap');
    writeFileSync(path, src.subarray(0, src.length - 30));
    const stats = await openCapture(path).run(() => undefined);
    expect(stats.truncatedTail).toBe(true);
    expect(stats.warnings).toHaveLength(1);
    expect(stats.warnings[0]!.startsWith(`${path}: byte `)).toBe(true);
    const printed = tool('sh', ['-c', `tcpdump -n -r '${path}' 2>&1; true`]);
    expect(printed).toContain('truncated dump file');
    expect(stats.frames).toBe(printed.split('\n').filter((l) => /^\d\d:\d\d:/.test(l)).length);
  });
});
