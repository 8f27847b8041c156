/**
 * `hubcap replay CAPTURE --write-enforced OUT.pcap` end to end (issue 5, item 5): the capture as
 * the wire would carry it after enforcement, read back with hubcap (`packets -o json`, and a
 * replay of it under the same policies) and with tshark (checksums, TCP analysis, HTTP and DNS).
 *
 * Expected outcomes: docs.cilium.io "Getting Started with the Star Wars Demo" (tiefighter's PUT
 * /v1/exhaust-port answered "Access denied", xwing's traffic dropped), docs.cilium.io "Layer 7
 * Policies" ("an HTTP 403 access denied is sent back"; a denied DNS request gets "a DNS REFUSED
 * response"); the 403's bytes are Envoy's local reply as src/proxy/envoy.ts writes it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { envoyAccessDenied } from '../../src/proxy/envoy.js';
import { makeTempDir, tool } from '../helpers/capture-fixtures.js';
import { runHubcap } from '../helpers/cli.js';
import { DROP, finals, l7, type Flow } from '../helpers/l7-capture.js';

const tmp = makeTempDir('hubcap-write-enforced-');
afterAll(() => tmp.cleanup());

interface Case {
  capture: string;
  cluster: string;
  policy: string;
}

const STARWARS_L7: Case = { capture: 'pcaps/starwars-deathstar.pcap', cluster: 'examples/starwars/cluster', policy: 'examples/starwars/policies-l7' };
const STARWARS_L34: Case = { capture: 'pcaps/starwars-deathstar.pcap', cluster: 'examples/starwars/cluster', policy: 'examples/starwars/policies' };
const STARWARS_NODE_L7: Case = { capture: 'pcaps/starwars-node-sll2.pcap', cluster: 'examples/starwars/cluster', policy: 'examples/starwars/policies-l7' };
const L7_HTTP: Case = { capture: 'pcaps/l7-http.pcap', cluster: 'examples/l7/cluster', policy: 'examples/l7/policies/http' };
const L7_DNS: Case = { capture: 'pcaps/l7-dns.pcap', cluster: 'examples/l7/cluster', policy: 'examples/l7/policies/dns' };

function jsonLines<T>(stdout: string): T[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

function replay(capture: string, c: Case, extra: string[] = []): Flow[] {
  const r = runHubcap(['replay', capture, '--cluster', c.cluster, '--policy', c.policy, '-o', 'json', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return jsonLines<{ flow: Flow }>(r.stdout).map((l) => l.flow);
}

interface Enforced {
  /** The enforced capture's path. */
  out: string;
  /** Flows of the replay that wrote it. */
  flows: Flow[];
  /** Flows of a replay of the enforced capture under the same policies. */
  again: Flow[];
}

const cache = new Map<Case, Enforced>();
function enforce(c: Case): Enforced {
  let e = cache.get(c);
  if (!e) {
    const out = join(tmp.dir, `${cache.size}-${c.capture.replace(/\W+/g, '_')}.pcap`);
    const flows = replay(c.capture, c, ['--write-enforced', out]);
    e = { out, flows, again: replay(out, c) };
    cache.set(c, e);
  }
  return e;
}

interface PacketLine {
  time: string;
  length: number;
  caplen: number;
  src?: string;
  dst?: string;
  protocol?: string;
  sport?: number;
  dport?: number;
}

function packets(file: string): PacketLine[] {
  const r = runHubcap(['packets', file, '-o', 'json']);
  expect(r.status, r.stderr).toBe(0);
  return jsonLines<PacketLine>(r.stdout);
}

interface TsharkRow {
  n: number;
  time: string;
  /** Checksum statuses (tshark: 0 bad, 1 good, 2 unverified) of IP, TCP, UDP. */
  status: string[];
  experts: string[];
  httpCode: string;
  dnsRcode: string;
  tcpSrc: string;
  tcpDst: string;
  /** The frame's bytes in hex (to tell rewritten frames from copied ones). */
  hex: string;
}

