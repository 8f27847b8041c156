/**
 * Summary counts (design.md §5): packets by their final event, connections once per verdict,
 * drop reasons, endpoint pairs oriented client -> server, policy rules by the connections they
 * decided, translations, L7 requests, and the datapath's frame counters.
 */
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, TrafficDirection, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { TcpFlag } from '../../src/decode/packet.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary, newSummaryCounters } from '../../src/flow/summary.js';
import { ADDR, cases, deathstarToTie, EP, event, ID, NODE, packet, RULE, starWarsDoc, tieToDeathstar, xwingToDeathstar } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());
const c = cases();

const tie = { srcEndpoint: EP.tiefighter, dstEndpoint: EP.deathstar, srcIdentity: ID.tiefighter, dstIdentity: ID.deathstar };
const back = { srcEndpoint: EP.deathstar, dstEndpoint: EP.tiefighter, srcIdentity: ID.deathstar, dstIdentity: ID.tiefighter };

function delivered(connection: number, reply: boolean, flags: number): FlowEvent {
  return event({
    kind: EventKind.TRACE,
    verdict: Verdict.FORWARDED,
    observationPoint: ObservationPoint.TO_ENDPOINT,
    isFinal: true,
    isReply: reply,
    connection,
    node: reply ? NODE.worker : NODE.worker2,
    packet: reply ? deathstarToTie(flags) : tieToDeathstar(flags),
    ...(reply ? back : tie),
  });
}

/** One replay: an allowed handshake, a default-deny drop with retransmits, a deny-rule drop, an audit, a redirect. */
function replay(summary: FlowSummary): void {
  // Connection 1: tiefighter -> deathstar, allowed (egress by the agent's allow-any, ingress by rule1).
  summary.add(c['policy-verdict all EGRESS ALLOWED (agent reason)']!);
  summary.add(c['policy-verdict L3-L4 INGRESS ALLOWED']!);
  summary.add(delivered(1, false, TcpFlag.SYN));
  summary.add(delivered(1, true, TcpFlag.SYN | TcpFlag.ACK));
  summary.add(delivered(1, false, TcpFlag.ACK));
  // Connection 2: xwing -> deathstar, default deny; two retransmits inherit the drop.
  summary.add(c['policy-verdict none INGRESS DENIED (POLICY_DENIED)']!);
  summary.add(c['drop POLICY_DENIED']!);
  for (let i = 0; i < 2; i++) {
    summary.add(
      event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: 133,
        isFinal: true,
        inherited: true,
        connection: 2,
        packet: xwingToDeathstar(),
        srcEndpoint: EP.xwing,
        dstEndpoint: EP.deathstar,
        srcIdentity: ID.xwing,
        dstIdentity: ID.deathstar,
      }),
    );
  }
  // Connection 3: denied by deny-xwing (POLICY_DENY), with one inherited packet.
  summary.add(c['policy-verdict L3-Only INGRESS DENIED (POLICY_DENY)']!);
  summary.add(c['drop POLICY_DENY']!);
  summary.add(c['drop inherited (later packet of a dropped connection)']!);
  // Connection 4: audit mode let it through.
  summary.add(c['policy-verdict none INGRESS AUDITED']!);
  summary.add(c['trace to-endpoint FORWARDED (audited)']!);
  // Connection 5: redirected to the proxy, with its HTTP request and response.
  summary.add(c['policy-verdict L3-L4 INGRESS REDIRECTED']!);
  summary.add(c['trace to-proxy FORWARDED']!);
  summary.add(c['L7 http-request FORWARDED']!);
  summary.add(c['L7 http-response FORWARDED']!);
  summary.add(c['L7 http-request DROPPED']!);
  // Connection 12: a translation, reported twice.
  summary.add(c['TRANSLATED (ClusterIP to backend)']!);
  summary.add(c['TRANSLATED (ClusterIP to backend)']!);
  // No connection: an undecodable packet, and the same orphan fragment twice.
  summary.add(c['trace ERROR (undecodable)']!);
  summary.add(c['drop FRAG_NOT_FOUND (no connection)']!);
  summary.add(c['drop FRAG_NOT_FOUND (no connection)']!);
}

