/**
 * The end-to-end tests' own expectation checker (expect-check.ts) catches disagreements: fed
 * hand-written Hubble lines for the Star Wars capture's connections, it accepts the documented
 * outcomes and rejects each single change of them.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { checkExpectations, connectionsOf, loadCluster, loadExpectations, parseAddr, type FlowLine } from './expect-check.js';

const cluster = loadCluster(join(ROOT, 'examples/starwars/cluster'));
const starwars = loadExpectations(join(ROOT, 'examples/starwars/expect.yaml'));

type Verdict = 'FORWARDED' | 'DROPPED';

function tcp(src: string, sport: number, dst: string, dport: number, verdict: Verdict = 'FORWARDED', reason?: string): FlowLine {
  return {
    flow: {
      verdict,
      ...(reason ? { drop_reason_desc: reason } : {}),
      event_type: { type: verdict === 'DROPPED' ? 1 : 4 },
      Type: 'L3_L4',
      IP: { source: src, destination: dst },
      l4: { TCP: { source_port: sport, destination_port: dport } },
    },
  };
}

function icmp(src: string, dst: string, type: number, v6 = false, verdict: Verdict = 'FORWARDED', reason?: string): FlowLine {
  return {
    flow: {
      verdict,
      ...(reason ? { drop_reason_desc: reason } : {}),
      event_type: { type: verdict === 'DROPPED' ? 1 : 4 },
      Type: 'L3_L4',
      IP: { source: src, destination: dst },
      l4: v6 ? { ICMPv6: { type } } : { ICMPv4: { type } },
    },
  };
}

/** The documented outcome of every connection of starwars-deathstar.pcap, as flows would say it. */
function documented(): FlowLine[] {
  return [
    tcp('10.0.1.20', 40000, '10.0.1.10', 80),
    tcp('10.0.1.10', 80, '10.0.1.20', 40000),
    tcp('10.0.1.30', 40001, '10.0.1.10', 80, 'DROPPED', 'POLICY_DENIED'),
    tcp('10.0.1.30', 40001, '10.0.1.10', 80, 'DROPPED', 'POLICY_DENIED'),
    tcp('fd00:10:0:1::20', 40002, 'fd00:10:0:1::10', 80),
    tcp('fd00:10:0:1::10', 80, 'fd00:10:0:1::20', 40002),
    icmp('10.0.1.30', '10.0.1.10', 8, false, 'DROPPED', 'POLICY_DENIED'),
    icmp('fd00:10:0:1::10', 'ff02::1:ff00:1', 135, true),
    icmp('fe80::1', 'fd00:10:0:1::10', 136, true),
    icmp('fd00:10:0:1::10', 'fe80::4c79:88ff:fe62:4ad0', 136, true),
    // Not final: an egress policy verdict that allowed xwing's packet before the ingress drop.
    { flow: { verdict: 'FORWARDED', event_type: { type: 5 }, IP: { source: '10.0.1.30', destination: '10.0.1.10' }, l4: { TCP: { source_port: 40001, destination_port: 80 } } } },
  ];
}

const check = (lines: FlowLine[]) => checkExpectations(starwars, connectionsOf(lines), cluster);

