/**
 * toFQDNs end to end on a synthetic capture (test/helpers/l7-capture.ts fqdnScenario), replayed
 * with `hubcap replay -o json` against examples/l7/cluster and examples/l7/policies/fqdn: DNS to
 * kube-dns through the DNS proxy (matchPattern "*") and TCP 443 to `toFQDNs: matchName
 * api.example.com`.
 *
 * Expected outcomes:
 *  - docs.cilium.io, Layer 7 Policies > "DNS Policy and IP Discovery" > "DNS Proxy": "Only IPs in
 *    intercepted DNS responses to an application will be allowed in the Cilium policy rules";
 *    "The separate L3 toFQDNs egress rule allows connections to any IPs returned in DNS queries
 *    for" the names it selects. So before the answer the rule selects nothing (the SYN is
 *    dropped), after it the address is allowed, on the rule's port only; an address the answer
 *    did not give stays denied.
 *  - "DNS responses are cached within Cilium agent respecting TTL" (same page, "Obtaining DNS
 *    Data for use by toFQDNs") and Cilium's `--tofqdns-min-ttl` ("The minimum time, in seconds,
 *    to use DNS data for toFQDNs policies", cmdref/cilium-agent): with a minimum of 0 the address
 *    is forgotten once the answer's TTL (60 s) passed, so a new SYN is dropped again; with
 *    hubcap's default minimum (3600 s, design.md section 3 `--fqdn-min-ttl`) it is still allowed
 *    62 s later.
 *  - `--tofqdns-max-deferred-connection-deletes` (cmdref/cilium-agent): "Maximum number of IPs to
 *    retain for expired DNS lookups with still-active connections": a connection opened while the
 *    name resolved keeps working after the TTL.
 *  - pkg/identity/numericidentity.go (design.md section 4): FQDN addresses get node-local
 *    identities (scope bit 1 << 24).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import {
  API_IP,
  API_TTL,
  POLICY_VERDICT,
  fqdnScenario,
  finals,
  l7,
  ofPort,
  replayJson,
  show,
  tempDir,
  type Flow,
  type Scenario,
} from '../helpers/l7-capture.js';

const POLICY = 'examples/l7/policies/fqdn';
const tmp = tempDir();
let scenario: Scenario;
let open: Scenario;
/** Replays: default minimum TTL, --fqdn-min-ttl 0, and the long-lived connection with 0. */
let byDefault: Flow[];
let minTtl0: Flow[];
let openMinTtl0: Flow[];

beforeAll(() => {
  scenario = fqdnScenario();
  open = fqdnScenario({ keepOpen: true });
  const path = scenario.cap.write(join(tmp.dir, 'l7-fqdn.pcap'));
  const openPath = open.cap.write(join(tmp.dir, 'l7-fqdn-open.pcap'));
  byDefault = replayJson(path, POLICY);
  minTtl0 = replayJson(path, POLICY, ['--fqdn-min-ttl', '0']);
  openMinTtl0 = replayJson(openPath, POLICY, ['--fqdn-min-ttl', '0']);
});
afterAll(() => tmp.cleanup());

const conn = (flows: Flow[], name: string, s: Scenario = scenario): Flow[] => ofPort(flows, s.conns[name]!.port);
const synOf = (flows: Flow[], name: string, s: Scenario = scenario): Flow => {
  const t = s.cap.timeOf(s.conns[name]!.frames.syn!);
  const hits = finals(conn(flows, name, s)).filter((f) => f.time === t);
  expect(hits.length, show(conn(flows, name, s))).toBe(1);
  return hits[0]!;
};
const allForwarded = (flows: Flow[]): void => {
  expect(flows.length).toBeGreaterThan(0);
  expect(finals(flows).filter((f) => f.verdict !== 'FORWARDED'), show(flows)).toEqual([]);
};
const droppedAtEgress = (flows: Flow[], name: string): void => {
  const syn = synOf(flows, name);
  expect(syn.verdict, show([syn])).toBe('DROPPED');
  expect(syn.drop_reason_desc).toBe('POLICY_DENIED');
  expect(syn.hubcap?.inherited).toBeUndefined();
  const verdicts = conn(flows, name).filter((f) => f.event_type?.type === POLICY_VERDICT && f.time === syn.time);
  expect(verdicts.some((f) => f.traffic_direction === 'EGRESS' && f.verdict === 'DROPPED'), show(verdicts)).toBe(true);
  // The rest of the connection inherits the drop: nothing of it was delivered.
  expect(finals(conn(flows, name)).every((f) => f.verdict === 'DROPPED')).toBe(true);
};

