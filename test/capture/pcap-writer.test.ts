/**
 * The pcap writer: what it writes reads back identically (through our reader, tcpdump and
 * tshark), in both magics and byte orders, with the snaplen applied as tcpdump -s does.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { LinkType } from '../../src/capture/frame.js';
import { openCapture, readAllFrames } from '../../src/capture/open.js';
import { PcapEncoder, PcapWriter } from '../../src/capture/pcap-writer.js';
import { frameSummary, makeTempDir, parseBytes, randomPackets, readWithTshark, tcpdumpCaptures, tool } from '../helpers/capture-fixtures.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

describe('PcapWriter', () => {
  it.each([
    ['micro little-endian', false, false],
    ['micro big-endian', false, true],
    ['nano little-endian', true, false],
    ['nano big-endian', true, true],
  ])('%s: header, timestamps and lengths as tshark reads them', async (name, nanosecond, bigEndian) => {
    const path = join(tmp.dir, `${name.replace(/ /g, '-')}.pcap`);
    const packets = randomPackets(41, 300, 14, 1514);
    const w = new PcapWriter(path, { nanosecond, bigEndian, linkType: LinkType.ETHERNET, bufferSize: 4096 });
    for (const p of packets) w.writePacket(p);
    expect(w.packets).toBe(300);
    w.close();

    const magic = readFileSync(path).subarray(0, 4).toString('hex');
    expect(magic).toBe(
      { 'false,false': 'd4c3b2a1', 'false,true': 'a1b2c3d4', 'true,false': '4d3cb2a1', 'true,true': 'a1b23c4d' }[`${nanosecond},${bigEndian}`],
    );
    const expected = packets.map((p) => ({
      tsSec: p.tsSec!,
      tsNsec: nanosecond ? p.tsNsec! : Math.floor(p.tsNsec! / 1000) * 1000,
      caplen: p.data.length,
      length: p.length!,
    }));
    expect(readWithTshark(path).map(({ tsSec, tsNsec, caplen, length }) => ({ tsSec, tsNsec, caplen, length }))).toEqual(expected);
    const ours = await readAllFrames(path);
    expect(ours.map(({ tsSec, tsNsec, caplen, length }) => ({ tsSec, tsNsec, caplen, length }))).toEqual(expected);
    expect(ours.every((f, i) => Buffer.from(f.data).equals(Buffer.from(packets[i]!.data)))).toBe(true);
  });

  it('cuts packets to the snaplen and keeps the original length (tcpdump -s)', async () => {
    const path = join(tmp.dir, 'snap.pcap');
    const w = new PcapWriter(path, { snaplen: 96, linkType: LinkType.RAW });
    w.writePacket({ data: new Uint8Array(200).fill(7), tsSec: 1 });
    w.writePacket({ data: new Uint8Array(50).fill(8), tsSec: 2 });
    w.close();
    const frames = await readAllFrames(path);
    expect(frames.map((f) => [f.caplen, f.length, f.linkType])).toEqual([
      [96, 200, LinkType.RAW],
      [50, 50, LinkType.RAW],
    ]);
    expect(tool('tcpdump', ['-r', path, '-n', '-q', '--count']).trim()).toMatch(/^2 packets/);
  });

  it('copies frames from a reader: re-reading the copy gives the same frames', async () => {
    for (const src of tcpdumpCaptures()) {
      const nano = src.includes('nano');
      const first = await readAllFrames(src);
      const path = join(tmp.dir, `copy-${basename(src)}`);
      const w = new PcapWriter(path, { nanosecond: nano, linkType: first[0]!.linkType });
      await openCapture(src).run((f) => w.writeFrame(f));
      w.close();
      expect((await readAllFrames(path)).map(frameSummary)).toEqual(first.map(frameSummary));
    }
  });

  it('never writes more captured bytes than the data holds', () => {
    const parts: Uint8Array[] = [];
    const enc = new PcapEncoder({}, (b) => parts.push(b.slice()));
    // Asks for 100 bytes at offset 4 of a 10-byte array: only 6 exist.
    enc.writeRecord(new Uint8Array(10).fill(3), 4, 100, 100, 1, 0);
    enc.flush();
    const frames = parseBytes(Uint8Array.from(Buffer.concat(parts))).frames;
    expect(frames.map((f) => [f.caplen, f.length, Array.from(f.data)])).toEqual([[6, 100, [3, 3, 3, 3, 3, 3]]]);
    expect(enc.packets).toBe(1);
  });

  it('writes to an fd it does not own and leaves it open', async () => {
    const path = join(tmp.dir, 'fd.pcap');
    const fd = openSync(path, 'w');
    const w = new PcapWriter(fd, { nanosecond: true });
    w.writePacket({ data: new Uint8Array(60), tsSec: 5, tsNsec: 123_456_789 });
    w.close();
    closeSync(fd); // would throw EBADF if the writer had closed it
    expect((await readAllFrames(path)).map((f) => [f.tsSec, f.tsNsec])).toEqual([[5, 123_456_789]]);
  });

  it('a path that cannot be created is a CaptureError', () => {
    expect(() => new PcapWriter(join(tmp.dir, 'no/such/dir/x.pcap'))).toThrow(CaptureError);
    expect(() => new PcapWriter(join(tmp.dir, 'no/such/dir/x.pcap'))).toThrow(/cannot create: ENOENT/);
  });
});
