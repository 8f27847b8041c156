/**
 * Our reader and pcap-parser (the oracle) agree packet for packet on classic microsecond pcaps:
 * timestamps, lengths and bytes.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAllFrames } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { makeTempDir, parseBytes, randomPackets, readWithPcapParser, tcpdumpCaptures } from '../helpers/capture-fixtures.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

function isMicrosecondPcap(path: string): boolean {
  const magic = readFileSync(path).readUInt32BE(0);
  return magic === 0xa1b2c3d4 || magic === 0xd4c3b2a1;
}

async function expectAgreement(path: string): Promise<number> {
  const oracle = await readWithPcapParser(path);
  const ours = await readAllFrames(path);
  expect(ours.length).toBe(oracle.frames.length);
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = oracle.frames[i]!;
    expect({ i, tsSec: a.tsSec, tsNsec: a.tsNsec, caplen: a.caplen, length: a.length, linkType: a.linkType }).toEqual({
      i,
      tsSec: b.tsSec,
      tsNsec: b.tsUsec * 1000,
      caplen: b.caplen,
      length: b.length,
      linkType: oracle.linkType,
    });
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  }
  return ours.length;
}

describe('oracle agreement with pcap-parser', () => {
  // The tcpdump test captures plus the ones recorded for hubcap in pcaps/ (real namespaces).
  const pcaps = join(import.meta.dirname, '../../pcaps');
  const recorded = readdirSync(pcaps)
    .filter((f) => f.endsWith('.pcap'))
    .map((f) => join(pcaps, f));
  const micro = [...tcpdumpCaptures(), ...recorded].filter(isMicrosecondPcap);

  it('has microsecond tcpdump test captures to compare', () => {
    expect(micro.length).toBeGreaterThanOrEqual(8);
  });

  it.each(micro.map((p) => [p.split('/').pop()!, p]))('tcpdump test capture %s', async (_name, path) => {
    expect(await expectAgreement(path)).toBeGreaterThan(0);
  });

  it.each([
    ['little-endian', false],
    ['big-endian', true],
  ])('generated %s pcap with 3000 random packets', async (_name, bigEndian) => {
    const path = join(tmp.dir, `gen-${bigEndian ? 'be' : 'le'}.pcap`);
    writeFileSync(path, encodePcap(randomPackets(7, 3000), { bigEndian }));
    expect(await expectAgreement(path)).toBe(3000);
  });

  it('agrees when records straddle every read boundary (small chunks)', async () => {
    const path = join(tmp.dir, 'straddle.pcap');
    const bytes = encodePcap(randomPackets(11, 400, 1, 3000));
    writeFileSync(path, bytes);
    const oracle = await readWithPcapParser(path);
    const ours = parseBytes(bytes, [1, 7, 100, 4096, 3]).frames;
    expect(ours.map((f) => [f.tsSec, f.tsNsec, f.caplen, f.length, Buffer.from(f.data).toString('hex')])).toEqual(
      oracle.frames.map((f) => [f.tsSec, f.tsUsec * 1000, f.caplen, f.length, Buffer.from(f.data).toString('hex')]),
    );
  });
});
