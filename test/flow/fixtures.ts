/**
 * Hand-made maps documents and events for the flow tests: the Star Wars demo of Cilium's
 * getting-started guide (xwing, tiefighter, deathstar; rule1 from sw_l3_l4_policy.yaml), built
 * without the agent so the printers are tested on exactly the document they are given.
 */
import { FlowEvent, EventKind, ObservationPoint, TrafficDirection, Verdict, type L7Record } from '../../src/datapath/events.js';
import { DecodedPacket, IpProto, PacketKind, TcpFlag } from '../../src/decode/packet.js';
import type { EndpointRecord, MapsDocument } from '../../src/maps/document.js';
import { parseIp } from '../../src/net/addr.js';

export const EP = { xwing: 0, tiefighter: 1, deathstar: 2, hostWorker: 3, hostWorker2: 4 } as const;
export const NODE = { worker: 0, worker2: 1 } as const;
export const RULE = { rule1: 0, denyXwing: 1, allowAnyEgress: 2, ccnpDns: 3 } as const;
export const ID = { xwing: 6530, tiefighter: 19440, deathstar: 34545, cidr: 16777217 } as const;

export const ADDR = {
  xwing: '10.244.1.60',
  xwing6: 'fd00:10:244:1::3c',
  tiefighter: '10.244.1.61',
  deathstar: '10.244.2.5',
  deathstar6: 'fd00:10:244:2::5',
  worker: '172.18.0.2',
  worker2: '172.18.0.3',
  world: '93.184.216.34',
  world6: '2001:db8::1',
  cidr: '1.1.1.1',
  frontend: '10.96.0.50',
} as const;

function podLabels(ns: string, extra: string[], cluster: string): string[] {
  return [
    ...extra,
    `k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=${ns}`,
    `k8s:io.cilium.k8s.policy.cluster=${cluster}`,
    'k8s:io.cilium.k8s.policy.serviceaccount=default',
    `k8s:io.kubernetes.pod.namespace=${ns}`,
  ].sort();
}

function pod(id: number, ns: string, name: string, node: string, identity: number, labels: string[], addresses: string[]): EndpointRecord {
  return {
    id,
    name: `${ns}/${name}`,
    kind: 'pod',
    namespace: ns,
    pod: name,
    node,
    identity,
    labels,
    addresses,
    namedPorts: [],
    policyEnabled: { ingress: true, egress: false },
  };
}

function host(id: number, node: string, address: string): EndpointRecord {
  return {
    id,
    name: `node/${node}`,
    kind: 'host',
    node,
    identity: 1,
    labels: ['reserved:host'],
    addresses: [address],
    namedPorts: [],
    policyEnabled: { ingress: false, egress: false },
  };
}

