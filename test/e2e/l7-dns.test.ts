/**
 * DNS policy end to end on a synthetic capture (test/helpers/l7-capture.ts dnsScenario): real DNS
 * wire format (dns-packet) over UDP and over TCP, replayed with `hubcap replay -o json` against
 * examples/l7/cluster and examples/l7/policies/dns.
 *
 * Expected outcomes: docs.cilium.io, Layer 7 Policies > "DNS Policy and IP Discovery":
 * matchPattern "*.cilium.io will match sub.cilium.io but not cilium.io"; "* within a domain allows
 * 0 or more valid DNS characters, except for the . separator"; "* alone matches all names";
 * matchName "Allows queries for domains that match matchName exactly"; and the page's note: a
 * denied DNS request gets "a DNS REFUSED response" (rcode 5, RFC 1035 4.1.1) instead of a packet
 * drop. Hubble logs the proxy's decision as a dns-request record (DROPPED when refused) and the
 * answer the client got as a dns-response record. design.md section 5: the real server's answer
 * to a refused query (it is in the capture, recorded without the policy) never reached the
 * client, so it is reported dropped.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, runHubcap } from '../helpers/cli.js';
import { DNS_CASES, dnsScenario, finals, l7, ofPort, replayJson, show, tempDir, type Flow, type Scenario } from '../helpers/l7-capture.js';

const POLICY = 'examples/l7/policies/dns';
let scenario: Scenario;
let flows: Flow[];
const tmp = tempDir();

beforeAll(() => {
  scenario = dnsScenario();
  flows = replayJson(scenario.cap.write(join(tmp.dir, 'l7-dns.pcap')), POLICY);
});
afterAll(() => tmp.cleanup());

const REFUSED = 5;
const NXDOMAIN = 3;
const norm = (name: string | undefined): string => (name ?? '').toLowerCase().replace(/\.$/, '');

describe.each(DNS_CASES.map((c, i) => [`${c.client === '10.5.1.10' ? 'client' : 'client2'} asks ${c.name} ${c.type} over ${c.tcp ? 'TCP' : 'UDP'}: ${c.allowed ? 'allowed' : 'REFUSED'} (${c.why})`, i, c] as const))(
  '%s',
  (_name, i, c) => {
    const conn = (): Flow[] => ofPort(flows, scenario.conns[`dns-${i}`]!.port);
    const frameTime = (f: string): string => scenario.cap.timeOf(scenario.conns[`dns-${i}`]!.frames[f]!);

    test(`dns-request ${c.allowed ? 'FORWARDED' : 'DROPPED'} for the query`, () => {
      const reqs = l7(conn()).filter((f) => f.l7?.type === 'REQUEST');
      expect(reqs.length, show(conn())).toBe(1);
      expect(norm(reqs[0]!.l7?.dns?.query)).toBe(c.name.toLowerCase());
      expect(reqs[0]!.l7?.dns?.qtypes).toEqual([c.type]);
      expect(reqs[0]!.verdict).toBe(c.allowed ? 'FORWARDED' : 'DROPPED');
      expect(reqs[0]!.IP).toMatchObject({ source: c.client, destination: '10.5.1.53' });
      expect(reqs[0]!.traffic_direction).toBe('EGRESS');
    });

    test(c.allowed ? "the client gets the server's answer" : 'the client gets REFUSED from the proxy', () => {
      const res = l7(conn()).filter((f) => f.l7?.type === 'RESPONSE');
      expect(res.length, show(conn())).toBe(1);
      const dns = res[0]!.l7!.dns!;
      expect(norm(dns.query)).toBe(c.name.toLowerCase());
      expect(res[0]!.IP).toMatchObject({ source: '10.5.1.53', destination: c.client });
      if (!c.allowed) {
        expect(dns.rcode).toBe(REFUSED);
        expect(dns.ips ?? []).toEqual([]);
      } else {
        expect(dns.rcode ?? 0).toBe(c.rcode === 'NXDOMAIN' ? NXDOMAIN : 0);
        const want = c.answers.filter((a) => a.type === 'A' || a.type === 'AAAA').map((a) => String((a as { data: unknown }).data));
        expect((dns.ips ?? []).slice().sort()).toEqual(want.sort());
      }
    });

    test(c.allowed ? "the query and the server's answer are delivered" : "the query reaches the proxy; the server's real answer is reported dropped", () => {
      const fin = finals(conn());
      const query = fin.filter((f) => f.time === frameTime('query'));
      const answer = fin.filter((f) => f.time === frameTime('answer'));
      expect([query.length, answer.length], show(fin)).toEqual([1, 1]);
      expect(query[0]!.verdict).toBe('FORWARDED');
      expect(query[0]!.trace_observation_point).toBe('TO_PROXY');
      expect(answer[0]!.verdict, show(answer)).toBe(c.allowed ? 'FORWARDED' : 'DROPPED');
      // Nothing else of the connection (a TCP handshake, ACKs, FINs) is dropped.
      expect(fin.filter((f) => f.verdict === 'DROPPED' && f !== answer[0])).toEqual([]);
    });
  },
);

test('every query is logged once, and only the queries of the capture', () => {
  const reqs = l7(flows).filter((f) => f.l7?.type === 'REQUEST');
  expect(reqs.map((f) => `${f.IP?.source} ${norm(f.l7?.dns?.query)}`)).toEqual(DNS_CASES.map((c) => `${c.client} ${c.name.toLowerCase()}`));
});

describe('the committed capture pcaps/l7-dns.pcap', () => {
  test('is the scenario the tests generate (regenerate: npx tsx test/helpers/l7-capture.ts)', () => {
    expect(Buffer.compare(readFileSync(join(ROOT, 'pcaps/l7-dns.pcap')), Buffer.from(scenario.cap.pcap()))).toBe(0);
  });

  test('examples/l7/expect-dns.yaml holds under hubcap --expect', () => {
    const r = runHubcap(['replay', 'pcaps/l7-dns.pcap', '--cluster', 'examples/l7/cluster', '--policy', POLICY, '--expect', 'examples/l7/expect-dns.yaml', '-o', 'summary']);
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  });
});
