/**
 * `--write-enforced` writes classic pcap, whose record header holds the seconds as a uint32
 * (1970..2106). A pcapng input can carry later or earlier times (if_tsoffset, if_tsresol); such
 * a frame used to be written with its seconds wrapped (year 2128 came out as 1992) without a
 * word. Now it is one CaptureError naming the output file and the frame, exit 2.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { makeTempDir } from '../helpers/capture-fixtures.js';
import { runHubcap } from '../helpers/cli.js';
import { PcapngBuilder } from '../helpers/capture-pcapng-writer.js';
import { ethernet, ipv4, tcp } from '../helpers/decode-build.js';

const tmp = makeTempDir('hubcap-enforced-time-');
afterAll(tmp.cleanup);

const SYN = 0x02;
const PACKET = ethernet(0x0800, ipv4({ src: '10.5.1.10', dst: '10.5.1.20', proto: 6 }, tcp({ sport: 40000, dport: 80, flags: SYN })));

function captureWithOffset(name: string, tsoffset: bigint): string {
  const ng = new PcapngBuilder();
  ng.iface({ linkType: 1, tsresol: 6, tsoffset });
  ng.epb({ iface: 0, ts: 0n, data: PACKET });
  const file = join(tmp.dir, name);
  writeFileSync(file, ng.toBytes());
  return file;
}

function replay(capture: string, out: string) {
  return runHubcap(['replay', capture, '--cluster', 'examples/l7/cluster', '--policy', 'examples/l7/policies/http', '-q', '-o', 'summary', '--write-enforced', out]);
}

describe('--write-enforced and times pcap cannot hold', () => {
  test.each([
    ['after 2106', 5_000_000_000n, 5_000_000_000],
    ['before 1970', -5n, -5],
  ])('a frame %s is refused, not wrapped', (_name, offset, seconds) => {
    const out = join(tmp.dir, `out-${offset}.pcap`);
    const r = replay(captureWithOffset(`in-${offset}.pcapng`, offset), out);
    expect(r.stderr.trim()).toBe(`hubcap: ${out}: byte 0: --write-enforced writes classic pcap, whose times end in 2106: frame 0 is at ${seconds} s since 1970`);
    expect(r.status).toBe(2);
  });

  test('the last second pcap can hold is written as it is', () => {
    const out = join(tmp.dir, 'out-last.pcap');
    const r = replay(captureWithOffset('in-last.pcapng', 0xffffffffn), out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const packets = runHubcap(['packets', out, '-o', 'json']);
    expect(JSON.parse(packets.stdout.split('\n')[0]!).time).toBe('2106-02-07T06:28:15.000000000Z');
  });
});