/** The Star Wars demo on a two-node kind cluster. */
export function starWarsDoc(clusterName = 'default'): MapsDocument {
  const xwingLabels = podLabels('default', ['k8s:app.kubernetes.io/name=xwing', 'k8s:class=xwing', 'k8s:org=alliance'], clusterName);
  const tieLabels = podLabels('default', ['k8s:app.kubernetes.io/name=tiefighter', 'k8s:class=tiefighter', 'k8s:org=empire'], clusterName);
  const dsLabels = podLabels('default', ['k8s:app.kubernetes.io/name=deathstar', 'k8s:class=deathstar', 'k8s:org=empire'], clusterName);
  return {
    version: 1,
    generator: 'hubcap',
    options: { clusterName, enablePolicy: 'default', hostFirewall: false, policyMapMax: 16384, ipcacheMax: 512000, dualStack: true },
    nodes: [
      { name: 'kind-worker', labels: {}, addresses: [ADDR.worker], hostIdentityLabels: ['reserved:host'] },
      { name: 'kind-worker2', labels: {}, addresses: [ADDR.worker2], hostIdentityLabels: ['reserved:host'] },
    ],
    identities: [
      { identity: 1, labels: ['reserved:host'], endpoints: ['node/kind-worker', 'node/kind-worker2'] },
      { identity: 2, labels: ['reserved:world'], endpoints: [] },
      { identity: 6, labels: ['reserved:remote-node'], endpoints: [] },
      { identity: 9, labels: ['reserved:world-ipv4'], endpoints: [] },
      { identity: 10, labels: ['reserved:world-ipv6'], endpoints: [] },
      { identity: ID.xwing, labels: xwingLabels, endpoints: ['default/xwing'] },
      { identity: ID.tiefighter, labels: tieLabels, endpoints: ['default/tiefighter'] },
      { identity: ID.deathstar, labels: dsLabels, endpoints: ['default/deathstar-7848d6c4d5-th9v2'] },
      { identity: ID.cidr, labels: ['cidr:1.1.0.0/16', 'cidr:1.1.1.0/24', 'reserved:world-ipv4'], endpoints: [] },
    ],
    endpoints: [
      pod(1001, 'default', 'xwing', 'kind-worker', ID.xwing, xwingLabels, [ADDR.xwing, ADDR.xwing6]),
      pod(1002, 'default', 'tiefighter', 'kind-worker', ID.tiefighter, tieLabels, [ADDR.tiefighter]),
      pod(2001, 'default', 'deathstar-7848d6c4d5-th9v2', 'kind-worker2', ID.deathstar, dsLabels, [ADDR.deathstar, ADDR.deathstar6]),
      host(7, 'kind-worker', ADDR.worker),
      host(8, 'kind-worker2', ADDR.worker2),
    ],
    ipcache: { shared: [], views: [], capacity: 512000, overflow: [] },
    policyMaps: [],
    rules: [
      { ref: 'CiliumNetworkPolicy/default/rule1#0', source: 'sw_l3_l4_policy.yaml:7', kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'rule1' },
      { ref: 'CiliumNetworkPolicy/default/deny-xwing#0', source: 'deny.yaml:9', kind: 'CiliumNetworkPolicy', namespace: 'default', name: 'deny-xwing' },
      { ref: 'allow-any-egress' },
      { ref: 'CiliumClusterwideNetworkPolicy/allow-dns#0', source: 'ccnp.yaml:3', kind: 'CiliumClusterwideNetworkPolicy', name: 'allow-dns' },
    ],
    services: [
      {
        service: 'default/deathstar',
        type: 'ClusterIP',
        address: ADDR.frontend,
        port: 80,
        protocol: 'TCP',
        backends: [{ address: ADDR.deathstar, port: 80 }],
      },
    ],
    l7: [
      {
        endpoint: 'default/deathstar-7848d6c4d5-th9v2',
        direction: 'ingress',
        protocol: 6,
        port: 80,
        endPort: 80,
        parser: 'http',
        proxyPort: 15001,
        peers: [ID.tiefighter],
        rules: [{ method: 'POST', path: '/v1/request-landing' }],
        derivedFrom: [0],
      },
    ],
    fqdnSelectors: [],
    notes: [],
  };
}

export type Proto = 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmpv6' | 'ip';

export interface PacketSpec {
  src: string;
  dst: string;
  proto: Proto;
  sport?: number;
  dport?: number;
  /** TCP flags, e.g. TcpFlag.SYN | TcpFlag.ACK. */
  flags?: number;
  icmpType?: number;
  icmpCode?: number;
}

/** A decoded packet as the decoder would leave it for this spec. */
export function packet(spec: PacketSpec): DecodedPacket {
  const p = new DecodedPacket();
  const src = parseIp(spec.src);
  const dst = parseIp(spec.dst);
  if (!src || !dst || src.family !== dst.family) throw new Error(`bad addresses ${spec.src} ${spec.dst}`);
  p.ipVersion = src.family;
  p.src.set(src.words);
  p.dst.set(dst.words);
  p.l3Offset = 14;
  switch (spec.proto) {
    case 'tcp':
      p.kind = PacketKind.TCP;
      p.ipProto = IpProto.TCP;
      p.hasPorts = true;
      p.tcpFlags = spec.flags ?? TcpFlag.SYN;
      break;
    case 'udp':
      p.kind = PacketKind.UDP;
      p.ipProto = IpProto.UDP;
      p.hasPorts = true;
      break;
    case 'sctp':
      p.kind = PacketKind.SCTP;
      p.ipProto = IpProto.SCTP;
      p.hasPorts = true;
      break;
    case 'icmp':
      p.kind = PacketKind.ICMP;
      p.ipProto = IpProto.ICMP;
      p.icmpType = spec.icmpType ?? 8;
      p.icmpCode = spec.icmpCode ?? 0;
      break;
    case 'icmpv6':
      p.kind = PacketKind.ICMPV6;
      p.ipProto = IpProto.ICMPV6;
      p.icmpType = spec.icmpType ?? 128;
      p.icmpCode = spec.icmpCode ?? 0;
      break;
    case 'ip':
      p.kind = PacketKind.IP_OTHER;
      p.ipProto = 47;
      break;
  }
  if (p.hasPorts) {
    p.sport = spec.sport ?? 0;
    p.dport = spec.dport ?? 0;
  }
  return p;
}