function tshark(file: string): TsharkRow[] {
  const fields = ['frame.number', 'frame.time_epoch', 'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', '_ws.expert.message', 'http.response.code', 'dns.flags.rcode', 'tcp.srcport', 'tcp.dstport'];
  const text = tool('tshark', [
    '-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f]),
  ]);
  const hex = frameHex(file);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      const [n, time, ip, tcp, udp, expert, code, rcode, sp, dp] = l.split('|');
      return {
        n: Number(n),
        time: time!,
        status: [ip, tcp, udp].flatMap((s) => (s ? s.split(',') : [])),
        experts: expert ? expert.split(',') : [],
        httpCode: code ?? '',
        dnsRcode: rcode ?? '',
        tcpSrc: sp ?? '',
        tcpDst: dp ?? '',
        hex: hex[i] ?? '',
      };
    });
}

/** Each frame's bytes as hex, in order (from the pcap records themselves). */
function frameHex(file: string): string[] {
  const b = readFileSync(file);
  const le = b.readUInt32LE(0) === 0xa1b2c3d4 || b.readUInt32LE(0) === 0xa1b23c4d;
  const out: string[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const caplen = le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
    out.push(b.subarray(at + 16, at + 16 + caplen).toString('hex'));
    at += 16 + caplen;
  }
  return out;
}

/** TCP analysis notes that point at a broken conversation (and bad checksums). */
const PROBLEM = /previous segment not captured|ACKed unseen|out-of-order|Duplicate ACK|retransmission|Bad checksum|Malformed|bogus/i;

