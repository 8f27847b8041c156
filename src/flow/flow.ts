/**
 * Hubble flows from the datapath's events: the object `hubble observe -o json` prints, with the
 * JSON names of flow.proto, and the descriptions the compact and table printers share (event
 * type, observation point, verdict words, summary text).
 *
 * Mirrors: api/v1/flow/flow.proto (field names, enum names; protojson with proto names, so zero
 * values and empty lists are omitted, enums print by name, uint64 as strings, BoolValue as a bare
 * bool), pkg/hubble/parser/threefour/parser.go (drop, trace and policy-verdict events: verdict,
 * drop reason, `event_type` with the monitor sub-type, `is_reply` known for traces and allowed
 * policy verdicts only, `Summary` from the last decoded gopacket layer: "TCP Flags: SYN, ACK",
 * "UDP", "ICMPv4 EchoRequest"), pkg/hubble/parser/sock/parser.go (a service translation as a
 * trace-sock `post-xlate-fwd` TRANSLATED event of Type SOCK), pkg/hubble/parser/seven (L7 access
 * logs: `l7`, Type L7, summaries "HTTP/1.1 GET http://..." and "DNS Query name. A"),
 * pkg/policy/correlation/correlation.go (the `*_allowed_by` / `*_denied_by` lists on allowed
 * policy verdicts and on policy verdicts denied by a deny rule, POLICY_DENY), hubble's
 * GetFlowsResponse (`{"flow": {...}, "node_name": ..., "time": ...}` per line, as the Hubble
 * exporter writes it, Documentation/observability/hubble/configuration/export.rst).
 *
 * Deliberate differences: `time` always has nine fractional digits (design.md §3; protojson
 * trims to 0, 3, 6 or 9); a translation carries the source port (Cilium's socket hook does not
 * know it yet); AUDIT policy verdicts keep the would-be drop reason under `hubcap` (the kernel
 * reports verdict 0). hubcap's own fields live under `hubcap`: `rule`, `source`, `inherited`,
 * `l7_not_evaluated`, `audit_drop_reason_desc`, `frontend`.
 */
import {
  EventKind,
  ObservationPoint,
  TrafficDirection,
  Verdict,
  VERDICT_NAMES,
  type FlowEvent,
  type L7Record,
} from '../datapath/events.js';
import { TCP_FLAG_JSON, formatAddress, formatTimeRfc3339 } from '../decode/format.js';
import { IpProto, TcpFlag, type DecodedPacket } from '../decode/packet.js';
import { DROP_POLICY_DENY, dropReasonName, dropReasonText, policyMatchTypeName } from '../maps/codes.js';
import type { FlowContext, HubbleEndpoint, HubblePolicy, HubbleService } from './context.js';

// ---------------------------------------------------------------------------------------------
// Monitor numbers (pkg/monitor/api/types.go)

/** pkg/monitor/api/types.go MessageType*: Hubble's `event_type.type`. */
export const MessageType = {
  DROP: 1,
  DEBUG: 2,
  CAPTURE: 3,
  TRACE: 4,
  POLICY_VERDICT: 5,
  REC_CAPTURE: 6,
  TRACE_SOCK: 7,
  ACCESS_LOG: 129,
  AGENT: 130,
} as const;

/** `hubble observe --type` names (MessageTypeNames). */
export const MESSAGE_TYPE_NAMES: Readonly<Record<string, number>> = {
  drop: MessageType.DROP,
  debug: MessageType.DEBUG,
  capture: MessageType.CAPTURE,
  trace: MessageType.TRACE,
  'policy-verdict': MessageType.POLICY_VERDICT,
  recorder: MessageType.REC_CAPTURE,
  'trace-sock': MessageType.TRACE_SOCK,
  l7: MessageType.ACCESS_LOG,
  agent: MessageType.AGENT,
};

/** bpf/lib/trace.h TRACE_TO_LXC ...: the monitor's observation point numbers and names. */
export const TRACE_POINT_NAMES: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
];

/** flow.proto TraceObservationPoint names by number. */
const OBSERVATION_POINT_NAMES: Readonly<Record<number, string>> = {
  1: 'TO_PROXY',
  2: 'TO_HOST',
  3: 'TO_STACK',
  4: 'TO_OVERLAY',
  101: 'TO_ENDPOINT',
  5: 'FROM_ENDPOINT',
  6: 'FROM_PROXY',
  7: 'FROM_HOST',
  8: 'FROM_STACK',
  9: 'FROM_OVERLAY',
  10: 'FROM_NETWORK',
  11: 'TO_NETWORK',
};