/** 2025-11-22T03:12:36.123456789Z */
export const T0 = { sec: Date.UTC(2025, 10, 22, 3, 12, 36) / 1000, nsec: 123456789 };

export type EventFields = Partial<Omit<FlowEvent, 'origDst' | 'packet' | 'l7'>> & {
  packet: DecodedPacket;
  l7?: L7Record | null;
  origDst?: string;
};

/** A FlowEvent with the fields given (the rest as the datapath resets them). */
export function event(fields: EventFields): FlowEvent {
  const ev = new FlowEvent();
  ev.tsSec = T0.sec;
  ev.tsNsec = T0.nsec;
  const { origDst, ...rest } = fields;
  Object.assign(ev, rest);
  if (origDst !== undefined) ev.origDst.set(parseIp(origDst)!.words);
  return ev;
}

// ---- The events of one connection, as the datapath emits them -------------------------------

/** tiefighter -> deathstar:80, allowed by rule1 (L3-L4) at ingress on kind-worker2. */
export function tieToDeathstar(flags: number = TcpFlag.SYN): DecodedPacket {
  return packet({ src: ADDR.tiefighter, dst: ADDR.deathstar, proto: 'tcp', sport: 42746, dport: 80, flags });
}

export function deathstarToTie(flags: number = TcpFlag.SYN | TcpFlag.ACK): DecodedPacket {
  return packet({ src: ADDR.deathstar, dst: ADDR.tiefighter, proto: 'tcp', sport: 80, dport: 42746, flags });
}

export function xwingToDeathstar(flags: number = TcpFlag.SYN): DecodedPacket {
  return packet({ src: ADDR.xwing, dst: ADDR.deathstar, proto: 'tcp', sport: 41866, dport: 80, flags });
}

const tieSides = { srcEndpoint: EP.tiefighter, dstEndpoint: EP.deathstar, srcIdentity: ID.tiefighter, dstIdentity: ID.deathstar };
const xwingSides = { srcEndpoint: EP.xwing, dstEndpoint: EP.deathstar, srcIdentity: ID.xwing, dstIdentity: ID.deathstar };
const replySides = { srcEndpoint: EP.deathstar, dstEndpoint: EP.tiefighter, srcIdentity: ID.deathstar, dstIdentity: ID.tiefighter };

