/**
 * What the datapath reports for each packet: the monitor events Cilium's BPF programs send
 * (drop, trace, policy verdict) and, with the L7 stage, proxy access logs, before Hubble turns
 * them into flows.
 *
 * Mirrors: pkg/monitor/api/types.go (message types), bpf/lib/trace.h (observation points),
 * api/v1/flow/flow.proto (Verdict, TrafficDirection, TraceObservationPoint numbers).
 *
 * Hot path: the datapath owns ONE FlowEvent and refills it for every event it emits; the sink
 * must copy what it keeps (the flow printers format it at once; the summary keeps counters).
 * All fields are numbers or references to objects that outlive the event (the decoded packet is
 * valid only during the call).
 */
import type { DecodedPacket } from '../decode/packet.js';

/** Monitor message types (pkg/monitor/api/types.go), as Hubble's `event_type.type`. */
export const EventKind = {
  DROP: 1,
  TRACE: 4,
  POLICY_VERDICT: 5,
  /** L7 access log (MessageTypeAccessLog). */
  L7: 129,
} as const;

/** flow.proto Verdict. */
export const Verdict = {
  UNKNOWN: 0,
  FORWARDED: 1,
  DROPPED: 2,
  ERROR: 3,
  AUDIT: 4,
  REDIRECTED: 5,
  TRACED: 6,
  TRANSLATED: 7,
} as const;

export const VERDICT_NAMES = ['VERDICT_UNKNOWN', 'FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED'] as const;

/** flow.proto TrafficDirection. */
export const TrafficDirection = {
  UNKNOWN: 0,
  INGRESS: 1,
  EGRESS: 2,
} as const;

/** flow.proto TraceObservationPoint (the subset hubcap emits). */
export const ObservationPoint = {
  UNKNOWN: 0,
  TO_PROXY: 1,
  TO_HOST: 2,
  TO_STACK: 3,
  TO_OVERLAY: 4,
  TO_ENDPOINT: 101,
  FROM_ENDPOINT: 5,
  FROM_PROXY: 6,
  FROM_HOST: 7,
  FROM_STACK: 8,
  FROM_NETWORK: 10,
} as const;

/** Conntrack status the packet had (bpf/lib/conntrack.h CT_NEW ...). */
export const CtStatus = {
  NEW: 0,
  ESTABLISHED: 1,
  REPLY: 2,
  RELATED: 3,
} as const;

/** Why a packet did not get a verdict from policy (hubcap's own reasons, printed in `hubcap`). */
export const SkipReason = {
  NONE: 0,
  /** Dropped because its connection's opening packet was dropped (connection-aware replay). */
  INHERITED: 1,
} as const;

/**
 * Verdicts follow Hubble's parser (pkg/hubble/parser/threefour): drop events are DROPPED, trace
 * events FORWARDED (including `to-proxy`), policy-verdict events DROPPED / REDIRECTED (proxy
 * port) / AUDIT / FORWARDED; hubcap's service translation trace is TRANSLATED.
 */
/**
 * An L7 access log record, as the proxy reports it (pkg/proxy/accesslog/record.go `LogRecord`);
 * Hubble's seven parser turns it into a flow's `l7` field and summary. Set on L7 events only.
 * Values are as the proxy saw them: the printers do not re-validate them.
 */
export interface L7Record {
  /** accesslog FlowType. */
  type: 'REQUEST' | 'RESPONSE';
  /** Latency of a RESPONSE in nanoseconds (flow.proto `latency_ns`). */
  latencyNs?: number;
  http?: L7Http;
  dns?: L7Dns;
  kafka?: L7Kafka;
}

/** accesslog.LogRecordHTTP. */
export interface L7Http {
  /** Status code (RESPONSE only). */
  code?: number;
  method: string;
  /** Absolute URL as Envoy logs it: `http://host/path?query`. */
  url: string;
  /** `HTTP/1.1`. */
  protocol: string;
  headers?: Array<{ key: string; value: string }>;
}

/** accesslog.LogRecordDNS. */
export interface L7Dns {
  /** Query name with its trailing dot, as Cilium logs it. */
  query: string;
  ips?: string[];
  ttl?: number;
  cnames?: string[];
  /** `proxy` for the DNS proxy (accesslog.DNSSourceProxy). */
  observationSource?: string;
  rcode?: number;
  /** Query types by name (`A`, `AAAA`), as gopacket's DNSType prints them. */
  qtypes?: string[];
  rrtypes?: string[];
}

/** accesslog.LogRecordKafka. */
export interface L7Kafka {
  errorCode?: number;
  apiVersion?: number;
  /** Request type name (`produce`, `fetch`, ...). */
  apiKey?: string;
  correlationId?: number;
  topic?: string;
}

export class FlowEvent {
  kind: number = EventKind.TRACE;
  verdict: number = Verdict.UNKNOWN;
  /** Positive drop reason (133, 181, ...) when verdict is DROPPED (or AUDIT: the would-be reason). */
  dropReason = 0;
  trafficDirection: number = TrafficDirection.UNKNOWN;
  observationPoint: number = ObservationPoint.UNKNOWN;
  /** Policy match type (bpf/lib/policy.h POLICY_MATCH_*), policy-verdict events only. */
  matchType = 0;
  ctStatus: number = CtStatus.NEW;
  isReply = false;
  /** The verdict was inherited from the connection's dropped opening packet (`hubcap.inherited`). */
  inherited = false;
  /**
   * True for the one final event of a packet (its drop, or its trace where it is delivered);
   * false for policy-verdict and TRANSLATED events. Summaries and expectations count final events.
   */
  isFinal = false;
  /**
   * Audit mode let a packet through that policy would have dropped (`--audit`): its policy-verdict
   * events say AUDIT and its final trace event is FORWARDED, as in Hubble; this flag marks the
   * final event so summaries count the connection as would-be-dropped. `dropReason` keeps the
   * reason it would have had.
   */
  audited = false;

  /** Index into the loaded document's endpoints, -1 when the side is not a managed endpoint. */
  srcEndpoint = -1;
  dstEndpoint = -1;
  srcIdentity = 0;
  dstIdentity = 0;
  /** Index into the document's nodes of the node that decided (node_name), -1 if none. */
  node = -1;
  /** Index into the document's rules of the entry that decided (its cookie), -1 if none. */
  rule = -1;
  /** Proxy port for REDIRECTED verdicts. */
  proxyPort = 0;
  /** Monotonic connection number (conntrack entry), for summaries and expectations. */
  connection = 0;

  /** For TRANSLATED events: the service frontend and chosen backend (document indexes). */
  service = -1;
  /** Set when the policy entry was an L7 redirect whose parser hubcap did not evaluate (Kafka). */
  l7NotEvaluated = false;
  /**
   * A drop of a packet the L7 proxy answered in its place: the server's answer to a request the
   * proxy denied (Envoy's 403, the DNS proxy's REFUSED went to the client instead). The
   * connection itself stays up, so summaries and expectations do not count it as dropped.
   */
  replacedByProxy = false;
  /** The access log record of an L7 event (kind L7); null otherwise. Read only when kind is L7. */
  l7: L7Record | null = null;

  /** Capture time of the packet. */
  tsSec = 0;
  tsNsec = 0;
  /** The packet (valid during the sink call only). Its dst fields are the translated backend. */
  packet!: DecodedPacket;
  /** Original destination before service translation (words, family, port); valid when `service >= 0`. */
  readonly origDst = new Uint32Array(4);
  origDport = 0;
}

export type FlowSink = (event: FlowEvent) => void;
