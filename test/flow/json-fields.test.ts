/**
 * Field names and values of `-o json` flows, checked against Hubble's documented output:
 *
 * - Cilium docs, Documentation/observability/hubble/configuration/export.rst ("Configure Hubble
 *   exporter": the field-masked `events.log` lines of the xwing -> deathstar drop and of an
 *   ICMPv6 router solicitation), reproduced exactly after the same field mask;
 * - hubble/pkg/printer/printer_test.go `jsonpb` case: the order protojson prints Flow fields in;
 * - api/v1/flow/flow.proto and the threefour/seven parsers for the rest (named per case).
 */
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, TrafficDirection, Verdict } from '../../src/datapath/events.js';
import { TcpFlag } from '../../src/decode/packet.js';
import { FlowContext } from '../../src/flow/context.js';
import { buildFlow, buildFlowResponse, formatFlowJson, type HubbleFlow } from '../../src/flow/flow.js';
import { ADDR, cases, EP, event, ID, NODE, packet, RULE, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());
const all = cases();
const flow = (name: string): HubbleFlow => buildFlow(all[name]!, ctx);

/** Hubble's field mask (export.rst `fieldMask`), applied in the flow's own key order. */
function fieldMask(line: string, paths: string[]): string {
  const r = JSON.parse(line) as { flow: Record<string, unknown>; node_name?: string; time: string };
  const masked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(r.flow)) {
    const nested = paths.filter((p) => p.startsWith(`${key}.`)).map((p) => p.slice(key.length + 1));
    if (paths.includes(key)) masked[key] = value;
    else if (nested.length > 0) {
      const sub: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (nested.includes(k)) sub[k] = v;
      masked[key] = sub;
    }
  }
  return JSON.stringify({ flow: masked, node_name: r.node_name, time: r.time });
}

describe('export.rst events.log lines', () => {
  const kind = new FlowContext(starWarsDoc('kind-kind'));
  const mask = [
    'time',
    'source.namespace',
    'source.pod_name',
    'destination.namespace',
    'destination.pod_name',
    'l4',
    'IP',
    'node_name',
    'is_reply',
    'verdict',
    'drop_reason_desc',
  ];

  it('xwing -> deathstar POLICY_DENIED drop', () => {
    const ev = event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 133,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker,
      packet: packet({ src: '10.244.1.60', dst: '10.244.1.5', proto: 'tcp', sport: 44916, dport: 80, flags: TcpFlag.SYN }),
      srcEndpoint: EP.xwing,
      dstEndpoint: EP.deathstar,
      srcIdentity: ID.xwing,
      dstIdentity: ID.deathstar,
      tsSec: Date.UTC(2023, 7, 21, 12, 12, 18) / 1000,
      tsNsec: 510175415,
    });
    expect(fieldMask(formatFlowJson(ev, kind), mask)).toBe(
      '{"flow":{"time":"2023-08-21T12:12:18.510175415Z","verdict":"DROPPED","IP":{"source":"10.244.1.60","destination":"10.244.1.5","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":44916,"destination_port":80,"flags":{"SYN":true}}},"source":{"namespace":"default","pod_name":"xwing"},"destination":{"namespace":"default","pod_name":"deathstar-7848d6c4d5-th9v2"},"node_name":"kind-kind/kind-worker","drop_reason_desc":"POLICY_DENIED"},"node_name":"kind-kind/kind-worker","time":"2023-08-21T12:12:18.510175415Z"}',
    );
  });

  it('ICMPv6 router solicitation dropped as INVALID_SOURCE_IP', () => {
    const ev = event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 132,
      isFinal: true,
      node: NODE.worker,
      packet: packet({ src: 'fe80::64d8:8aff:fe72:fc14', dst: 'ff02::2', proto: 'icmpv6', icmpType: 133 }),
      tsSec: Date.UTC(2023, 7, 21, 12, 12, 13) / 1000,
      tsNsec: 517394084,
    });
    expect(fieldMask(formatFlowJson(ev, kind), mask)).toBe(
      '{"flow":{"time":"2023-08-21T12:12:13.517394084Z","verdict":"DROPPED","IP":{"source":"fe80::64d8:8aff:fe72:fc14","destination":"ff02::2","ipVersion":"IPv6"},"l4":{"ICMPv6":{"type":133}},"source":{},"destination":{},"node_name":"kind-kind/kind-worker","drop_reason_desc":"INVALID_SOURCE_IP"},"node_name":"kind-kind/kind-worker","time":"2023-08-21T12:12:13.517394084Z"}',
    );
  });
});