/** Named cases used across the JSON, schema and compact tests. */
export function cases(): Record<string, FlowEvent> {
  const tcpSyn = tieToDeathstar();
  return {
    'trace to-endpoint FORWARDED (TCP SYN)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 1,
      packet: tcpSyn,
      ...tieSides,
    }),
    'trace to-endpoint FORWARDED reply (TCP SYN-ACK)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.EGRESS,
      isReply: true,
      isFinal: true,
      node: NODE.worker,
      connection: 1,
      packet: deathstarToTie(),
      ...replySides,
    }),
    'policy-verdict L3-L4 INGRESS ALLOWED': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 2,
      rule: RULE.rule1,
      node: NODE.worker2,
      connection: 1,
      packet: tcpSyn,
      ...tieSides,
    }),
    'policy-verdict all EGRESS ALLOWED (agent reason)': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.EGRESS,
      matchType: 4,
      rule: RULE.allowAnyEgress,
      node: NODE.worker,
      connection: 1,
      packet: tcpSyn,
      ...tieSides,
    }),
    'policy-verdict none INGRESS DENIED (POLICY_DENIED)': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.DROPPED,
      dropReason: 133,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 0,
      node: NODE.worker2,
      connection: 2,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'drop POLICY_DENIED': event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 133,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 2,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'policy-verdict L3-Only INGRESS DENIED (POLICY_DENY)': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.DROPPED,
      dropReason: 181,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 1,
      rule: RULE.denyXwing,
      node: NODE.worker2,
      connection: 3,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'drop POLICY_DENY': event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 181,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      rule: RULE.denyXwing,
      node: NODE.worker2,
      connection: 3,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'drop inherited (later packet of a dropped connection)': event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 181,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      inherited: true,
      rule: RULE.denyXwing,
      node: NODE.worker2,
      connection: 3,
      ctStatus: 1,
      packet: xwingToDeathstar(TcpFlag.ACK | TcpFlag.PSH),
      ...xwingSides,
    }),
    'policy-verdict none INGRESS AUDITED': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.AUDIT,
      dropReason: 133,
      audited: true,
      trafficDirection: TrafficDirection.INGRESS,
      node: NODE.worker2,
      connection: 4,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'trace to-endpoint FORWARDED (audited)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      dropReason: 133,
      audited: true,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 4,
      packet: xwingToDeathstar(),
      ...xwingSides,
    }),
    'policy-verdict L3-L4 INGRESS REDIRECTED': event({
      kind: EventKind.POLICY_VERDICT,
      verdict: Verdict.REDIRECTED,
      proxyPort: 15001,
      trafficDirection: TrafficDirection.INGRESS,
      matchType: 2,
      rule: RULE.rule1,
      node: NODE.worker2,
      connection: 5,
      packet: tcpSyn,
      ...tieSides,
    }),
    'trace to-proxy FORWARDED': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      proxyPort: 15001,
      observationPoint: ObservationPoint.TO_PROXY,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 5,
      packet: tcpSyn,
      ...tieSides,
    }),
    'trace to-stack FORWARDED (ICMPv4 EchoRequest to world)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_STACK,
      trafficDirection: TrafficDirection.EGRESS,
      isFinal: true,
      node: NODE.worker,
      connection: 6,
      packet: packet({ src: ADDR.xwing, dst: ADDR.world, proto: 'icmp', icmpType: 8 }),
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: 9,
    }),
    'trace to-endpoint FORWARDED (ICMPv4 EchoReply)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.EGRESS,
      isReply: true,
      isFinal: true,
      node: NODE.worker,
      connection: 6,
      packet: packet({ src: ADDR.world, dst: ADDR.xwing, proto: 'icmp', icmpType: 0 }),
      dstEndpoint: EP.xwing,
      srcIdentity: 9,
      dstIdentity: ID.xwing,
    }),
    'trace to-endpoint FORWARDED (IPv6 TCP from world)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 7,
      packet: packet({ src: ADDR.world6, dst: ADDR.deathstar6, proto: 'tcp', sport: 55000, dport: 443 }),
      dstEndpoint: EP.deathstar,
      srcIdentity: 10,
      dstIdentity: ID.deathstar,
    }),
    'trace to-endpoint FORWARDED (ICMPv6 EchoRequest)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 8,
      packet: packet({ src: ADDR.xwing6, dst: ADDR.deathstar6, proto: 'icmpv6', icmpType: 128 }),
      srcEndpoint: EP.xwing,
      dstEndpoint: EP.deathstar,
      srcIdentity: ID.xwing,
      dstIdentity: ID.deathstar,
    }),
    'trace to-stack FORWARDED (UDP to a CIDR identity)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_STACK,
      trafficDirection: TrafficDirection.EGRESS,
      isFinal: true,
      node: NODE.worker,
      connection: 9,
      packet: packet({ src: ADDR.xwing, dst: ADDR.cidr, proto: 'udp', sport: 33333, dport: 53 }),
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: ID.cidr,
    }),
    'trace to-endpoint FORWARDED (SCTP)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker2,
      connection: 10,
      packet: packet({ src: ADDR.tiefighter, dst: ADDR.deathstar, proto: 'sctp', sport: 5000, dport: 5001 }),
      ...tieSides,
    }),
    'trace to-host FORWARDED (GRE, no L4)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_HOST,
      trafficDirection: TrafficDirection.INGRESS,
      isFinal: true,
      node: NODE.worker,
      connection: 11,
      packet: packet({ src: ADDR.worker2, dst: ADDR.worker, proto: 'ip' }),
      srcEndpoint: EP.hostWorker2,
      dstEndpoint: EP.hostWorker,
      srcIdentity: 6,
      dstIdentity: 1,
    }),
    'drop FRAG_NOT_FOUND (no connection)': event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 175,
      trafficDirection: TrafficDirection.EGRESS,
      isFinal: true,
      node: NODE.worker,
      packet: packet({ src: ADDR.xwing, dst: ADDR.world, proto: 'ip' }),
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: 9,
    }),
    'trace ERROR (undecodable)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.ERROR,
      isFinal: true,
      packet: packet({ src: ADDR.xwing, dst: ADDR.deathstar, proto: 'ip' }),
      srcEndpoint: EP.xwing,
      dstEndpoint: EP.deathstar,
      srcIdentity: ID.xwing,
      dstIdentity: ID.deathstar,
    }),
    'TRANSLATED (ClusterIP to backend)': event({
      kind: EventKind.TRACE,
      verdict: Verdict.TRANSLATED,
      trafficDirection: TrafficDirection.EGRESS,
      node: NODE.worker,
      connection: 12,
      service: 0,
      origDst: ADDR.frontend,
      origDport: 80,
      packet: tcpSyn,
      ...tieSides,
    }),
    'L7 http-request FORWARDED': event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      node: NODE.worker2,
      connection: 5,
      rule: RULE.rule1,
      packet: tieToDeathstar(TcpFlag.ACK | TcpFlag.PSH),
      l7: {
        type: 'REQUEST',
        http: {
          method: 'POST',
          url: 'http://deathstar.default.svc.cluster.local/v1/request-landing',
          protocol: 'HTTP/1.1',
          headers: [
            { key: 'User-Agent', value: 'curl/7.68.0' },
            { key: 'Accept', value: '*/*' },
          ],
        },
      },
      ...tieSides,
    }),
    'L7 http-response FORWARDED': event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      node: NODE.worker2,
      connection: 5,
      isReply: true,
      packet: deathstarToTie(TcpFlag.ACK | TcpFlag.PSH),
      l7: {
        type: 'RESPONSE',
        latencyNs: 1_250_000,
        http: { code: 200, method: 'POST', url: 'http://deathstar.default.svc.cluster.local/v1/request-landing', protocol: 'HTTP/1.1' },
      },
      ...replySides,
    }),
    'L7 http-request DROPPED': event({
      kind: EventKind.L7,
      verdict: Verdict.DROPPED,
      trafficDirection: TrafficDirection.INGRESS,
      node: NODE.worker2,
      connection: 5,
      rule: RULE.rule1,
      packet: tieToDeathstar(TcpFlag.ACK | TcpFlag.PSH),
      l7: { type: 'REQUEST', http: { method: 'PUT', url: 'http://deathstar.default.svc.cluster.local/v1/exhaust-port', protocol: 'HTTP/1.1' } },
      ...tieSides,
    }),
    'L7 dns-request FORWARDED': event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.EGRESS,
      node: NODE.worker,
      connection: 9,
      packet: packet({ src: ADDR.xwing, dst: ADDR.cidr, proto: 'udp', sport: 33333, dport: 53 }),
      l7: { type: 'REQUEST', dns: { query: 'echo.k8s.intra.', qtypes: ['A'], observationSource: 'proxy' } },
      srcEndpoint: EP.xwing,
      srcIdentity: ID.xwing,
      dstIdentity: ID.cidr,
    }),
    'L7 dns-response FORWARDED': event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.EGRESS,
      node: NODE.worker,
      connection: 9,
      isReply: true,
      packet: packet({ src: ADDR.cidr, dst: ADDR.xwing, proto: 'udp', sport: 53, dport: 33333 }),
      l7: {
        type: 'RESPONSE',
        dns: { query: 'echo.k8s.intra.', qtypes: ['A'], ips: ['10.96.0.50'], ttl: 30, rrtypes: ['A'], observationSource: 'proxy' },
      },
      dstEndpoint: EP.xwing,
      srcIdentity: ID.cidr,
      dstIdentity: ID.xwing,
    }),
    'L7 dns-response REFUSED': event({
      kind: EventKind.L7,
      verdict: Verdict.DROPPED,
      trafficDirection: TrafficDirection.EGRESS,
      node: NODE.worker,
      connection: 9,
      isReply: true,
      packet: packet({ src: ADDR.cidr, dst: ADDR.xwing, proto: 'udp', sport: 53, dport: 33333 }),
      l7: { type: 'RESPONSE', dns: { query: 'evil.example.', qtypes: ['AAAA'], rcode: 5, observationSource: 'proxy' } },
      dstEndpoint: EP.xwing,
      srcIdentity: ID.cidr,
      dstIdentity: ID.xwing,
    }),
    'L7 kafka-request FORWARDED (not evaluated)': event({
      kind: EventKind.L7,
      verdict: Verdict.FORWARDED,
      trafficDirection: TrafficDirection.INGRESS,
      node: NODE.worker2,
      connection: 13,
      l7NotEvaluated: true,
      packet: packet({ src: ADDR.tiefighter, dst: ADDR.deathstar, proto: 'tcp', sport: 40000, dport: 9092, flags: TcpFlag.ACK | TcpFlag.PSH }),
      l7: { type: 'REQUEST', kafka: { apiKey: 'produce', apiVersion: 2, correlationId: 7, topic: 'deathstar-plans' } },
      ...tieSides,
    }),
  };
}