describe('summary counts', () => {
  const s = new FlowSummary(ctx);
  replay(s);
  const j = s.toJSON();

  it('packets per verdict count final events only', () => {
    expect(j.packets).toEqual({ FORWARDED: 3, DROPPED: 7, ERROR: 1, AUDIT: 1, REDIRECTED: 1, total: 13 });
  });

  it('connections count once per verdict; packets without a connection by their 5-tuple', () => {
    // DROPPED: connections 2 and 3, and the orphan fragments' one tuple.
    expect(j.connections).toEqual({ FORWARDED: 1, DROPPED: 3, ERROR: 1, AUDIT: 1, REDIRECTED: 1 });
  });

  it('drop reasons with their enum name and drop.go text', () => {
    expect(j.drop_reasons).toEqual([
      { reason: 133, desc: 'POLICY_DENIED', text: 'Policy denied', packets: 3, connections: 1 },
      { reason: 175, desc: 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND', text: 'First logical datagram fragment not found', packets: 2, connections: 1 },
      { reason: 181, desc: 'POLICY_DENY', text: 'Policy denied by denylist', packets: 2, connections: 1 },
    ]);
    expect(j.inherited_packets).toBe(3);
  });

  it('endpoint pairs are oriented client -> server (replies count for their connection)', () => {
    const pair = j.pairs.find((p) => p.source === 'default/tiefighter' && p.destination === 'default/deathstar-7848d6c4d5-th9v2');
    expect(pair).toEqual({
      source: 'default/tiefighter',
      destination: 'default/deathstar-7848d6c4d5-th9v2',
      connections: { FORWARDED: 1, REDIRECTED: 1 },
      packets: { FORWARDED: 3, REDIRECTED: 1 },
    });
    expect(j.pairs.find((p) => p.source === 'default/deathstar-7848d6c4d5-th9v2')).toBeUndefined();
    expect(j.pairs.find((p) => p.source === 'default/xwing' && p.destination === 'world-ipv4')).toMatchObject({
      connections: { DROPPED: 1 },
      packets: { DROPPED: 2 },
    });
    expect(j.pairs.find((p) => p.source === 'default/xwing' && p.destination === 'default/deathstar-7848d6c4d5-th9v2')).toMatchObject({
      connections: { DROPPED: 2, AUDIT: 1, ERROR: 1 },
      packets: { DROPPED: 5, AUDIT: 1, ERROR: 1 },
    });
  });

  it('policy rules by the connections they decided, per direction', () => {
    // Most connections first, ties by name.
    expect(j.rules).toEqual([
      { rule: '(no rule: default deny)', direction: 'ingress', allowed: 0, denied: 1, audited: 1 },
      { rule: 'CiliumNetworkPolicy/default/rule1#0', source: 'sw_l3_l4_policy.yaml:7', direction: 'ingress', allowed: 2, denied: 0, audited: 0 },
      { rule: 'CiliumNetworkPolicy/default/deny-xwing#0', source: 'deny.yaml:9', direction: 'ingress', allowed: 0, denied: 1, audited: 0 },
      { rule: 'allow-any-egress', direction: 'egress', allowed: 1, denied: 0, audited: 0 },
    ]);
  });

  it('translations once per connection, L7 requests per verdict', () => {
    expect(j.translated_connections).toBe(1);
    expect(j.l7).toEqual({ requests: { FORWARDED: 1, DROPPED: 1 }, responses: 1 });
  });

  it('top dropped connections by packets, with their 5-tuple and reason', () => {
    expect(j.top_dropped_approximate).toBe(false);
    expect(j.top_dropped.map((d) => [d.source, d.destination, d.protocol, d.src, d.sport, d.dst, d.dport, d.reason, d.packets])).toEqual([
      ['default/xwing', 'default/deathstar-7848d6c4d5-th9v2', 'TCP', ADDR.xwing, 41866, ADDR.deathstar, 80, 'POLICY_DENIED', 3],
      ['default/xwing', 'default/deathstar-7848d6c4d5-th9v2', 'TCP', ADDR.xwing, 41866, ADDR.deathstar, 80, 'POLICY_DENY', 2],
      ['default/xwing', 'world-ipv4', 'GRE', ADDR.xwing, undefined, ADDR.world, undefined, 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND', 2],
    ]);
  });

  it('reports the counters the datapath increments', () => {
    const counters = newSummaryCounters();
    const s2 = new FlowSummary(ctx, { counters });
    counters.frames = 20;
    counters.ipPackets = 14;
    counters.duplicates = 3;
    counters.nonIp = 2;
    counters.decodeErrors = 1;
    expect(s2.toJSON().counters).toEqual({ frames: 20, ip_packets: 14, non_ip: 2, duplicates: 3, decode_errors: 1, fragments_not_found: 0 });
  });

  it('text: aligned sections', () => {
    const text = s.lines();
    expect(text[0]).toBe('Verdicts (one final event per packet)');
    expect(text[1]).toBe('VERDICT      PACKETS   CONNECTIONS');
    expect(text).toContain('FORWARDED    3         1');
    expect(text).toContain('DROPPED      7         3');
    expect(text).toContain('TOTAL        13');
    expect(text).toContain('Drop reasons');
    expect(text.some((l) => /^Policy denied \(POLICY_DENIED\) {3,}3 {3,}1$/.test(l))).toBe(true);
    expect(text).toContain('Policy rules (connections decided)');
    expect(text.some((l) => /^CiliumNetworkPolicy\/default\/rule1#0 +sw_l3_l4_policy\.yaml:7 +ingress +2 +0 +0$/.test(l))).toBe(true);
    expect(text).toContain('Top dropped connections');
    expect(text.some((l) => l.includes('10.244.1.60:41866 -> 10.244.2.5:80') && / POLICY_DENIED +3$/.test(l))).toBe(true);
    expect(text.at(-2)).toBe('Capture');
    expect(text.at(-1)).toMatch(/^frames 0, IP packets 0, duplicates 0, non-IP frames 0, decode errors 0, fragments without their first 0, inherited drops 3, translated connections 1, L7 requests 2 \(FORWARDED 1, DROPPED 1\), responses 1$/);
  });

  it('an empty replay still prints the verdict table and the capture line', () => {
    const empty = new FlowSummary(ctx);
    expect(empty.toJSON().packets).toEqual({ total: 0 });
    expect(empty.lines()).toEqual([
      'Verdicts (one final event per packet)',
      'VERDICT   PACKETS   CONNECTIONS',
      'TOTAL     0',
      '',
      'Capture',
      'frames 0, IP packets 0, duplicates 0, non-IP frames 0, decode errors 0, fragments without their first 0, inherited drops 0, translated connections 0',
    ]);
  });

  it('per-packet mode: repeated drops without a connection count once per 5-tuple, both directions', () => {
    const s3 = new FlowSummary(ctx);
    const drop = (src: string, dst: string, sport: number, dport: number, reply: boolean): FlowEvent =>
      event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: 133,
        isFinal: true,
        isReply: reply,
        trafficDirection: TrafficDirection.INGRESS,
        packet: packet({ src, dst, proto: 'tcp', sport, dport }),
      });
    for (let i = 0; i < 5; i++) s3.add(drop(ADDR.xwing, ADDR.deathstar, 41866, 80, false));
    s3.add(drop(ADDR.deathstar, ADDR.xwing, 80, 41866, true));
    s3.add(drop(ADDR.xwing, ADDR.deathstar, 41867, 80, false));
    const j3 = s3.toJSON();
    expect(j3.packets).toEqual({ DROPPED: 7, total: 7 });
    expect(j3.connections).toEqual({ DROPPED: 2 });
    expect(j3.top_dropped.map((d) => [d.sport, d.packets])).toEqual([
      [41866, 6],
      [41867, 1],
    ]);
  });

  it('keeps RULE indexes straight (a rule outside the document counts as no rule)', () => {
    const s4 = new FlowSummary(ctx);
    const ev = event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 2,
      rule: 99,
      connection: 1,
      packet: tieToDeathstar(),
      ...tie,
    });
    s4.add(ev);
    expect(s4.toJSON().rules).toEqual([{ rule: '(no rule: default deny)', direction: 'ingress', allowed: 1, denied: 0, audited: 0 }]);
    expect(RULE.rule1).toBe(0);
  });
});