describe('serializer', () => {
  it('formatFlowJson prints exactly JSON.stringify of the flow response', () => {
    for (const ev of Object.values(all)) expect(formatFlowJson(ev, ctx)).toBe(JSON.stringify(buildFlowResponse(ev, ctx)));
  });
});

describe('protojson field order', () => {
  it('prints Flow fields in the order of printer_test.go jsonpb', () => {
    // printer_test.go: {"flow":{"time","verdict","IP","l4","source","destination","Type","node_name","event_type","is_reply","Summary"}}
    const hubble = ['time', 'verdict', 'IP', 'l4', 'source', 'destination', 'Type', 'node_name', 'event_type', 'is_reply', 'Summary'];
    const keys = Object.keys(flow('trace to-endpoint FORWARDED (TCP SYN)'));
    expect(keys.filter((k) => hubble.includes(k))).toEqual(hubble);
    const r = buildFlowResponse(all['trace to-endpoint FORWARDED (TCP SYN)']!, ctx);
    expect(Object.keys(r)).toEqual(['flow', 'node_name', 'time']);
    expect(Object.keys((r.flow.l4 as { TCP: object }).TCP)).toEqual(['source_port', 'destination_port', 'flags']);
  });

  it('orders TCP flags as flow.proto TCPFlags and lists only the set ones', () => {
    expect(flow('drop inherited (later packet of a dropped connection)').l4).toEqual({
      TCP: { source_port: 41866, destination_port: 80, flags: { PSH: true, ACK: true } },
    });
    expect(Object.keys((flow('trace to-endpoint FORWARDED reply (TCP SYN-ACK)').l4 as { TCP: { flags: object } }).TCP.flags)).toEqual([
      'SYN',
      'ACK',
    ]);
  });
});

