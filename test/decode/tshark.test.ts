/**
 * Acceptance: the decoder agrees with tshark, field by field (addresses, ports, protocol, TCP
 * flags, ICMP type and code and quoted tuple, VLAN ids, fragments, VXLAN/Geneve inner packet,
 * outer addresses and VNI, lengths, timestamps) on every capture in the shared tcpdump test
 * captures, in the repository's pcaps/ folder (globbed when the test runs, so captures added
 * later are covered too), and on hand-built captures of every link type hubcap reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readAllFrames } from '../../src/capture/open.js';
import { decodeBytes } from '../../src/decode/decode.js';
import { formatPacketJson } from '../../src/decode/format.js';
import { DecodedPacket, PacketKind } from '../../src/decode/packet.js';
import { writeSyntheticCaptures } from '../helpers/decode-synthetic.js';
import {
  REPO_PCAPS,
  SHARED_CAPTURES,
  capturesIn,
  compareWithTshark,
  icmpInnerOf,
  runTshark,
  type PacketView,
} from '../helpers/decode-tshark.js';

const synthDir = mkdtempSync(join(tmpdir(), 'hubcap-decode-'));
afterAll(() => rmSync(synthDir, { recursive: true, force: true }));

const files = [...capturesIn(SHARED_CAPTURES), ...capturesIn(REPO_PCAPS), ...writeSyntheticCaptures(synthDir)];

async function hubcapViews(file: string): Promise<PacketView[]> {
  const frames = await readAllFrames(file);
  const p = new DecodedPacket();
  return frames.map((f) => {
    decodeBytes(f.data, 0, f.caplen, f.length, f.linkType, p);
    const view = JSON.parse(formatPacketJson(f, p)) as PacketView;
    view.icmpInner = icmpInnerOf(p, p.kind === PacketKind.ICMPV6 ? 6 : 4);
    return view;
  });
}

describe('decoder agrees with tshark', () => {
  test('the shared captures are there', () => {
    expect(capturesIn(SHARED_CAPTURES).length).toBeGreaterThanOrEqual(10);
  });

  test.each(files.map((f) => [basename(f), f]))('%s', async (_name, file) => {
    const rows = runTshark(file);
    const views = await hubcapViews(file);
    expect(views.length).toBe(rows.length);
    expect(views.length).toBeGreaterThan(0);
    const problems: string[] = [];
    views.forEach((v, i) => {
      for (const d of compareWithTshark(v, rows[i]!)) problems.push(`frame ${i + 1}: ${d}`);
    });
    expect(problems).toEqual([]);
  });
});

describe('the comparison itself catches disagreements', () => {
  // Mutate one field of a correct view at a time: each must be reported.
  const mutations: Array<[string, (v: PacketView) => void]> = [
    ['inner source address', (v) => (v.src = '192.0.2.99')],
    ['destination port', (v) => (v.dport = (v.dport ?? 0) + 1)],
    ['protocol', (v) => (v.protocol = 'udp')],
    ['TCP flags', (v) => (v.tcp_flags = { RST: true })],
    ['VNI', (v) => (v.encap = { ...v.encap!, vni: 1 })],
    ['outer address', (v) => (v.encap = { ...v.encap!, outer: { ...v.encap!.outer!, src: '10.9.9.9' } })],
    ['missing encap', (v) => delete v.encap],
    ['length', (v) => (v.length += 1)],
    ['timestamp', (v) => (v.time = v.time.replace(/\d{3}Z$/, '999Z'))],
    ['an error tshark does not see', (v) => (v.error = 'truncated transport header')],
  ];

  test.each(mutations)('%s', async (_name, mutate) => {
    // Frame 3 of geneve.pcap: Geneve vni 11 carrying TCP SYN 30.0.0.2.51225 > 30.0.0.1.22.
    const file = join(SHARED_CAPTURES, 'geneve.pcap');
    const row = runTshark(file)[2]!;
    const view = (await hubcapViews(file))[2]!;
    expect(compareWithTshark(view, row)).toEqual([]);
    mutate(view);
    expect(compareWithTshark(view, row)).not.toEqual([]);
  });
});