/** flow.proto SocketTranslationPoint: the socket LB's hooks. */
export const SockXlatePoint = {
  PRE_DIRECTION_FWD: 1,
  POST_DIRECTION_FWD: 2,
  PRE_DIRECTION_REV: 3,
  POST_DIRECTION_REV: 4,
} as const;

/**
 * The monitor sub-type of a trace event: flow.proto numbers equal the monitor's, except
 * TO_ENDPOINT (101 in the proto, TRACE_TO_LXC = 0 in the datapath). -1 for an unknown point.
 */
export function traceSubType(observationPoint: number): number {
  if (observationPoint === ObservationPoint.TO_ENDPOINT) return 0;
  if (observationPoint >= 1 && observationPoint <= 11) return observationPoint;
  return -1;
}

/** Hubble's `event_type.type` of an event: a translation is a trace-sock event. */
export function hubbleEventType(ev: FlowEvent): number {
  if (ev.kind === EventKind.TRACE && ev.verdict === Verdict.TRANSLATED) return MessageType.TRACE_SOCK;
  return ev.kind;
}

/**
 * Hubble's `event_type.sub_type`: the drop reason for drops, the observation point for traces,
 * the translation point for trace-sock, 0 otherwise (policy_log.h sends policy verdicts with
 * sub-type 0). -1 when a trace's point is unknown.
 */
