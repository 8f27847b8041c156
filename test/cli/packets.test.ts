/**
 * `hubcap packets` end to end, through the real binary (`node bin/hubcap.js`, TS via tsx):
 * `-o json` agrees with tshark field by field and follows design.md §3's shape; the text lines
 * agree with tcpdump's own one-liners (run at test time, `-tttt --nano` in UTC); usage errors and
 * unreadable captures exit 2 with one line; reader warnings go to stderr.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { writeSyntheticCaptures } from '../helpers/decode-synthetic.js';
import { REPO_PCAPS, SHARED_CAPTURES, capturesIn, compareWithTshark, runTshark, type PacketView } from '../helpers/decode-tshark.js';

const ROOT = resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'hubcap-packets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const synthetic = writeSyntheticCaptures(tmp);
const realCaptures = [...capturesIn(SHARED_CAPTURES), ...capturesIn(REPO_PCAPS)];

function hubcap(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/hubcap.js'), ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

// Keys of design.md §3 in the order hubcap prints them.
const JSON_KEYS = [
  'time',
  'length',
  'caplen',
  'src',
  'dst',
  'protocol',
  'sport',
  'dport',
  'tcp_flags',
  'icmp_type',
  'icmp_code',
  'vlan',
  'vlan_inner',
  'fragment',
  'encap',
  'error',
];

describe('hubcap packets -o json agrees with tshark', () => {
  test.each([...realCaptures, synthetic[0]!, synthetic[2]!].map((f) => [basename(f), f]))('%s', (_name, file) => {
    const r = hubcap(['packets', file, '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const views = lines(r.stdout).map((l) => JSON.parse(l) as PacketView);
    const rows = runTshark(file);
    expect(views.length).toBe(rows.length);
    const problems: string[] = [];
    views.forEach((v, i) => {
      // Shape: only contract keys, in contract order, never null.
      const keys = Object.keys(v);
      expect(keys.every((k) => JSON_KEYS.includes(k))).toBe(true);
      expect(keys).toEqual([...keys].sort((a, b) => JSON_KEYS.indexOf(a) - JSON_KEYS.indexOf(b)));
      expect(Object.values(v)).not.toContain(null);
      expect(v.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      for (const d of compareWithTshark(v, rows[i]!)) problems.push(`frame ${i + 1}: ${d}`);
    });
    expect(problems).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Text output vs tcpdump

const TS = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} /;

/** tcpdump's output grouped per packet (continuation lines join the packet's first line). */
function tcpdumpPackets(file: string): string[] {
  const r = spawnSync('tcpdump', ['-n', '-tttt', '--nano', '-r', file], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 28 });
  const groups: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (TS.test(line)) groups.push(line);
    else if (line !== '' && groups.length > 0) groups[groups.length - 1] += `\n${line}`;
  }
  return groups;
}

/**
 * The parts of a hubcap text line that tcpdump prints the same way: the time, `IP a.p > b.q:`,
 * TCP `Flags [..]` and payload length, ICMP echo / ICMPv6 / ARP descriptions. Encapsulation and
 * VLAN prefixes are hubcap's own (tcpdump prints the outer packet first) and are skipped; after
 * a decode error only the addresses are compared (tcpdump prints `[|tcp]` there).
 * Each part is a list of accepted spellings.
 */
function comparableParts(line: string): { time: string; parts: string[][]; tcpLength?: number } {
  const time = line.slice(0, 29);
  let body = line.slice(30).replace(/^vlan [\d, ]+: /, '');
  body = body.replace(/^(VXLAN|Geneve)( vni \d+)?( \([^)]*\))?: /, '');
  const errored = / \[[a-z -]+\]$/.test(body);
  body = body.replace(/ \[[a-z -]+\]$/, '');
  const head = /^(IP6?) (\S+) > (\S+): (.*)$/.exec(body);
  if (!head) {
    // ARP: tcpdump prints the same sentence.
    return { time, parts: body.startsWith('ARP, Re') && !errored ? [[body]] : [] };
  }
  const [, ip, src, dst, rest] = head as unknown as [string, string, string, string, string];
  const addrs = [`${ip} ${src} > ${dst}:`];
  // With IPv6 extension headers tcpdump prints the ports after them: `IP6 a > b: HBH ... p > q:`.
  const ports = /^(.*)\.(\d+)$/;
  const s = ports.exec(src);
  const d = ports.exec(dst);
  const parts: string[][] = [addrs];
  if (s && d) {
    addrs.push(`${ip} ${s[1]} > ${d[1]}:`);
    parts.push([`${src} > ${dst}:`, ` ${s[2]} > ${d[2]}:`]);
  }
  if (errored) return { time, parts };
  const flags = /^Flags \[([^\]]+)\], length (\d+)/.exec(rest);
  if (flags) {
    // tcpdump 4.99.3 has no letter for NS; later versions print it as `e` (TH_AE), as hubcap does.
    const noNs = flags[1]!.replace('e', '') || 'none';
    parts.push([`Flags [${flags[1]}]`, `Flags [${noNs}]`]);
    return { time, parts, tcpLength: Number(flags[2]) };
  }
  if (/^ICMP echo (request|reply)/.test(rest)) parts.push([rest.replace(/, frag .*$/, '')]);
  const icmp6 = /^(ICMP6, [a-z0-9 ]+?)(, id \d+, seq \d+)?, length (\d+)$/.exec(rest);
  if (icmp6) parts.push([icmp6[1]!], [`length ${icmp6[3]}`]);
  return { time, parts };
}