describe('representative flows', () => {
  it('TCP SYN forwarded to endpoint', () => {
    const f = flow('trace to-endpoint FORWARDED (TCP SYN)');
    expect(f).toMatchObject({
      time: '2025-11-22T03:12:36.123456789Z',
      verdict: 'FORWARDED',
      IP: { source: ADDR.tiefighter, destination: ADDR.deathstar, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: 42746, destination_port: 80, flags: { SYN: true } } },
      Type: 'L3_L4',
      node_name: 'default/kind-worker2',
      event_type: { type: 4 },
      traffic_direction: 'INGRESS',
      trace_observation_point: 'TO_ENDPOINT',
      is_reply: false,
      Summary: 'TCP Flags: SYN',
    });
    // Seen from kind-worker2: the deathstar is local (its endpoint ID), the tiefighter remote.
    expect(f.destination).toEqual({
      ID: 2001,
      identity: ID.deathstar,
      cluster_name: 'default',
      namespace: 'default',
      labels: [
        'k8s:app.kubernetes.io/name=deathstar',
        'k8s:class=deathstar',
        'k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=default',
        'k8s:io.cilium.k8s.policy.cluster=default',
        'k8s:io.cilium.k8s.policy.serviceaccount=default',
        'k8s:io.kubernetes.pod.namespace=default',
        'k8s:org=empire',
      ],
      pod_name: 'deathstar-7848d6c4d5-th9v2',
    });
    expect(f.source.ID).toBeUndefined();
    expect(f.source.pod_name).toBe('tiefighter');
    // A trace's sub-type is the monitor's TRACE_TO_LXC = 0, which protojson omits.
    expect(f.event_type).toEqual({ type: 4 });
    expect(f).not.toHaveProperty('drop_reason');
    expect(f).not.toHaveProperty('reply');
    expect(f).not.toHaveProperty('hubcap');
  });

  it('drop POLICY_DENIED: reason number and enum name, no direction knowledge, no denied_by', () => {
    const drop = flow('drop POLICY_DENIED');
    expect(drop).toMatchObject({
      verdict: 'DROPPED',
      drop_reason: 133,
      drop_reason_desc: 'POLICY_DENIED',
      event_type: { type: 1, sub_type: 133 },
      traffic_direction: 'INGRESS',
      Summary: 'TCP Flags: SYN',
    });
    // threefour decodeIsReply: drops do not know whether they were replies.
    expect(drop).not.toHaveProperty('is_reply');
    const pv = flow('policy-verdict none INGRESS DENIED (POLICY_DENIED)');
    expect(pv).toMatchObject({ verdict: 'DROPPED', drop_reason: 133, drop_reason_desc: 'POLICY_DENIED', event_type: { type: 5 } });
    expect(pv).not.toHaveProperty('policy_match_type');
    // correlation.go: a default-deny drop names no policy.
    expect(pv).not.toHaveProperty('ingress_denied_by');
    expect(pv).not.toHaveProperty('hubcap');
  });

  it('drop POLICY_DENY: ingress_denied_by names the deny policy, hubcap names the rule', () => {
    const pv = flow('policy-verdict L3-Only INGRESS DENIED (POLICY_DENY)');
    expect(pv.ingress_denied_by).toEqual([
      {
        name: 'deny-xwing',
        namespace: 'default',
        labels: [
          'k8s:io.cilium.k8s.policy.derived-from=CiliumNetworkPolicy',
          'k8s:io.cilium.k8s.policy.name=deny-xwing',
          'k8s:io.cilium.k8s.policy.namespace=default',
        ],
        kind: 'CiliumNetworkPolicy',
      },
    ]);
    expect(pv.policy_match_type).toBe(1);
    expect(pv.hubcap).toEqual({ rule: 'CiliumNetworkPolicy/default/deny-xwing#0', source: 'deny.yaml:9' });
    const drop = flow('drop POLICY_DENY');
    expect(drop).toMatchObject({ drop_reason: 181, drop_reason_desc: 'POLICY_DENY', event_type: { type: 1, sub_type: 181 } });
    // Only policy verdicts carry the provenance lists.
    expect(drop).not.toHaveProperty('ingress_denied_by');
    expect(drop.hubcap).toEqual({ rule: 'CiliumNetworkPolicy/default/deny-xwing#0', source: 'deny.yaml:9' });
  });

  it('allowed policy verdict: ingress_allowed_by and the match type', () => {
    const pv = flow('policy-verdict L3-L4 INGRESS ALLOWED');
    expect(pv).toMatchObject({ verdict: 'FORWARDED', policy_match_type: 2, is_reply: false, traffic_direction: 'INGRESS' });
    expect(pv.ingress_allowed_by?.map((p) => [p.kind, p.namespace, p.name])).toEqual([['CiliumNetworkPolicy', 'default', 'rule1']]);
    expect(pv).not.toHaveProperty('egress_allowed_by');
  });

  it('an agent reason is no policy: hubcap.rule only', () => {
    const pv = flow('policy-verdict all EGRESS ALLOWED (agent reason)');
    expect(pv).not.toHaveProperty('egress_allowed_by');
    expect(pv.hubcap).toEqual({ rule: 'allow-any-egress' });
  });

  it('clusterwide policy: no namespace in the policy or its labels', () => {
    const ev = event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.EGRESS,
      matchType: 3,
      rule: RULE.ccnpDns,
      node: NODE.worker,
      packet: packet({ src: ADDR.xwing, dst: ADDR.cidr, proto: 'udp', sport: 33333, dport: 53 }),
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: ID.cidr,
    });
    expect(buildFlow(ev, ctx).egress_allowed_by).toEqual([
      {
        name: 'allow-dns',
        labels: ['k8s:io.cilium.k8s.policy.derived-from=CiliumClusterwideNetworkPolicy', 'k8s:io.cilium.k8s.policy.name=allow-dns'],
        kind: 'CiliumClusterwideNetworkPolicy',
      },
    ]);
  });

  it('AUDIT: no drop reason (the kernel reports verdict 0), the would-be reason under hubcap', () => {
    const pv = flow('policy-verdict none INGRESS AUDITED');
    expect(pv).toMatchObject({ verdict: 'AUDIT', is_reply: false, hubcap: { audit_drop_reason_desc: 'POLICY_DENIED' } });
    expect(pv).not.toHaveProperty('drop_reason');
    expect(pv).not.toHaveProperty('drop_reason_desc');
    const trace = flow('trace to-endpoint FORWARDED (audited)');
    expect(trace).toMatchObject({ verdict: 'FORWARDED', hubcap: { audit_drop_reason_desc: 'POLICY_DENIED' } });
  });

  it('REDIRECTED policy verdict and the to-proxy trace', () => {
    const pv = flow('policy-verdict L3-L4 INGRESS REDIRECTED');
    expect(pv).toMatchObject({ verdict: 'REDIRECTED', is_reply: false, ingress_allowed_by: [{ name: 'rule1' }] });
    const trace = flow('trace to-proxy FORWARDED');
    // threefour: a trace is FORWARDED; the observation point says where, proxy_port which proxy.
    expect(trace).toMatchObject({
      verdict: 'FORWARDED',
      event_type: { type: 4, sub_type: 1 },
      trace_observation_point: 'TO_PROXY',
      proxy_port: 15001,
    });
  });

  it('ICMPv4 echo request to world, and the reply (type and code 0 omitted)', () => {
    const req = flow('trace to-stack FORWARDED (ICMPv4 EchoRequest to world)');
    expect(req).toMatchObject({
      l4: { ICMPv4: { type: 8 } },
      Summary: 'ICMPv4 EchoRequest',
      destination: { identity: 9, labels: ['reserved:world-ipv4'] },
      event_type: { type: 4, sub_type: 3 },
      trace_observation_point: 'TO_STACK',
    });
    const reply = flow('trace to-endpoint FORWARDED (ICMPv4 EchoReply)');
    expect(reply.l4).toEqual({ ICMPv4: {} });
    expect(reply).toMatchObject({ Summary: 'ICMPv4 EchoReply', is_reply: true, reply: true });
  });

  it('ICMP echo replies get no provenance (correlation.go needs a non-zero type)', () => {
    const ev = event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 1,
      rule: RULE.rule1,
      node: NODE.worker,
      packet: packet({ src: ADDR.world, dst: ADDR.xwing, proto: 'icmp', icmpType: 0 }),
      dstEndpoint: EP.xwing,
      srcIdentity: 9,
      dstIdentity: ID.xwing,
    });
    expect(buildFlow(ev, ctx)).not.toHaveProperty('ingress_allowed_by');
  });

  it('IPv6: canonical addresses, ipVersion, world-ipv6', () => {
    const f = flow('trace to-endpoint FORWARDED (IPv6 TCP from world)');
    expect(f.IP).toEqual({ source: '2001:db8::1', destination: 'fd00:10:244:2::5', ipVersion: 'IPv6' });
    expect(f.source).toEqual({ identity: 10, labels: ['reserved:world-ipv6'] });
    const icmp6 = flow('trace to-endpoint FORWARDED (ICMPv6 EchoRequest)');
    expect(icmp6).toMatchObject({ l4: { ICMPv6: { type: 128 } }, Summary: 'ICMPv6 EchoRequest' });
  });

  it('reply: is_reply and the deprecated reply are true', () => {
    const f = flow('trace to-endpoint FORWARDED reply (TCP SYN-ACK)');
    expect(f).toMatchObject({ is_reply: true, reply: true, traffic_direction: 'EGRESS', Summary: 'TCP Flags: SYN, ACK' });
  });

  it('inherited drop: hubcap.inherited, only when inherited', () => {
    expect(flow('drop inherited (later packet of a dropped connection)').hubcap?.inherited).toBe(true);
    expect(flow('drop POLICY_DENY').hubcap).not.toHaveProperty('inherited');
  });

  it('UDP, SCTP and an IP packet without L4', () => {
    expect(flow('trace to-stack FORWARDED (UDP to a CIDR identity)')).toMatchObject({
      l4: { UDP: { source_port: 33333, destination_port: 53 } },
      Summary: 'UDP',
    });
    expect(flow('trace to-endpoint FORWARDED (SCTP)')).toMatchObject({ l4: { SCTP: { source_port: 5000, destination_port: 5001 } }, Summary: 'SCTP' });
    const gre = flow('trace to-host FORWARDED (GRE, no L4)');
    expect(gre).not.toHaveProperty('l4');
    expect(gre.Summary).toBe('IPv4');
  });

  it('a CIDR identity keeps only its most specific cidr label (SortAndFilterLabels)', () => {
    expect(flow('trace to-stack FORWARDED (UDP to a CIDR identity)').destination).toEqual({
      identity: ID.cidr,
      labels: ['cidr:1.1.1.0/24', 'reserved:world-ipv4'],
    });
  });

  it('an identity the agent adds during the replay (FQDN) prints its labels', () => {
    const doc = starWarsDoc();
    const live = new FlowContext(doc);
    const ev = event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_STACK,
      packet: packet({ src: ADDR.xwing, dst: '140.82.112.3', proto: 'tcp', sport: 40000, dport: 443 }),
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: 16777300,
    });
    expect(buildFlow(ev, live).destination).toEqual({ identity: 16777300 });
    doc.identities.push({ identity: 16777300, labels: ['fqdn:api.github.com', 'reserved:world-ipv4'], endpoints: [] });
    expect(buildFlow(ev, live).destination).toEqual({ identity: 16777300, labels: ['fqdn:api.github.com', 'reserved:world-ipv4'] });
  });

  it('host endpoints: local with its ID, remote as remote-node without one', () => {
    const f = flow('trace to-host FORWARDED (GRE, no L4)');
    expect(f.destination).toEqual({ ID: 7, identity: 1, labels: ['reserved:host'] });
    expect(f.source).toEqual({ identity: 6, labels: ['reserved:remote-node'] });
  });

  it('translation: a trace-sock post-xlate-fwd event of Type SOCK with the service', () => {
    const f = flow('TRANSLATED (ClusterIP to backend)');
    expect(f).toMatchObject({
      verdict: 'TRANSLATED',
      Type: 'SOCK',
      event_type: { type: 7, sub_type: 2 },
      destination_service: { name: 'deathstar', namespace: 'default' },
      sock_xlate_point: 'SOCK_XLATE_POINT_POST_DIRECTION_FWD',
      Summary: 'TCP',
      IP: { destination: ADDR.deathstar },
      l4: { TCP: { source_port: 42746, destination_port: 80 } },
      hubcap: { frontend: '10.96.0.50:80' },
    });
    expect(f).not.toHaveProperty('is_reply');
    expect(f).not.toHaveProperty('traffic_direction');
  });

  it('L7 HTTP request and response', () => {
    const req = flow('L7 http-request FORWARDED');
    expect(req).toMatchObject({
      Type: 'L7',
      event_type: { type: 129 },
      is_reply: false,
      l4: { TCP: { source_port: 42746, destination_port: 80 } },
      Summary: 'HTTP/1.1 POST http://deathstar.default.svc.cluster.local/v1/request-landing',
    });
    // seven/http.go: headers sorted by key; a request has no code.
    expect(req.l7).toEqual({
      type: 'REQUEST',
      http: {
        method: 'POST',
        url: 'http://deathstar.default.svc.cluster.local/v1/request-landing',
        protocol: 'HTTP/1.1',
        headers: [
          { key: 'Accept', value: '*/*' },
          { key: 'User-Agent', value: 'curl/7.68.0' },
        ],
      },
    });
    const resp = flow('L7 http-response FORWARDED');
    expect(resp).toMatchObject({
      is_reply: true,
      l7: { type: 'RESPONSE', latency_ns: '1250000', http: { code: 200 } },
      Summary: 'HTTP/1.1 200 1ms (POST http://deathstar.default.svc.cluster.local/v1/request-landing)',
    });
    // An L7 denial carries no drop reason.
    expect(flow('L7 http-request DROPPED')).not.toHaveProperty('drop_reason_desc');
  });

  it('L7 DNS request and answers', () => {
    expect(flow('L7 dns-request FORWARDED').l7).toEqual({
      type: 'REQUEST',
      dns: { query: 'echo.k8s.intra.', observation_source: 'proxy', qtypes: ['A'] },
    });
    expect(flow('L7 dns-response FORWARDED').Summary).toBe('DNS Answer "10.96.0.50" TTL: 30 (Proxy echo.k8s.intra. A)');
    expect(flow('L7 dns-response REFUSED')).toMatchObject({
      l7: { dns: { rcode: 5 } },
      Summary: 'DNS Answer RCode: Query Refused TTL: 0 (Proxy evil.example. AAAA)',
    });
  });

  it('Kafka not evaluated: hubcap.l7_not_evaluated', () => {
    expect(flow('L7 kafka-request FORWARDED (not evaluated)')).toMatchObject({
      l7: { kafka: { api_key: 'produce', api_version: 2, correlation_id: 7, topic: 'deathstar-plans' } },
      Summary: "Kafka request produce correlation id 7 topic 'deathstar-plans'",
      hubcap: { l7_not_evaluated: true },
    });
  });

  it('no node: no node_name, in the flow or the response', () => {
    const r = buildFlowResponse(all['trace ERROR (undecodable)']!, ctx);
    expect(r.flow).not.toHaveProperty('node_name');
    expect(r).not.toHaveProperty('node_name');
    expect(r.flow).toMatchObject({ verdict: 'ERROR', event_type: { type: 4 } });
    expect(r.flow).not.toHaveProperty('trace_observation_point');
  });

  it('reuses nothing of the event: a later refill does not change a built flow', () => {
    const ev = event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      packet: packet({ src: ADDR.xwing, dst: ADDR.deathstar, proto: 'tcp', sport: 1, dport: 2 }),
    });
    const f = buildFlow(ev, ctx);
    ev.packet.sport = 99;
    ev.packet.src[3] = 0;
    expect(f.l4).toEqual({ TCP: { source_port: 1, destination_port: 2, flags: { SYN: true } } });
    expect(f.IP?.source).toBe(ADDR.xwing);
  });
});
