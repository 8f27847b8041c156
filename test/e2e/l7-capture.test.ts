/**
 * The synthetic L7 captures are what they claim to be, read by an independent decoder: tshark
 * (Wireshark's dissectors, with IPv4/TCP/UDP checksum validation on and TCP sequence analysis)
 * finds no bad checksum and no sequence problem except the retransmissions the HTTP scenario
 * makes on purpose, and sees the same HTTP requests and DNS queries the tests expect verdicts
 * for. So the L7 tests' verdicts are about well-formed conversations, not about our own packet
 * builder's mistakes.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DNS_CASES, HEADER_CASES, dnsScenario, fqdnScenario, httpScenario, tempDir, type Scenario } from '../helpers/l7-capture.js';

const tmp = tempDir();
const scenarios: Record<string, Scenario> = {};
const files: Record<string, string> = {};

beforeAll(() => {
  for (const [name, build] of Object.entries({ http: httpScenario, dns: dnsScenario, fqdn: () => fqdnScenario(), 'fqdn-open': () => fqdnScenario({ keepOpen: true }) })) {
    scenarios[name] = build();
    files[name] = scenarios[name].cap.write(join(tmp.dir, `${name}.pcap`));
  }
});
afterAll(() => tmp.cleanup());

/** tshark's fields per frame (tab-separated), with checksum validation on. */
function tshark(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', file, '-n', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|'];
  if (filter) args.push('-Y', filter);
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

/** Wireshark expert severities (epan/proto.h): PI_WARN and PI_ERROR. */
const PI_WARN = 0x00600000;

describe.each(['http', 'dns', 'fqdn', 'fqdn-open'])('%s scenario', (name) => {
  test('every checksum is right and tshark warns about nothing but the RSTs it sends on purpose', () => {
    const rows = tshark(files[name]!, ['frame.number', 'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', '_ws.expert.message', '_ws.expert.severity']);
    expect(rows.length).toBe(scenarios[name]!.cap.frames);
    for (const [frame, ip, tcp, udp, messages = '', severities = ''] of rows) {
      // checksum.status (epan/proto.h): 0 bad, 1 good, 2 unverified.
      expect([frame, ip], 'IPv4 header checksum').toEqual([frame, '1']);
      if (tcp) expect([frame, tcp], 'TCP checksum').toEqual([frame, '1']);
      if (udp) expect([frame, udp], 'UDP checksum').toEqual([frame, '1']);
      const msgs = messages.split('|');
      severities.split('|').forEach((sev, i) => {
        if (Number(sev) >= PI_WARN) expect([frame, msgs[i]]).toEqual([frame, 'Connection reset (RST)']);
      });
    }
  });
});

test('the only TCP sequence anomalies are the HTTP scenario\'s deliberate retransmissions', () => {
  const s = scenarios.http!;
  const flagged = tshark(files.http!, ['frame.number', 'tcp.analysis.flags'], 'tcp.analysis.flags').map((r) => Number(r[0]) - 1);
  const deliberate = [s.conns['retransmit-allowed']!.frames.retransmission, s.conns['retransmit-allowed']!.frames.answerRetransmission, s.conns['retransmit-overlap']!.frames.overlap, s.conns['retransmit-denied']!.frames.retransmission];
  expect(flagged.sort((a, b) => a - b)).toEqual(deliberate.sort((a, b) => a! - b!));
  for (const name of ['dns', 'fqdn', 'fqdn-open']) expect(tshark(files[name]!, ['frame.number'], 'tcp.analysis.flags'), name).toEqual([]);
});

test("tshark's HTTP dissector sees the requests the HTTP tests judge (split, pipelined, retransmitted ones once)", () => {
  const s = scenarios.http!;
  const seen = tshark(files.http!, ['tcp.srcport', 'http.request.method', 'http.request.uri'], 'http.request');
  const byPort = (port: number): string[] =>
    seen.filter((r) => Number(r[0]) === port).flatMap((r) => r[1]!.split('|').map((m, i) => `${m} ${r[2]!.split('|')[i]}`));
  expect(byPort(s.conns['split-allowed']!.port)).toEqual(['GET /public']);
  expect(byPort(s.conns['pipelined']!.port)).toEqual(['GET /public', 'GET /secret']);
  expect(byPort(s.conns['split-body']!.port)).toEqual(['POST /v1/request-landing']);
  expect(byPort(s.conns['keepalive']!.port)).toEqual(['GET /public', 'GET /path1', 'PUT /path2', 'GET /public']);
  expect(byPort(s.conns['headers']!.port)).toEqual(HEADER_CASES.map(([m, p]) => `${m} ${p}`));
});

test("tshark's DNS dissector sees the queries of the DNS scenario and the recorded answers", () => {
  const rows = tshark(files.dns!, ['dns.flags.response', 'dns.qry.name', 'dns.flags.rcode'], 'dns');
  expect(rows.filter((r) => r[0] === 'False' || r[0] === '0').map((r) => r[1])).toEqual(DNS_CASES.map((c) => c.name));
  expect(rows.filter((r) => r[0] === 'True' || r[0] === '1').map((r) => [r[1], r[2]])).toEqual(DNS_CASES.map((c) => [c.name, c.rcode === 'NXDOMAIN' ? '3' : '0']));
});