describe.each([
  ['the default --fqdn-min-ttl (3600)', () => byDefault],
  ['--fqdn-min-ttl 0', () => minTtl0],
] as const)('with %s', (_name, flowsOf) => {
  test('before any DNS answer, a SYN to 203.0.113.7:443 is dropped (the toFQDNs rule selects nothing yet)', () => {
    droppedAtEgress(flowsOf(), 'before');
  });

  test('the query for api.example.com passes the DNS proxy and its answer (A 203.0.113.7, TTL 60) reaches the client', () => {
    const dns = l7(conn(flowsOf(), 'dns'));
    expect(dns.map((f) => [f.l7?.type, f.verdict]), show(dns)).toEqual([
      ['REQUEST', 'FORWARDED'],
      ['RESPONSE', 'FORWARDED'],
    ]);
    expect(dns[1]!.l7?.dns?.ips).toEqual([API_IP]);
    expect(dns[1]!.l7?.dns?.ttl).toBe(API_TTL);
  });

  test('after the answer, the same SYN is allowed and the whole connection goes through', () => {
    const flows = flowsOf();
    const syn = synOf(flows, 'after');
    expect(syn.verdict, show(conn(flows, 'after'))).toBe('FORWARDED');
    allForwarded(conn(flows, 'after'));
    const verdict = conn(flows, 'after').find((f) => f.event_type?.type === POLICY_VERDICT && f.traffic_direction === 'EGRESS')!;
    expect(verdict.verdict).toBe('FORWARDED');
    expect(verdict.hubcap?.rule).toMatch(/^CiliumNetworkPolicy\/default\/client-fqdn#/);
    // The address now has a node-local identity (scope bit 1 << 24), as FQDN addresses do.
    expect(syn.destination?.identity ?? 0).toBeGreaterThanOrEqual(1 << 24);
  });

  test('an address the answer did not give (203.0.113.8) stays denied', () => {
    droppedAtEgress(flowsOf(), 'other-ip');
  });

  test('the answered address on a port the rule does not name (80) stays denied', () => {
    droppedAtEgress(flowsOf(), 'other-port');
  });
});

test('default --fqdn-min-ttl (3600): a SYN 62 s after the TTL-60 answer is still allowed', () => {
  expect(synOf(byDefault, 'late').verdict, show(conn(byDefault, 'late'))).toBe('FORWARDED');
  allForwarded(conn(byDefault, 'late'));
});

test('--fqdn-min-ttl 0: a SYN after the answer\'s TTL passed is dropped again', () => {
  droppedAtEgress(minTtl0, 'late');
});

test('--fqdn-min-ttl 0: a connection opened while the name resolved keeps working after the TTL', () => {
  const c = conn(openMinTtl0, 'after', open);
  const late = open.cap.timeOf(open.conns.after!.frames.late!);
  const lateAnswer = open.cap.timeOf(open.conns.after!.frames.lateAnswer!);
  const lateFinals = finals(c).filter((f) => f.time >= late);
  expect(lateFinals.map((f) => f.time)).toContain(lateAnswer);
  allForwarded(c);
});

test('the committed capture pcaps/l7-fqdn.pcap is the scenario the tests generate', () => {
  expect(Buffer.compare(readFileSync(join(ROOT, 'pcaps/l7-fqdn.pcap')), Buffer.from(scenario.cap.pcap()))).toBe(0);
});