function problemCounts(rows: TsharkRow[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rows) {
    for (const e of r.experts) {
      if (!PROBLEM.test(e)) continue;
      const kind = e.replace(/\[should be 0x[0-9a-f]+\]/, '').replace(/\(#\d+\)/, '').trim();
      m.set(kind, (m.get(kind) ?? 0) + 1);
    }
  }
  return m;
}

/** No kind of problem is more frequent in the output than in the input. */
function expectNoNewProblems(input: TsharkRow[], output: TsharkRow[]): void {
  const before = problemCounts(input);
  const after = problemCounts(output);
  const introduced = [...after].filter(([k, n]) => n > (before.get(k) ?? 0));
  expect(introduced, JSON.stringify(output.filter((r) => r.experts.some((e) => PROBLEM.test(e))).map((r) => [r.n, r.experts]))).toEqual([]);
}

/** Every frame that is not a copy of an input frame has good checksums. */
function expectRewrittenChecksumsGood(input: TsharkRow[], output: TsharkRow[]): number {
  const original = new Set(input.map((r) => r.hex));
  const rewritten = output.filter((r) => !original.has(r.hex));
  for (const r of rewritten) expect(r.status.includes('0'), `frame ${r.n}: ${r.status.join(',')} ${r.experts.join(',')}`).toBe(false);
  return rewritten.length;
}

const epochOf = (rfc3339: string): string => {
  const [date, frac = '0'] = rfc3339.replace(/Z$/, '').split('.');
  return `${Date.parse(`${date}Z`) / 1000}.${frac.padEnd(9, '0')}`;
};

// ---------------------------------------------------------------------------------------------

describe('Star Wars, L7 policy (tiefighter PUT /v1/exhaust-port denied)', () => {
  test('the replay that writes the capture reports the same flows as without --write-enforced', () => {
    const { flows } = enforce(STARWARS_L7);
    expect(flows).toEqual(replay(STARWARS_L7.capture, STARWARS_L7));
  });

  test("the client receives Envoy's 403, byte for byte, in place of the server's answer", () => {
    const { out, flows } = enforce(STARWARS_L7);
    const denied = l7(flows).filter((f) => f.l7?.type === 'REQUEST' && f.verdict === 'DROPPED');
    expect(denied.map((f) => `${f.l7?.http?.method} ${f.l7?.http?.url}`)).toEqual(['PUT http://deathstar.default.svc.cluster.local/v1/exhaust-port']);
    const port = denied[0]!.l4!.TCP!.source_port!;
    // The answer the replay reported as inherited drops: the 403 takes the first one's time.
    const answerDrops = finals(flows).filter((f) => f.event_type?.type === DROP && f.l4?.TCP?.destination_port === port);
    expect(answerDrops.length).toBeGreaterThan(0);
    const rows = tshark(out);
    const reply = rows.filter((r) => r.httpCode === '403');
    expect(reply).toHaveLength(1);
    expect([reply[0]!.tcpSrc, reply[0]!.tcpDst]).toEqual(['80', String(port)]);
    expect(reply[0]!.time).toBe(epochOf(answerDrops[0]!.time));
    // Envoy's bytes (the date from the request's time, HTTP/1.1, keep-alive).
    const request = denied[0]!;
    const expected = Buffer.from(envoyAccessDenied({ versionMajor: 1, versionMinor: 1, keepAlive: true }, Math.floor(Date.parse(request.time) / 1000))).toString('hex');
    expect(reply[0]!.hex.endsWith(expected)).toBe(true);
    // None of the server's own answer (503) is left.
    expect(rows.filter((r) => r.httpCode !== '' && r.httpCode !== '200' && r.httpCode !== '403')).toEqual([]);
  });

  test('read back by hubcap: the enforced capture replays under the same policies without a drop, the 403 delivered', () => {
    const { out, flows, again } = enforce(STARWARS_L7);
    expect(finals(again).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    const http = l7(again).map((f) => `${f.l7?.type} ${f.l7?.http?.method} ${f.l7?.http?.code ?? ''} ${f.verdict}`);
    expect(http).toEqual(l7(flows).map((f) => `${f.l7?.type} ${f.l7?.http?.method} ${f.l7?.http?.code ?? ''} ${f.verdict}`));
    expect(http).toContain('RESPONSE PUT 403 FORWARDED');
    // hubcap packets: one frame per packet of the enforced capture: those not dropped, the 403 for the answer.
    const input = packets(STARWARS_L7.capture);
    const output = packets(out);
    const dropped = finals(flows).filter((f) => f.verdict === 'DROPPED').length;
    // Gone: the dropped packets (xwing's, the server's answer in two segments) and the client's
    // now redundant ACK of the answer's second segment; added: the 403.
    expect(output.length).toBe(input.length - dropped - 1 + 1);
    expect(finals(again).length).toBe(output.length);
  });

  test('tshark: rewritten frames have good checksums; no sign of a broken TCP conversation', () => {
    const { out } = enforce(STARWARS_L7);
    const input = tshark(STARWARS_L7.capture);
    const output = tshark(out);
    // The recording has offloaded (not yet filled) TCP checksums; the frames hubcap rewrote have real ones.
    expect(expectRewrittenChecksumsGood(input, output)).toBeGreaterThanOrEqual(4);
    expectNoNewProblems(input, output);
  });
});

describe('Star Wars, L3/L4 policy (xwing denied)', () => {
  test("xwing's packets disappear; every other frame is copied unchanged", () => {
    const { out, again } = enforce(STARWARS_L34);
    const input = tshark(STARWARS_L34.capture);
    const output = tshark(out);
    const xwing = new Set(packets(STARWARS_L34.capture).flatMap((p, i) => (p.src === '10.0.1.30' || p.dst === '10.0.1.30' || p.src === 'fd00:10:0:1::30' || p.dst === 'fd00:10:0:1::30' ? [i] : [])));
    expect(xwing.size).toBeGreaterThan(0);
    expect(output.map((r) => r.hex)).toEqual(input.filter((_r, i) => !xwing.has(i)).map((r) => r.hex));
    expect(finals(again).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    expect(finals(again).length).toBe(input.length - xwing.size);
  });
});

describe('Star Wars, L7 policy on the node capture (tcpdump -i any: every packet twice, Linux cooked v2)', () => {
  test('the 403 appears once, copies keep their fates, the link layer stays SLL2', () => {
    const { out, again } = enforce(STARWARS_NODE_L7);
    expect(readFileSync(out).readUInt32LE(20), 'LINKTYPE_LINUX_SLL2').toBe(276);
    const rows = tshark(out);
    expect(rows.filter((r) => r.httpCode === '403')).toHaveLength(1);
    expect(rows.filter((r) => r.httpCode === '503')).toEqual([]);
    expect(finals(again).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    expectNoNewProblems(tshark(STARWARS_NODE_L7.capture), rows);
  });
});

describe('L7 HTTP policies on a clean synthetic capture (pipelining, keep-alive with denials, HTTP/1.0)', () => {
  test('one 403 per denied request, every checksum good, no new TCP analysis note', () => {
    const { out, flows, again } = enforce(L7_HTTP);
    const denied = l7(flows).filter((f) => f.l7?.type === 'REQUEST' && f.verdict === 'DROPPED').length;
    expect(denied).toBeGreaterThan(3);
    const input = tshark(L7_HTTP.capture);
    const output = tshark(out);
    expect(output.filter((r) => r.httpCode === '403')).toHaveLength(denied);
    expect(input.every((r) => !r.status.includes('0'))).toBe(true);
    expect(output.filter((r) => r.status.includes('0')).map((r) => r.n)).toEqual([]);
    expectNoNewProblems(input, output);
    expect(finals(again).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    // What the client receives, as the replay of the enforced capture logs it, is what the proxy decided.
    const decisions = (fs: Flow[]): string[] => l7(fs).map((f) => `${f.l7?.type} ${f.l7?.http?.method} ${f.l7?.http?.url} ${f.l7?.http?.code ?? ''} ${f.verdict}`);
    expect(decisions(again)).toEqual(decisions(flows));
  });
});

describe('L7 DNS policies (refused queries over UDP and TCP)', () => {
  test("REFUSED in place of the server's answers; the enforced capture replays without a drop", () => {
    const { out, flows, again } = enforce(L7_DNS);
    const refused = l7(flows).filter((f) => f.l7?.type === 'REQUEST' && f.verdict === 'DROPPED').length;
    expect(refused).toBeGreaterThanOrEqual(4);
    const input = tshark(L7_DNS.capture);
    const output = tshark(out);
    // Answers: the input's real ones; the output's REFUSED (5) for each refused query, the others unchanged.
    const rcodes = (rows: TsharkRow[]): string[] => rows.filter((r) => r.dnsRcode !== '').map((r) => r.dnsRcode);
    expect(rcodes(output).filter((r) => r === '5')).toHaveLength(refused + rcodes(input).filter((r) => r === '5').length);
    expect(output.length).toBe(input.length);
    expect(output.filter((r) => r.status.includes('0')).map((r) => r.n)).toEqual([]);
    expectNoNewProblems(input, output);
    expect(finals(again).filter((f) => f.verdict === 'DROPPED')).toEqual([]);
    const dns = (fs: Flow[]): string[] => l7(fs).map((f) => `${f.l7?.type} ${f.l7?.dns?.query} ${f.l7?.dns?.rcode ?? 0} ${f.verdict}`);
    expect(dns(again)).toEqual(dns(flows));
  });
});

test('--write-enforced refuses to overwrite the capture it reads', () => {
  const r = runHubcap(['replay', STARWARS_L7.capture, '--cluster', STARWARS_L7.cluster, '--policy', STARWARS_L7.policy, '--write-enforced', STARWARS_L7.capture]);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/--write-enforced/);
  expect(readFileSync(STARWARS_L7.capture).length).toBeGreaterThan(1000);
});