describe('hubcap packets text agrees with tcpdump', () => {
  test.each([...realCaptures, synthetic[0]!].map((f) => [basename(f), f]))('%s', (_name, file) => {
    const r = hubcap(['packets', file]);
    expect(r.status).toBe(0);
    const ours = lines(r.stdout);
    const theirs = tcpdumpPackets(file);
    expect(ours.length).toBe(theirs.length);
    const problems: string[] = [];
    let compared = 0;
    ours.forEach((line, i) => {
      const td = theirs[i]!;
      const { time, parts, tcpLength } = comparableParts(line);
      if (!td.startsWith(time)) problems.push(`packet ${i + 1}: time ${time} vs ${td.slice(0, 29)}`);
      for (const spellings of parts) {
        compared++;
        if (!spellings.some((p) => td.includes(p))) problems.push(`packet ${i + 1}: "${spellings[0]}" not in tcpdump's "${td}"`);
      }
      if (tcpLength !== undefined) {
        const m = /Flags \[[^\]]+\].*?length (\d+)/.exec(td);
        if (m && Number(m[1]) !== tcpLength) problems.push(`packet ${i + 1}: TCP length ${tcpLength} vs ${m[1]}`);
      }
    });
    expect(problems).toEqual([]);
    expect(compared).toBeGreaterThan(0);
  });

  test('tcpdump-like shapes from the brief', () => {
    const vx = lines(hubcap(['packets', join(SHARED_CAPTURES, 'vxlan.pcap')]).stdout);
    expect(vx[0]).toMatch(/^2013-05-18 20:21:44\.837063000 VXLAN vni 100 \(192\.168\.203\.1 > 192\.168\.202\.1\): IP 192\.168\.203\.3 > 192\.168\.203\.5: ICMP echo request, id 1292, seq 1, length 64$/);
    expect(vx[1]).toContain('ARP, Request who-has 192.168.203.3 tell 192.168.203.5');
    const syn = lines(hubcap(['packets', join(SHARED_CAPTURES, 'dns_tcp.pcap')]).stdout);
    expect(syn[1]).toMatch(/ IP 209\.87\.249\.18\.53 > 192\.168\.1\.11\.33779: Flags \[S\.\], length 0$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Edges: stdin, usage, unreadable input, warnings

describe('hubcap packets edges', () => {
  const file = join(SHARED_CAPTURES, 'tcp-handshake-nano.pcap');

  test('- reads the capture from stdin', () => {
    const fromFile = hubcap(['packets', file, '-o', 'json']);
    const fromStdin = hubcap(['packets', '-', '-o', 'json'], readFileSync(file));
    expect(fromStdin.status).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(lines(fromStdin.stdout)).toHaveLength(3);
  });

  test('an unknown output format is a usage error: exit 2, one line', () => {
    const r = hubcap(['packets', file, '-o', 'yaml']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^hubcap: .*yaml/);
  });

  test('a missing capture: exit 2, one line naming the file', () => {
    const r = hubcap(['packets', join(tmp, 'nope.pcap')]);
    expect(r.status).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('nope.pcap');
  });

  test('a capture cut inside its last record: the complete frames, then a warning on stderr', () => {
    const whole = readFileSync(synthetic[5]!); // raw IP, 4 frames
    const cut = join(tmp, 'cut.pcap');
    writeFileSync(cut, whole.subarray(0, whole.length - 10));
    const r = hubcap(['packets', cut, '-o', 'json']);
    expect(r.status).toBe(0);
    expect(lines(r.stdout)).toHaveLength(3);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(/^hubcap: .*cut\.pcap/);
  });
});