export function hubbleEventSubType(ev: FlowEvent): number {
  switch (hubbleEventType(ev)) {
    case MessageType.DROP:
      return ev.dropReason & 0xff;
    case MessageType.TRACE:
      return traceSubType(ev.observationPoint);
    case MessageType.TRACE_SOCK:
      return SockXlatePoint.POST_DIRECTION_FWD;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Summary text (threefour parser: gopacket layer names; seven parser: L7 summaries)

/** threefour getTCPFlags: SYN, ACK, RST, FIN, PSH, URG, ECE, CWR, NS, joined by ", ". */
const TCP_FLAG_SUMMARY_ORDER: ReadonlyArray<readonly [number, string]> = [
  [TcpFlag.SYN, 'SYN'],
  [TcpFlag.ACK, 'ACK'],
  [TcpFlag.RST, 'RST'],
  [TcpFlag.FIN, 'FIN'],
  [TcpFlag.PSH, 'PSH'],
  [TcpFlag.URG, 'URG'],
  [TcpFlag.ECE, 'ECE'],
  [TcpFlag.CWR, 'CWR'],
  [TcpFlag.NS, 'NS'],
];

const tcpSummaryCache: string[] = new Array<string>(512).fill('');
const tcpFlagsObjectCache: Array<Readonly<Record<string, true>> | undefined> = new Array(512);

/** "TCP Flags: SYN, ACK" (cached per flag combination). */
export function tcpFlagsSummary(flags: number): string {
  const f = flags & 0x1ff;
  const cached = tcpSummaryCache[f]!;
  if (cached !== '') return cached;
  const names: string[] = [];
  for (const [bit, name] of TCP_FLAG_SUMMARY_ORDER) if ((f & bit) !== 0) names.push(name);
  return (tcpSummaryCache[f] = `TCP Flags: ${names.join(', ')}`);
}

/** `{"SYN": true, "ACK": true}`: a frozen object shared per flag combination. */
export function tcpFlagsObject(flags: number): Readonly<Record<string, true>> {
  const f = flags & 0x1ff;
  let o = tcpFlagsObjectCache[f];
  if (o === undefined) {
    const built: Record<string, true> = {};
    for (const [bit, name] of TCP_FLAG_JSON) if ((f & bit) !== 0) built[name] = true;
    o = tcpFlagsObjectCache[f] = Object.freeze(built);
  }
  return o;
}

interface IcmpTypeInfo {
  name: string;
  codes?: Readonly<Record<number, string>>;
}

/** gopacket layers/icmp4.go icmpv4TypeCodeInfo. */
const ICMPV4_TYPES: Readonly<Record<number, IcmpTypeInfo>> = {
  0: { name: 'EchoReply' },
  3: {
    name: 'DestinationUnreachable',
    codes: {
      0: 'Net',
      1: 'Host',
      2: 'Protocol',
      3: 'Port',
      4: 'FragmentationNeeded',
      5: 'SourceRoutingFailed',
      6: 'NetUnknown',
      7: 'HostUnknown',
      8: 'SourceIsolated',
      9: 'NetAdminProhibited',
      10: 'HostAdminProhibited',
      11: 'NetTOS',
      12: 'HostTOS',
      13: 'CommAdminProhibited',
      14: 'HostPrecedence',
      15: 'PrecedenceCutoff',
    },
  },
  4: { name: 'SourceQuench' },
  5: { name: 'Redirect', codes: { 0: 'Net', 1: 'Host', 2: 'TOS+Net', 3: 'TOS+Host' } },
  8: { name: 'EchoRequest' },
  9: { name: 'RouterAdvertisement' },
  10: { name: 'RouterSolicitation' },
  11: { name: 'TimeExceeded', codes: { 0: 'TTLExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  12: { name: 'ParameterProblem', codes: { 0: 'PointerIndicatesError', 1: 'MissingOption', 2: 'BadLength' } },
  13: { name: 'TimestampRequest' },
  14: { name: 'TimestampReply' },
  15: { name: 'InfoRequest' },
  16: { name: 'InfoReply' },
  17: { name: 'AddressMaskRequest' },
  18: { name: 'AddressMaskReply' },
};

/** gopacket layers/icmp6.go icmpv6TypeCodeInfo. */
const ICMPV6_TYPES: Readonly<Record<number, IcmpTypeInfo>> = {
  1: {
    name: 'DestinationUnreachable',
    codes: {
      0: 'NoRouteToDst',
      1: 'AdminProhibited',
      2: 'BeyondScopeOfSrc',
      3: 'AddressUnreachable',
      4: 'PortUnreachable',
      5: 'SrcAddressFailedPolicy',
      6: 'RejectRouteToDst',
    },
  },
  2: { name: 'PacketTooBig' },
  3: { name: 'TimeExceeded', codes: { 0: 'HopLimitExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  4: { name: 'ParameterProblem', codes: { 0: 'ErroneousHeaderField', 1: 'UnrecognizedNextHeader', 2: 'UnrecognizedNextHeader' } },
  128: { name: 'EchoRequest' },
  129: { name: 'EchoReply' },
  133: { name: 'RouterSolicitation' },
  134: { name: 'RouterAdvertisement' },
  135: { name: 'NeighborSolicitation' },
  136: { name: 'NeighborAdvertisement' },
  137: { name: 'Redirect' },
};

/** gopacket ICMPv4TypeCode.String / ICMPv6TypeCode.String. */
function icmpTypeCodeText(table: Readonly<Record<number, IcmpTypeInfo>>, type: number, code: number): string {
  const info = table[type];
  if (info === undefined) return `${type}(${code})`;
  if (info.codes === undefined) return code === 0 ? info.name : `${info.name}(Code: ${code})`;
  const c = info.codes[code];
  return c === undefined ? `${info.name}(Code: ${code})` : `${info.name}(${c})`;
}

export function icmpv4TypeCodeText(type: number, code: number): string {
  return icmpTypeCodeText(ICMPV4_TYPES, type, code);
}

export function icmpv6TypeCodeText(type: number, code: number): string {
  return icmpTypeCodeText(ICMPV6_TYPES, type, code);
}

/** Which transport the flow's `l4` shows, from the IP protocol and what was decoded. */
const enum L4Kind {
  NONE = 0,
  TCP = 1,
  UDP = 2,
  SCTP = 3,
  ICMPV4 = 4,
  ICMPV6 = 5,
}

function l4KindOf(p: DecodedPacket): L4Kind {
  if (p.ipVersion === 0) return L4Kind.NONE;
  switch (p.ipProto) {
    case IpProto.TCP:
      return p.hasPorts ? L4Kind.TCP : L4Kind.NONE;
    case IpProto.UDP:
      return p.hasPorts ? L4Kind.UDP : L4Kind.NONE;
    case IpProto.SCTP:
      return p.hasPorts ? L4Kind.SCTP : L4Kind.NONE;
    case IpProto.ICMP:
      return p.icmpType >= 0 ? L4Kind.ICMPV4 : L4Kind.NONE;
    case IpProto.ICMPV6:
      return p.icmpType >= 0 ? L4Kind.ICMPV6 : L4Kind.NONE;
    default:
      return L4Kind.NONE;
  }
}

/** The L3/L4 `Summary`: the text of the last layer gopacket decoded. */
export function packetSummary(p: DecodedPacket | undefined): string {
  if (p === undefined) return '';
  switch (l4KindOf(p)) {
    case L4Kind.TCP:
      return tcpFlagsSummary(p.tcpFlags);
    case L4Kind.UDP:
      return 'UDP';
    case L4Kind.SCTP:
      return 'SCTP';
    case L4Kind.ICMPV4:
      return `ICMPv4 ${icmpv4TypeCodeText(p.icmpType, p.icmpCode)}`;
    case L4Kind.ICMPV6:
      return `ICMPv6 ${icmpv6TypeCodeText(p.icmpType, p.icmpCode)}`;
    default:
      return p.ipVersion === 4 ? 'IPv4' : p.ipVersion === 6 ? 'IPv6' : 'Ethernet';
  }
}

/** gopacket layers.DNSResponseCode.String. */
const DNS_RCODE_TEXT: Readonly<Record<number, string>> = {
  0: 'No Error',
  1: 'Format Error',
  2: 'Server Failure',
  3: 'Non-Existent Domain',
  4: 'Not Implemented',
  5: 'Query Refused',
  6: 'Name Exists when it should not',
  7: 'RR Set Exists when it should not',
  8: 'RR Set that should exist does not',
  9: 'Server Not Authoritative for zone',
  10: 'Name not contained in zone',
  16: 'Bad OPT Version',
  17: 'Key not recognized',
  18: 'Signature out of time window',
  19: 'Bad TKEY Mode',
  20: 'Duplicate key name',
  21: 'Algorithm not supported',
  22: 'Bad Truncation',
  23: 'Bad Cookie',
};

/** Go's %q for the plain strings DNS answers hold (escapes quote and backslash). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** seven parser summaries: http.go httpSummary, dns.go dnsSummary, kafka.go kafkaSummary. */
export function l7Summary(rec: L7Record): string {
  const response = rec.type === 'RESPONSE';
  if (rec.http) {
    const h = rec.http;
    const request = `${h.method} ${h.url}`;
    if (!response) return `${h.protocol} ${request}`;
    const ms = Math.floor((rec.latencyNs ?? 0) / 1e6);
    return `${h.protocol} ${h.code ?? 0} ${ms}ms (${request})`;
  }
  if (rec.kafka) {
    const k = rec.kafka;
    const head = `${k.apiKey ?? ''} correlation id ${k.correlationId ?? 0} topic '${k.topic ?? ''}'`;
    return response ? `Kafka response ${head} return code ${k.errorCode ?? 0}` : `Kafka request ${head}`;
  }
  if (rec.dns) {
    const d = rec.dns;
    const qtypes = (d.qtypes ?? []).join(',');
    if (!response) return `DNS Query ${d.query} ${qtypes}`;
    const rcode = d.rcode ?? 0;
    let answer: string;
    if (rcode !== 0) {
      answer = `RCode: ${DNS_RCODE_TEXT[rcode] ?? 'Unknown'}`;
    } else {
      const parts: string[] = [];
      if (d.ips && d.ips.length > 0) parts.push(goQuote(d.ips.join(',')));
      if (d.cnames && d.cnames.length > 0) parts.push(`CNAMEs: ${goQuote(d.cnames.join(','))}`);
      answer = parts.join(' ');
    }
    const source = (d.observationSource ?? 'proxy') === 'proxy' ? 'Proxy' : 'Query';
    return `DNS Answer ${answer} TTL: ${d.ttl ?? 0} (${source} ${d.query} ${qtypes})`;
  }
  return '';
}

/** The flow's `Summary`. */
export function flowSummary(ev: FlowEvent): string {
  if (ev.kind === EventKind.L7 && ev.l7 !== null) return l7Summary(ev.l7);
  if (hubbleEventType(ev) === MessageType.TRACE_SOCK) {
    // sock/parser.go decodeSummary: the transport only.
    const proto = ev.packet?.ipProto;
    return proto === IpProto.TCP ? 'TCP' : proto === IpProto.UDP ? 'UDP' : 'Unknown';
  }
  return packetSummary(ev.packet);
}

// ---------------------------------------------------------------------------------------------
// The words of the compact and table printers (hubble/pkg/printer/printer.go)

/** printer.go GetFlowType: `to-endpoint`, `Policy denied`, `policy-verdict:L3-L4 INGRESS`, `http-request`. */
export function flowTypeText(ev: FlowEvent): string {
  if (ev.kind === EventKind.L7) {
    const rec = ev.l7;
    const type = rec === null ? 'unknown_l7_type' : rec.type.toLowerCase();
    if (rec?.http) return `http-${type}`;
    if (rec?.dns) return `dns-${type} ${rec.dns.observationSource ?? 'proxy'}`;
    if (rec?.kafka) return `kafka-${type}`;
    return `l7-${type}`;
  }
  switch (hubbleEventType(ev)) {
    case MessageType.TRACE: {
      const sub = traceSubType(ev.observationPoint);
      return sub < 0 ? 'unknown' : TRACE_POINT_NAMES[sub]!;
    }
    case MessageType.DROP:
      return dropReasonText(ev.dropReason & 0xff);
    case MessageType.POLICY_VERDICT:
      return `policy-verdict:${policyMatchTypeName(ev.matchType)} ${trafficDirectionName(ev.trafficDirection)}`;
    case MessageType.TRACE_SOCK:
      return 'post-xlate-fwd';
    default:
      return 'UNKNOWN';
  }
}

/** printer.go getVerdict: policy verdicts print ALLOWED, DENIED or AUDITED. */
export function verdictText(ev: FlowEvent): string {
  const name = VERDICT_NAMES[ev.verdict] ?? 'VERDICT_UNKNOWN';
  if (ev.kind !== EventKind.POLICY_VERDICT) return name;
  switch (ev.verdict) {
    case Verdict.FORWARDED:
    case Verdict.REDIRECTED:
      return 'ALLOWED';
    case Verdict.DROPPED:
    case Verdict.ERROR:
      return 'DENIED';
    case Verdict.AUDIT:
      return 'AUDITED';
    default:
      return name;
  }
}

/** flow.proto TrafficDirection name (TRAFFIC_DIRECTION_UNKNOWN for 0). */
export function trafficDirectionName(direction: number): string {
  return direction === TrafficDirection.INGRESS ? 'INGRESS' : direction === TrafficDirection.EGRESS ? 'EGRESS' : 'TRAFFIC_DIRECTION_UNKNOWN';
}

/**
 * threefour decodeIsReply: a trace knows from conntrack; an allowed (or audited, or redirected)
 * policy verdict is the first packet of a connection, so not a reply; drops and denied verdicts
 * do not know (undefined: the compact printer's `<>`). An L7 response is a reply.
 */
export function isReplyOf(ev: FlowEvent): boolean | undefined {
  switch (hubbleEventType(ev)) {
    case MessageType.TRACE:
      return traceSubType(ev.observationPoint) >= 0 ? ev.isReply : undefined;
    case MessageType.POLICY_VERDICT:
      return ev.verdict === Verdict.DROPPED ? undefined : false;
    case MessageType.ACCESS_LOG:
      return ev.l7 !== null ? ev.l7.type === 'RESPONSE' : undefined;
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The flow object

export interface HubbleIP {
  source: string;
  destination: string;
  ipVersion: 'IPv4' | 'IPv6';
}

export interface HubblePorts {
  source_port?: number;
  destination_port?: number;
}

export interface HubbleTCP extends HubblePorts {
  flags?: Readonly<Record<string, true>>;
}

export interface HubbleICMP {
  type?: number;
  code?: number;
}

export type HubbleLayer4 =
  | { TCP: HubbleTCP }
  | { UDP: HubblePorts }
  | { SCTP: HubblePorts }
  | { ICMPv4: HubbleICMP }
  | { ICMPv6: HubbleICMP };

export interface HubbleHTTP {
  code?: number;
  method?: string;
  url?: string;
  protocol?: string;
  headers?: Array<{ key: string; value: string }>;
}

export interface HubbleDNS {
  query?: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  observation_source?: string;
  rcode?: number;
  qtypes?: string[];
  rrtypes?: string[];
}

export interface HubbleKafka {
  error_code?: number;
  api_version?: number;
  api_key?: string;
  correlation_id?: number;
  topic?: string;
}

export interface HubbleLayer7 {
  type?: 'REQUEST' | 'RESPONSE';
  /** uint64: a string in protojson. */
  latency_ns?: string;
  dns?: HubbleDNS;
  http?: HubbleHTTP;
  kafka?: HubbleKafka;
}

/** hubcap's additions, all under one key. */
export interface HubcapExtras {
  /** The deciding rule, `Kind/namespace/name#index` (or the agent's reason). */
  rule?: string;
  /** `file:line` of that rule. */
  source?: string;
  /** The verdict was inherited from the connection's dropped opening packet (design.md §5). */
  inherited?: true;
  /** The packet was the server's answer to a request the L7 proxy denied and answered itself. */
  replaced_by_proxy?: true;
  /** The L7 rules behind the redirect were not evaluated (a parser hubcap does not have). */
  l7_not_evaluated?: true;
  /** Audit mode: the drop reason policy would have given (Cilium reports verdict 0). */
  audit_drop_reason_desc?: string | number;
  /** A translation's service frontend, `address:port`. */
  frontend?: string;
}

export interface HubbleFlow {
  time: string;
  verdict?: string;
  drop_reason?: number;
  IP?: HubbleIP;
  l4?: HubbleLayer4;
  source: HubbleEndpoint;
  destination: HubbleEndpoint;
  Type: 'L3_L4' | 'L7' | 'SOCK';
  node_name?: string;
  l7?: HubbleLayer7;
  reply?: true;
  event_type: { type: number; sub_type?: number };
  destination_service?: HubbleService;
  traffic_direction?: 'INGRESS' | 'EGRESS';
  policy_match_type?: number;
  trace_observation_point?: string;
  drop_reason_desc?: string | number;
  is_reply?: boolean;
  proxy_port?: number;
  sock_xlate_point?: string;
  /** Omitted when empty (an L7 event without a record), as protojson omits empty strings. */
  Summary?: string;
  egress_allowed_by?: readonly HubblePolicy[];
  ingress_allowed_by?: readonly HubblePolicy[];
  egress_denied_by?: readonly HubblePolicy[];
  ingress_denied_by?: readonly HubblePolicy[];
  hubcap?: HubcapExtras;
}

/** observer.proto GetFlowsResponse: what each `-o json` line holds. */
export interface HubbleFlowResponse {
  flow: HubbleFlow;
  node_name?: string;
  time: string;
}

function ports(sport: number, dport: number): HubblePorts {
  const o: HubblePorts = {};
  if (sport !== 0) o.source_port = sport;
  if (dport !== 0) o.destination_port = dport;
  return o;
}

function icmp(type: number, code: number): HubbleICMP {
  const o: HubbleICMP = {};
  if (type !== 0) o.type = type;
  if (code !== 0) o.code = code;
  return o;
}

/** flow `l4`; TCP flags only where a TCP header was decoded (not for L7 and socket events). */
function layer4(p: DecodedPacket, withFlags: boolean): HubbleLayer4 | undefined {
  switch (l4KindOf(p)) {
    case L4Kind.TCP: {
      const tcp: HubbleTCP = ports(p.sport, p.dport);
      if (withFlags) tcp.flags = tcpFlagsObject(p.tcpFlags);
      return { TCP: tcp };
    }
    case L4Kind.UDP:
      return { UDP: ports(p.sport, p.dport) };
    case L4Kind.SCTP:
      return { SCTP: ports(p.sport, p.dport) };
    case L4Kind.ICMPV4:
      return { ICMPv4: icmp(p.icmpType, p.icmpCode) };
    case L4Kind.ICMPV6:
      return { ICMPv6: icmp(p.icmpType, p.icmpCode) };
    default:
      return undefined;
  }
}

function ipOf(p: DecodedPacket): HubbleIP | undefined {
  if (p.ipVersion !== 4 && p.ipVersion !== 6) return undefined;
  return {
    source: formatAddress(p.src, p.ipVersion),
    destination: formatAddress(p.dst, p.ipVersion),
    ipVersion: p.ipVersion === 4 ? 'IPv4' : 'IPv6',
  };
}

function layer7(rec: L7Record): HubbleLayer7 {
  const l7: HubbleLayer7 = { type: rec.type };
  if (rec.latencyNs !== undefined && rec.latencyNs > 0) l7.latency_ns = String(Math.floor(rec.latencyNs));
  const response = rec.type === 'RESPONSE';
  if (rec.dns) {
    const d = rec.dns;
    const dns: HubbleDNS = {};
    if (d.query) dns.query = d.query;
    if (response && d.ips && d.ips.length > 0) dns.ips = [...d.ips];
    if (response && d.ttl) dns.ttl = d.ttl;
    if (response && d.cnames && d.cnames.length > 0) dns.cnames = [...d.cnames];
    dns.observation_source = d.observationSource ?? 'proxy';
    if (response && d.rcode) dns.rcode = d.rcode;
    if (d.qtypes && d.qtypes.length > 0) dns.qtypes = [...d.qtypes];
    if (response && d.rrtypes && d.rrtypes.length > 0) dns.rrtypes = [...d.rrtypes];
    l7.dns = dns;
  } else if (rec.http) {
    const h = rec.http;
    const http: HubbleHTTP = {};
    if (response && h.code) http.code = h.code;
    if (h.method) http.method = h.method;
    if (h.url) http.url = h.url;
    if (h.protocol) http.protocol = h.protocol;
    if (h.headers && h.headers.length > 0) {
      // http.go decodeHTTP: headers sorted by key (stable for repeated keys).
      http.headers = h.headers.map((x) => ({ key: x.key, value: x.value })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    l7.http = http;
  } else if (rec.kafka) {
    const k = rec.kafka;
    const kafka: HubbleKafka = {};
    if (k.errorCode) kafka.error_code = k.errorCode;
    if (k.apiVersion) kafka.api_version = k.apiVersion;
    if (k.apiKey) kafka.api_key = k.apiKey;
    if (k.correlationId) kafka.correlation_id = k.correlationId;
    if (k.topic) kafka.topic = k.topic;
    l7.kafka = kafka;
  }
  return l7;
}

/** `address:port`, bracketing IPv6 as Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number | string): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** flow.proto DropReason name, or the number when the enum has none (as protojson prints it). */
function dropReasonDesc(reason: number): string | number {
  return dropReasonName(reason) ?? reason;
}

/**
 * correlation.go extractFlowKey: the policy lookup needs a protocol and a destination port (the
 * ICMP type for ICMP); without them Hubble annotates nothing (an ICMP echo reply, type 0, is
 * never annotated).
 */
function hasPolicyKey(p: DecodedPacket | undefined): boolean {
  if (p === undefined) return false;
  switch (l4KindOf(p)) {
    case L4Kind.TCP:
    case L4Kind.UDP:
    case L4Kind.SCTP:
      return p.dport !== 0;
    case L4Kind.ICMPV4:
    case L4Kind.ICMPV6:
      return p.icmpType !== 0;
    default:
      return false;
  }
}

export type ProvenanceField = 'egress_allowed_by' | 'ingress_allowed_by' | 'egress_denied_by' | 'ingress_denied_by';

/**
 * correlation.go CorrelatePolicy: a policy verdict that allowed (FORWARDED, REDIRECTED), or that
 * a deny rule denied (DROPPED with POLICY_DENY), lists the policies of the deciding rule under the
 * field of its direction. Default-deny drops (POLICY_DENIED) and AUDIT verdicts list nothing.
 */
export function policyProvenance(ev: FlowEvent, ctx: FlowContext): { field: ProvenanceField; policies: readonly HubblePolicy[] } | undefined {
  if (ev.kind !== EventKind.POLICY_VERDICT || ev.rule < 0 || !hasPolicyKey(ev.packet)) return undefined;
  const allowed = ev.verdict === Verdict.FORWARDED || ev.verdict === Verdict.REDIRECTED;
  const denied = ev.verdict === Verdict.DROPPED && ev.dropReason === -DROP_POLICY_DENY;
  if (!allowed && !denied) return undefined;
  const policies = ctx.rulePolicies[ev.rule];
  if (policies === undefined) return undefined;
  if (ev.trafficDirection === TrafficDirection.EGRESS) return { field: allowed ? 'egress_allowed_by' : 'egress_denied_by', policies };
  if (ev.trafficDirection === TrafficDirection.INGRESS) return { field: allowed ? 'ingress_allowed_by' : 'ingress_denied_by', policies };
  return undefined;
}

/** Builds the flow object of one event. The event may be reused by the caller afterwards. */
export function buildFlow(ev: FlowEvent, ctx: FlowContext): HubbleFlow {
  const p: DecodedPacket | undefined = ev.packet;
  const type = hubbleEventType(ev);
  const l7 = ev.kind === EventKind.L7;
  const sock = type === MessageType.TRACE_SOCK;
  // An L7 denial carries no drop reason (the seven parser sets none).
  const dropped = ev.verdict === Verdict.DROPPED && !l7;

  // Fields are set in flow.proto declaration order: protojson prints them in that order.
  const out = { time: formatTimeRfc3339(ev.tsSec, ev.tsNsec) } as HubbleFlow;
  if (ev.verdict !== Verdict.UNKNOWN) out.verdict = VERDICT_NAMES[ev.verdict] ?? String(ev.verdict);
  if (dropped && ev.dropReason !== 0) out.drop_reason = ev.dropReason;
  if (p !== undefined) {
    const ip = ipOf(p);
    if (ip !== undefined) out.IP = ip;
    const l4 = layer4(p, !l7 && !sock);
    if (l4 !== undefined) out.l4 = l4;
  }
  out.source = ctx.endpoint(ev.srcEndpoint, ev.srcIdentity, ev.node);
  out.destination = ctx.endpoint(ev.dstEndpoint, ev.dstIdentity, ev.node);
  out.Type = l7 ? 'L7' : sock ? 'SOCK' : 'L3_L4';
  const nodeName = ctx.nodeName(ev.node);
  if (nodeName !== undefined) out.node_name = nodeName;
  if (l7 && ev.l7 !== null) out.l7 = layer7(ev.l7);
  const isReply = isReplyOf(ev);
  if (isReply === true) out.reply = true;
  const sub = hubbleEventSubType(ev);
  out.event_type = sub > 0 ? { type, sub_type: sub } : { type };
  if (sock && ev.service >= 0 && ev.service < ctx.services.length) out.destination_service = ctx.services[ev.service]!;
  if (!sock) {
    if (ev.trafficDirection === TrafficDirection.INGRESS) out.traffic_direction = 'INGRESS';
    else if (ev.trafficDirection === TrafficDirection.EGRESS) out.traffic_direction = 'EGRESS';
  }
  if (type === MessageType.POLICY_VERDICT && ev.matchType !== 0) out.policy_match_type = ev.matchType;
  if (type === MessageType.TRACE) {
    const point = OBSERVATION_POINT_NAMES[ev.observationPoint];
    if (point !== undefined) out.trace_observation_point = point;
  }
  if (dropped && ev.dropReason !== 0) out.drop_reason_desc = dropReasonDesc(ev.dropReason);
  if (isReply !== undefined) out.is_reply = isReply;
  if (type === MessageType.TRACE && ev.observationPoint === ObservationPoint.TO_PROXY && ev.proxyPort > 0) {
    out.proxy_port = ev.proxyPort;
  }
  if (sock) out.sock_xlate_point = 'SOCK_XLATE_POINT_POST_DIRECTION_FWD';
  const summary = flowSummary(ev);
  if (summary !== '') out.Summary = summary;

  const provenance = policyProvenance(ev, ctx);
  if (provenance !== undefined) out[provenance.field] = provenance.policies;

  const extras = hubcapExtras(ev, ctx, sock);
  if (extras !== undefined) out.hubcap = extras;
  return out;
}

function hubcapExtras(ev: FlowEvent, ctx: FlowContext, sock: boolean): HubcapExtras | undefined {
  let x: HubcapExtras | undefined;
  const rules = ctx.doc.rules;
  if (ev.rule >= 0 && ev.rule < rules.length) {
    const r = rules[ev.rule]!;
    x = { rule: r.ref };
    if (r.source !== undefined) x.source = r.source;
  }
  if (ev.inherited) (x ??= {}).inherited = true;
  if (ev.replacedByProxy) (x ??= {}).replaced_by_proxy = true;
  if (ev.l7NotEvaluated) (x ??= {}).l7_not_evaluated = true;
  if ((ev.verdict === Verdict.AUDIT || ev.audited) && ev.dropReason !== 0) {
    (x ??= {}).audit_drop_reason_desc = dropReasonDesc(ev.dropReason);
  }
  if (sock && ev.service >= 0 && ev.packet !== undefined && ev.packet.ipVersion !== 0) {
    (x ??= {}).frontend = joinHostPort(formatAddress(ev.origDst, ev.packet.ipVersion), ev.origDport);
  }
  return x;
}

/** The GetFlowsResponse of one event: `{flow, node_name, time}`. */
export function buildFlowResponse(ev: FlowEvent, ctx: FlowContext): HubbleFlowResponse {
  const flow = buildFlow(ev, ctx);
  const r: HubbleFlowResponse = { flow } as HubbleFlowResponse;
  if (flow.node_name !== undefined) r.node_name = flow.node_name;
  r.time = flow.time;
  return r;
}

/**
 * JSON text of frozen objects: the shared endpoint, policy, service and TCP flag pieces the
 * context hands out. Labels make endpoints most of a line, and JSON.stringify would re-escape them
 * for every flow; their text is made once instead.
 */
const frozenJson = new WeakMap<object, string>();

/** JSON.stringify for flow objects (plain data, keys that need no escaping), reusing frozen pieces. */
function toJson(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || typeof value !== 'object') return 'null';
  if (Object.isFrozen(value)) {
    let text = frozenJson.get(value);
    if (text === undefined) {
      text = JSON.stringify(value);
      frozenJson.set(value, text);
    }
    return text;
  }
  if (Array.isArray(value)) {
    let s = '[';
    for (let i = 0; i < value.length; i++) s += (i === 0 ? '' : ',') + toJson(value[i]);
    return `${s}]`;
  }
  let s = '{';
  let first = true;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    s += `${first ? '' : ','}"${key}":${toJson(v)}`;
    first = false;
  }
  return `${s}}`;
}

/** One `-o json` line: the same text as JSON.stringify(buildFlowResponse(ev, ctx)). */
export function formatFlowJson(ev: FlowEvent, ctx: FlowContext): string {
  return toJson(buildFlowResponse(ev, ctx));
}