describe('the e2e expectation checker', () => {
  test('accepts the documented outcomes', () => {
    const r = check(documented());
    expect(r.lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(r.failures).toBe(0);
  });

  test.each<[string, (lines: FlowLine[]) => FlowLine[]]>([
    ['xwing forwarded instead of dropped', (l) => l.map((x) => (x.flow.IP?.source === '10.0.1.30' && x.flow.l4?.TCP ? tcp('10.0.1.30', 40001, '10.0.1.10', 80) : x))],
    ['tiefighter dropped', (l) => [...l, tcp('10.0.1.20', 40000, '10.0.1.10', 80, 'DROPPED', 'POLICY_DENIED')]],
    ['xwing dropped for a reason other than policy', (l) => l.map((x) => (x.flow.IP?.source === '10.0.1.30' && x.flow.l4?.TCP ? tcp('10.0.1.30', 40001, '10.0.1.10', 80, 'DROPPED', 'CT_MAP_INSERTION_FAILED') : x))],
    ['the IPv6 request missing', (l) => l.filter((x) => !x.flow.IP?.source.startsWith('fd00:10:0:1::20') && x.flow.IP?.destination !== 'fd00:10:0:1::20')],
    ['xwing ping forwarded', (l) => l.map((x) => (x.flow.l4?.ICMPv4 ? icmp('10.0.1.30', '10.0.1.10', 8) : x))],
    ['neighbour discovery dropped', (l) => [...l, icmp('fe80::1', 'fd00:10:0:1::10', 136, true, 'DROPPED', 'POLICY_DENIED')]],
  ])('rejects %s', (_name, mutate) => {
    expect(check(mutate(documented())).failures).toBeGreaterThan(0);
  });

  test('a packet decided only by policy verdicts (a tunnel header) is a connection', () => {
    const seed = loadCluster(join(ROOT, 'examples/seed-talk/cluster'));
    const vxlan = loadExpectations(join(ROOT, 'examples/seed-talk/expect.yaml')).filter((e) => e.port === 8472);
    const udp = (src: string, dst: string, verdict: Verdict, type: number): FlowLine => ({
      flow: { verdict, event_type: { type }, IP: { source: src, destination: dst }, l4: { UDP: { source_port: 37262, destination_port: 8472 } } },
    });
    const allowed = [udp('192.168.10.12', '192.168.10.13', 'FORWARDED', 5), udp('192.168.10.13', '192.168.10.14', 'FORWARDED', 5)];
    expect(checkExpectations(vxlan, connectionsOf(allowed), seed).failures).toBe(0);
    const denied = [...allowed, { flow: { ...udp('192.168.10.12', '192.168.10.13', 'DROPPED', 5).flow, drop_reason_desc: 'POLICY_DENIED' } }];
    expect(checkExpectations(vxlan, connectionsOf(denied), seed).failures).toBe(1);
    expect(checkExpectations(vxlan, connectionsOf([]), seed).failures).toBe(2);
  });

  test('echo replies belong to their request; a reverse ping is its own connection', () => {
    const cs = connectionsOf([icmp('10.0.1.20', '10.0.1.30', 8), icmp('10.0.1.30', '10.0.1.20', 0), icmp('10.0.1.30', '10.0.1.20', 8)]);
    expect(cs.map((c) => `${c.srcText}>${c.dstText}:${c.packets}`).sort()).toEqual(['10.0.1.20>10.0.1.30:2', '10.0.1.30>10.0.1.20:1']);
  });

  test('a Service ClusterIP stands for its backend', () => {
    const svc = loadExpectations(join(ROOT, 'examples/starwars/expect-service.yaml'));
    const lines = [
      tcp('10.0.1.20', 41000, '10.96.120.80', 80),
      tcp('10.96.120.80', 80, '10.0.1.20', 41000),
      tcp('10.0.1.30', 41001, '10.96.120.80', 80, 'DROPPED', 'POLICY_DENIED'),
    ];
    expect(checkExpectations(svc, connectionsOf(lines), cluster).failures).toBe(0);
  });

  test('addresses compare by value (RFC 5952 and expanded IPv6, IPv4)', () => {
    expect(parseAddr('fd00:10:0:1::10')).toEqual(parseAddr('fd00:0010:0000:0001:0000:0000:0000:0010'));
    expect(parseAddr('::')).toEqual({ family: 6, value: 0n });
    expect(parseAddr('10.0.1.10')).toEqual({ family: 4, value: 0x0a00010an });
    expect(parseAddr('10.0.1.256')).toBeUndefined();
    expect(parseAddr('1::2::3')).toBeUndefined();
  });
});
