/**
 * Nanosecond pcap (magic a1b23c4d): the nine fraction digits survive, as tcpdump printed them in
 * its own test output (tcpdump-tests/tcp-handshake-nano.out) and as tshark reads them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { readAllFrames } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { TCPDUMP_TESTS, parseBytes, readWithTshark } from '../helpers/capture-fixtures.js';

const NANO = join(TCPDUMP_TESTS, 'tcp-handshake-nano.pcap');

describe('nanosecond pcap', () => {
  it('tcp-handshake-nano.pcap: the fractions tcpdump printed in its test output', async () => {
    const frames = await readAllFrames(NANO);
    // tcpdump prints local time; the file's .out was made in UTC, so seconds-of-day compare directly.
    const printed = readFileSync(join(TCPDUMP_TESTS, 'tcp-handshake-nano.out'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => /(\d\d):(\d\d):(\d\d)\.(\d{9})/.exec(l)!)
      .map((m) => [Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]), Number(m[4])]);
    expect(frames.map((f) => [f.tsSec % 86400, f.tsNsec])).toEqual(printed);
    expect(frames.map((f) => f.linkType)).toEqual([LinkType.LINUX_SLL, LinkType.LINUX_SLL, LinkType.LINUX_SLL]);
  });

  it('tcp-handshake-nano.pcap agrees with tshark to the nanosecond', async () => {
    const ours = (await readAllFrames(NANO)).map((f) => [f.tsSec, f.tsNsec, f.caplen, f.length]);
    expect(ours).toEqual(readWithTshark(NANO).map((f) => [f.tsSec, f.tsNsec, f.caplen, f.length]));
  });

  it('big-endian nanosecond pcap reads the same as little-endian', () => {
    const packets = [
      { data: new Uint8Array(20).fill(1), tsSec: 1_700_000_000, tsNsec: 999_999_999 },
      { data: new Uint8Array(30).fill(2), tsSec: 1_700_000_001, tsNsec: 1 },
    ];
    const le = parseBytes(encodePcap(packets, { nanosecond: true })).frames;
    const be = parseBytes(encodePcap(packets, { nanosecond: true, bigEndian: true })).frames;
    expect(be).toEqual(le);
    expect(le.map((f) => [f.tsSec, f.tsNsec])).toEqual([
      [1_700_000_000, 999_999_999],
      [1_700_000_001, 1],
    ]);
  });

  it('an out-of-range fraction carries into the seconds instead of producing tsNsec >= 1e9', () => {
    const bytes = encodePcap([{ data: new Uint8Array(4), tsSec: 10 }], { nanosecond: true });
    new DataView(bytes.buffer).setUint32(24 + 4, 2_500_000_000, true);
    expect(parseBytes(bytes).frames.map((f) => [f.tsSec, f.tsNsec])).toEqual([[12, 500_000_000]]);
  });
});
