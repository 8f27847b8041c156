/**
 * The L7 proxy stage: what Envoy (HTTP) and Cilium's DNS proxy do with a redirected connection.
 *
 * Mirrors: Envoy with Cilium's cilium.l7policy filter (a request is checked when its headers
 * are complete, against every L7 rule for the port and the peer identity, OR'ed; a denied
 * request is answered by Envoy itself with `403 Access denied` and never reaches the server,
 * the connection stays up) and pkg/fqdn/dnsproxy (a query is checked against the DNS rules for
 * the endpoint, port and server identity; a denied one is answered REFUSED; the answers to
 * allowed queries feed the FQDN cache, whose addresses the toFQDNs selectors then select).
 *
 * The capture was recorded without the proxy, so it holds what the proxy would have prevented:
 * the server's answers to requests the proxy denied. Those packets are reported as inherited
 * drops (design.md §5) and the proxy's own answer (the 403, the REFUSED) is reported as an L7
 * response flow in their place.
 *
 * Kafka rules load and redirect, but their traffic is decided at L4 and its flows are marked
 * "kafka rules not evaluated".
 */
import { DecodedPacket, IpProto, TcpFlag } from '../decode/packet.js';
import type { Conntrack, CtEntry } from '../maps/conntrack.js';
import { DROP_POLICY } from '../maps/codes.js';
import type { L7RuleSetRecord, MapsDocument } from '../maps/document.js';
import type { HttpRule } from '../policy/types.js';
import { EventKind, FlowEvent, TrafficDirection, Verdict, type FlowSink, type L7Record } from '../datapath/events.js';
import type { L7Stage } from '../datapath/l7-stage.js';
import { ip6Hash, type DatapathState } from '../datapath/state.js';
import { parseIp } from '../net/addr.js';
import type { EnforcedEdits } from '../capture/enforced-writer.js';
import { FqdnUpdater } from '../agent/fqdn.js';
import { DnsRcode, DnsStreamDecoder, buildRefused, frameDnsTcp, parseDnsMessage, toL7Dns, type DnsMessage } from './dns.js';
import { DnsPolicy, compileFqdnSelector } from './dns-rules.js';
import { ENVOY_ACCESS_DENIED_BODY, envoyAccessDenied, l7HttpRecord } from './envoy.js';
import { DEFAULT_FQDN_MIN_TTL, FqdnCache, learnFromResponse } from './fqdn-cache.js';
import { HttpConnection, HttpDirection, headerValue, type HttpRequest, type HttpResponse } from './http.js';
import { compileHttpRules, type CompiledHttpRules } from './http-rules.js';
import {
  DEFAULT_REASSEMBLY_MAX_BYTES,
  DEFAULT_REASSEMBLY_TOTAL_BYTES,
  REASSEMBLY_ERROR_TEXT,
  ReassemblyBudget,
  TcpStreamReassembler,
} from './reassembly.js';

export interface ProxyOptions {
  /** `--reassembly-max-bytes`: per connection direction. */
  reassemblyMaxBytes: number;
  /** Total bytes held by all reassemblers. */
  reassemblyTotalBytes: number;
  /** `--fqdn-min-ttl` (Cilium's tofqdns-min-ttl). */
  fqdnMinTtl: number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = {
  reassemblyMaxBytes: DEFAULT_REASSEMBLY_MAX_BYTES,
  reassemblyTotalBytes: DEFAULT_REASSEMBLY_TOTAL_BYTES,
  fqdnMinTtl: DEFAULT_FQDN_MIN_TTL,
};

/** What the proxy counted (the summary prints them). */
export class ProxyCounters {
  httpRequests = 0;
  httpDenied = 0;
  dnsQueries = 0;
  dnsRefused = 0;
  kafkaNotEvaluated = 0;
  reassemblyErrors = 0;
  retransmittedBytes = 0;
  fqdnLearned = 0;
}

const PROXY_PARSER_BY_PORT: Readonly<Record<number, 'http' | 'dns' | 'kafka'>> = {
  10001: 'http',
  10002: 'http',
  10003: 'dns',
  10004: 'dns',
  10005: 'kafka',
  10006: 'kafka',
};

/** HTTP rules behind one (endpoint, direction, protocol): the records and their peers. */
interface HttpRuleSet {
  record: L7RuleSetRecord;
  anyPeer: boolean;
  peers: ReadonlySet<number>;
}

/** The L7 context of one redirected connection. */
interface Session {
  parser: 'http' | 'dns' | 'kafka';
  /** Endpoint whose policy redirected (document index) and the peer's identity as it sees it. */
  endpoint: string;
  direction: 'ingress' | 'egress';
  peerIdentity: number;
  protocol: number;
  port: number;
  /** Copy of the opening packet's event context, for the proxy's own events. */
  context: EventContext;
  http?: HttpSession;
  dns?: DnsSession;
  errorReported: boolean;
}

interface HttpSession {
  conn: HttpConnection;
  request: TcpStreamReassembler;
  response: TcpStreamReassembler;
  rules: CompiledHttpRules | 'allow-all';
  /** derivedFrom of the rule sets consulted (provenance of L7 verdicts). */
  rule: number;
  /** Set while feeding a reply packet: it carried bytes of a response whose request was denied. */
  deniedBytes: number;
  allowedBytes: number;
  /** Response currently being received. */
  current: HttpResponse | null;
  /** --write-enforced: the server's first sequence number of the response stream (-1 until seen). */
  responseBase: number;
  /** --write-enforced: the 403 replies waiting for the place of the answers they replace. */
  denials: Map<HttpRequest, number> | null;
  /**
   * Requests in arrival order until answered: HTTP/1.1 answers in request order (RFC 9112
   * §9.3.2), so Envoy's 403 for a pipelined request waits for the answers before it.
   */
  order: HttpRequest[];
  /** Requests whose answer went out (the server's for allowed ones, the proxy's 403 for denied). */
  answered: Set<HttpRequest>;
}

interface DnsSession {
  /** Query ids the proxy refused (their real answers inherit the drop). */
  refused: Set<number>;
  /** Query ids allowed, with the query time (ns) for latency. */
  allowed: Map<number, number>;
  tcpRequest?: DnsStreamDecoder;
  tcpResponse?: DnsStreamDecoder;
  requestStream?: TcpStreamReassembler;
  responseStream?: TcpStreamReassembler;
  /** --write-enforced: REFUSED replies by query id, waiting for the answers they replace. */
  replies?: Map<number, number>;
  /** --write-enforced, TCP: the response stream's first sequence number, bytes framed so far. */
  responseBase?: number;
  responseConsumed?: number;
}

/** Endpoint and identity fields copied from a datapath event. */
interface EventContext {
  srcEndpoint: number;
  dstEndpoint: number;
  srcIdentity: number;
  dstIdentity: number;
  node: number;
  connection: number;
}

export class ProxyStage implements L7Stage {
  readonly counters = new ProxyCounters();
  readonly fqdnCache: FqdnCache;
  readonly fqdnUpdater: FqdnUpdater;
  readonly budget: ReassemblyBudget;
  private readonly options: ProxyOptions;
  private readonly sessions = new Map<number, Session>();
  private readonly httpRules = new Map<string, HttpRuleSet[]>();
  private readonly compiledRules = new Map<string, CompiledHttpRules | 'allow-all'>();
  private dnsPolicy: DnsPolicy;
  private readonly ev = new FlowEvent();
  /** Scratch packet for the proxy's own answers (server -> client addresses). */
  private readonly answerPacket = new DecodedPacket();
  private readonly doc: MapsDocument;
  /** The packet being handled (for events emitted from parser callbacks). */
  private packet: DecodedPacket | undefined;
  private tsSec = 0;
  private tsNsec = 0;
  /**
   * `--write-enforced`: where the proxies' changes to the wire go (src/capture/enforced-writer.ts):
   * the server bytes a denial removed and the 403/REFUSED replies in their place. Always about
   * the packet being handled.
   */
  enforced: EnforcedEdits | undefined;
  /** DNS over TCP: the verdict of the messages completed by the packet being handled. */
  private dnsVerdict = 0;
  /** DNS over TCP, with `enforced`: the sequence number and framed length of the response message being handled. */
  private dnsFrameSeq = 0;
  private dnsFrameLength = 0;

  constructor(
    state: DatapathState,
    private readonly sink: FlowSink,
    options: Partial<ProxyOptions> = {},
  ) {
    this.options = { ...DEFAULT_PROXY_OPTIONS, ...options };
    this.doc = state.doc;
    this.budget = new ReassemblyBudget(this.options.reassemblyTotalBytes);
    this.fqdnCache = new FqdnCache({ minTtl: this.options.fqdnMinTtl });
    this.fqdnUpdater = new FqdnUpdater(state, compileFqdnSelector);
    this.dnsPolicy = new DnsPolicy(this.doc.l7);
    for (const rec of this.doc.l7) {
      if (rec.parser !== 'http') continue;
      const key = ruleKey(rec.endpoint, rec.direction, rec.protocol);
      const set: HttpRuleSet = { record: rec, anyPeer: rec.peers.includes(0), peers: new Set(rec.peers) };
      const list = this.httpRules.get(key);
      if (list) list.push(set);
      else this.httpRules.set(key, [set]);
    }
  }

  onPacket(conn: CtEntry, side: number, isReply: boolean, p: DecodedPacket, ev: FlowEvent): number {
    this.packet = p;
    this.packetIsReply = isReply;
    this.tsSec = ev.tsSec;
    this.tsNsec = ev.tsNsec;
    const nowSec = ev.tsSec + ev.tsNsec / 1e9;
    let session = this.sessions.get(conn.id);
    if (!session) {
      if (isReply) return 0; // a reply before any forward packet: nothing to attribute it to
      session = this.openSession(conn, side, p, ev);
      if (!session) return 0;
      this.sessions.set(conn.id, session);
    }
    switch (session.parser) {
      case 'kafka':
        ev.l7NotEvaluated = true;
        if (!isReply && (p.tcpFlags & TcpFlag.SYN) !== 0) this.counters.kafkaNotEvaluated++;
        return 0;
      case 'http':
        return this.http(session, isReply, p);
      case 'dns':
        return this.dns(session, isReply, p, nowSec);
    }
  }

  private openSession(conn: CtEntry, side: number, p: DecodedPacket, ev: FlowEvent): Session | undefined {
    const parser = PROXY_PARSER_BY_PORT[conn.proxyPort];
    if (!parser) return undefined;
    const egress = side === 0;
    const epIndex = egress ? ev.srcEndpoint : ev.dstEndpoint;
    if (epIndex < 0) return undefined;
    const session: Session = {
      parser,
      endpoint: this.doc.endpoints[epIndex]!.name,
      direction: egress ? 'egress' : 'ingress',
      peerIdentity: egress ? ev.dstIdentity : ev.srcIdentity,
      protocol: p.ipProto,
      port: p.dport,
      context: {
        srcEndpoint: ev.srcEndpoint,
        dstEndpoint: ev.dstEndpoint,
        srcIdentity: ev.srcIdentity,
        dstIdentity: ev.dstIdentity,
        node: ev.node,
        connection: ev.connection,
      },
      errorReported: false,
    };
    if (parser === 'http') session.http = this.openHttp(session);
    if (parser === 'dns') session.dns = { refused: new Set(), allowed: new Map() };
    return session;
  }

  // --- HTTP -------------------------------------------------------------------------------

  /** The rules for (endpoint, direction, port, peer): all of them, OR'ed (Envoy's policy). */
  private httpRulesFor(session: Session): { rules: CompiledHttpRules | 'allow-all' | 'deny-all'; rule: number } {
    const sets = this.httpRules.get(ruleKey(session.endpoint, session.direction, session.protocol)) ?? [];
    const matching = sets.filter(
      (s) => session.port >= s.record.port && session.port <= s.record.endPort && (s.anyPeer || s.peers.has(session.peerIdentity)),
    );
    if (matching.length === 0) return { rules: 'deny-all', rule: -1 };
    const rule = matching[0]!.record.derivedFrom[0] ?? -1;
    // An L3/L4-only allow for this peer on the port (an empty rule list) allows every request.
    if (matching.some((s) => s.record.rules.length === 0)) return { rules: 'allow-all', rule };
    const key = matching.map((s) => this.doc.l7.indexOf(s.record)).join(',');
    let compiled = this.compiledRules.get(key);
    if (!compiled) {
      compiled = compileHttpRules(matching.flatMap((s) => s.record.rules as HttpRule[]));
      this.compiledRules.set(key, compiled);
    }
    return { rules: compiled, rule };
  }

  private openHttp(session: Session): HttpSession {
    const { rules, rule } = this.httpRulesFor(session);
    const max = this.options.reassemblyMaxBytes;
    const http: HttpSession = {
      conn: undefined as unknown as HttpConnection,
      request: undefined as unknown as TcpStreamReassembler,
      response: undefined as unknown as TcpStreamReassembler,
      // No rule for this peer at all: Envoy's policy denies every request.
      rules: rules === 'deny-all' ? compileHttpRules([{ method: '$^' }]) : rules,
      rule,
      deniedBytes: 0,
      allowedBytes: 0,
      current: null,
      responseBase: -1,
      denials: null,
      order: [],
      answered: new Set(),
    };
    http.conn = new HttpConnection({
      onRequestHeaders: (req) => this.onRequest(session, http, req),
      onResponseHeaders: (res) => this.onResponse(session, http, res),
      onResponseComplete: (res) => {
        if (res.request && res.request.verdict > 0) {
          http.answered.add(res.request);
          this.flushLocalReplies(session, http);
        }
      },
      onError: (direction, code, reason, ts) => this.onHttpError(session, direction, `${code}: ${reason}`, ts),
    });
    const requestSink = http.conn.requestSink;
    const responseSink = http.conn.responseSink;
    http.request = new TcpStreamReassembler(this.budget, max, requestSink);
    http.response = new TcpStreamReassembler(this.budget, max, (b, o, n, ts) => {
      // Attribute the response bytes of this segment to the response they belong to.
      const before = http.current;
      responseSink(b, o, n, ts);
      const res = http.current ?? before;
      if (res?.request && res.request.verdict < 0 && !isEnvoyDenial(res)) {
        http.deniedBytes += n;
        if (this.enforced) this.removeDenied(http, res.request, n);
      } else {
        http.allowedBytes += n;
      }
    });
    return http;
  }

  private http(session: Session, isReply: boolean, p: DecodedPacket): number {
    const http = session.http!;
    const stream = isReply ? http.response : http.request;
    const ts = this.tsSec * 1e9 + this.tsNsec;
    http.deniedBytes = 0;
    http.allowedBytes = 0;
    const len = p.payloadOffset >= 0 ? Math.min(p.payloadLength, p.captureEnd - p.payloadOffset) : 0;
    const before = stream.retransmittedBytes;
    if (isReply && http.responseBase < 0 && this.enforced) http.responseBase = streamStart(p);
    stream.segment(p.tcpSeq, p.tcpFlags, p.data, p.payloadOffset < 0 ? 0 : p.payloadOffset, len < 0 ? 0 : len, ts);
    this.counters.retransmittedBytes += stream.retransmittedBytes - before;
    if (stream.errored && !session.errorReported) {
      session.errorReported = true;
      this.counters.reassemblyErrors++;
      this.emitError(session, isReply, `reassembly: ${REASSEMBLY_ERROR_TEXT[stream.error] ?? 'error'}`);
    }
    if ((p.tcpFlags & (TcpFlag.FIN | TcpFlag.RST)) !== 0) {
      http.conn.end(isReply ? HttpDirection.RESPONSE : HttpDirection.REQUEST, ts, (p.tcpFlags & TcpFlag.RST) !== 0);
    }
    // A server packet carrying only the answer to a denied request never existed.
    if (isReply && http.deniedBytes > 0 && http.allowedBytes === 0) return DROP_POLICY;
    if (session.http && http.request.done && http.response.done) this.sessions.delete(session.context.connection);
    return 0;
  }

  private onRequest(session: Session, http: HttpSession, req: HttpRequest): void {
    this.counters.httpRequests++;
    const allowed = http.rules === 'allow-all' || http.rules.allows(req);
    req.verdict = allowed ? 1 : -1;
    const record: L7Record = { type: 'REQUEST', http: l7HttpRecord(req) };
    this.emitL7(session, false, allowed ? Verdict.FORWARDED : Verdict.DROPPED, record, http.rule);
    if (!allowed) {
      this.counters.httpDenied++;
      // Envoy's local reply: the client gets the 403, the server never sees the request.
      if (this.enforced) (http.denials ??= new Map()).set(req, this.enforced.deferReply(envoyAccessDenied(req, this.tsSec), this.tsSec, this.tsNsec));
    }
    http.order.push(req);
    this.flushLocalReplies(session, http);
  }

  /**
   * Envoy's local replies as flows, in request order: from the oldest unanswered request, every
   * denied request whose predecessors are answered gets its 403 now.
   */
  private flushLocalReplies(session: Session, http: HttpSession): void {
    while (http.order.length > 0) {
      const req = http.order[0]!;
      if (req.verdict < 0 && !http.answered.has(req)) {
        const latencyNs = Math.max(0, this.tsSec * 1e9 + this.tsNsec - req.headersTs);
        const response: L7Record = { type: 'RESPONSE', latencyNs, http: l7HttpRecord(req, { code: 403 }) };
        this.emitL7(session, true, Verdict.FORWARDED, response, http.rule);
        http.answered.add(req);
      }
      if (!http.answered.has(req)) break;
      http.answered.delete(req);
      http.order.shift();
    }
  }

  /**
   * --write-enforced: `n` bytes just delivered of the server's answer to denied request `req`
   * never went on the wire; the first of them is where Envoy's 403 goes instead.
   */
  private removeDenied(http: HttpSession, req: HttpRequest, n: number): void {
    const seq = (http.responseBase + http.response.deliveredBytes - n) >>> 0;
    const handle = http.denials?.get(req);
    if (handle !== undefined) {
      http.denials!.delete(req);
      this.enforced!.anchorReply(handle, seq);
    }
    this.enforced!.removeBytes(seq, n);
  }

  private onResponse(session: Session, http: HttpSession, res: HttpResponse): void {
    http.current = res;
    const req = res.request;
    if (!req || req.verdict < 0) return; // the answer to a denied request: the proxy sent its own
    const record: L7Record = {
      type: 'RESPONSE',
      latencyNs: Math.max(0, res.headersTs - req.headersTs),
      http: l7HttpRecord(req, { code: res.status }),
    };
    this.emitL7(session, true, Verdict.FORWARDED, record, http.rule);
  }

  private onHttpError(session: Session, direction: number, reason: string, _ts: number): void {
    if (session.errorReported) return;
    session.errorReported = true;
    this.emitError(session, direction === HttpDirection.RESPONSE, `http: ${reason}`);
  }

  // --- DNS --------------------------------------------------------------------------------

  private dns(session: Session, isReply: boolean, p: DecodedPacket, nowSec: number): number {
    const dns = session.dns!;
    if (p.ipProto === IpProto.UDP) {
      if (p.payloadOffset < 0 || p.payloadLength <= 0) return 0;
      const end = Math.min(p.captureEnd, p.payloadOffset + p.payloadLength);
      return this.dnsMessage(session, dns, isReply, p.data, p.payloadOffset, end - p.payloadOffset, nowSec);
    }
    // DNS over TCP: reassemble, then split the 2-byte length framing. The verdict of the
    // messages this packet completes is kept in a field: the stream sinks outlive this call.
    this.dnsVerdict = 0;
    if (!dns.requestStream) {
      dns.tcpRequest = new DnsStreamDecoder();
      dns.tcpResponse = new DnsStreamDecoder();
      const feed = (decoder: DnsStreamDecoder, reply: boolean) => (b: Uint8Array, o: number, n: number): void => {
        for (const m of decoder.push(b.subarray(o, o + n))) {
          if (reply && this.enforced) {
            // Where this framed message sits in the server's stream (2-byte length + message).
            this.dnsFrameSeq = ((dns.responseBase ?? 0) + (dns.responseConsumed ?? 0)) >>> 0;
            this.dnsFrameLength = 2 + m.bytes.length;
            dns.responseConsumed = (dns.responseConsumed ?? 0) + this.dnsFrameLength;
          }
          const v = this.dnsMessage(session, dns, reply, m.bytes, 0, m.bytes.length, this.nowSec);
          if (v < 0) this.dnsVerdict = v;
        }
      };
      dns.requestStream = new TcpStreamReassembler(this.budget, this.options.reassemblyMaxBytes, feed(dns.tcpRequest, false));
      dns.responseStream = new TcpStreamReassembler(this.budget, this.options.reassemblyMaxBytes, feed(dns.tcpResponse, true));
    }
    const stream = isReply ? dns.responseStream! : dns.requestStream;
    const len = p.payloadOffset >= 0 ? Math.min(p.payloadLength, p.captureEnd - p.payloadOffset) : 0;
    if (isReply && dns.responseBase === undefined && this.enforced) dns.responseBase = streamStart(p);
    this.nowSec = nowSec;
    stream.segment(p.tcpSeq, p.tcpFlags, p.data, p.payloadOffset < 0 ? 0 : p.payloadOffset, len < 0 ? 0 : len, this.tsSec * 1e9 + this.tsNsec);
    return this.dnsVerdict;
  }

  /** Capture time of the packet being handled, in seconds (for the DNS stream sinks). */
  private nowSec = 0;

  private dnsMessage(session: Session, dns: DnsSession, isReply: boolean, bytes: Uint8Array, off: number, len: number, nowSec: number): number {
    const parsed = parseDnsMessage(bytes, off, len);
    if (!parsed.ok) {
      if (!session.errorReported) {
        session.errorReported = true;
        this.emitError(session, isReply, `dns: ${parsed.error}`);
      }
      return 0;
    }
    const msg = parsed.message;
    if (!isReply) {
      if (msg.qr) return 0;
      this.counters.dnsQueries++;
      const qname = msg.questions[0]?.name ?? '';
      const check = this.dnsPolicy.check(session.endpoint, session.protocol, session.port, session.peerIdentity, qname, session.direction);
      const rule = check.record?.derivedFrom[0] ?? -1;
      const l7 = toL7Dns(msg);
      this.emitL7(session, false, check.allowed ? Verdict.FORWARDED : Verdict.DROPPED, { type: 'REQUEST', ...(l7 ? { dns: l7 } : {}) }, rule);
      if (check.allowed) {
        dns.allowed.set(msg.id, this.tsSec * 1e9 + this.tsNsec);
      } else {
        this.counters.dnsRefused++;
        dns.refused.add(msg.id);
        const refused = buildRefused(bytes, off, len);
        if (refused && this.enforced) {
          const reply = session.protocol === IpProto.TCP ? frameDnsTcp(refused) : refused;
          (dns.replies ??= new Map()).set(msg.id, this.enforced.deferReply(reply, this.tsSec, this.tsNsec));
        }
        const answer = refused ? parseDnsMessage(refused) : undefined;
        const rl7 = answer?.ok ? toL7Dns(answer.message) : undefined;
        this.emitL7(session, true, Verdict.FORWARDED, { type: 'RESPONSE', latencyNs: 0, ...(rl7 ? { dns: rl7 } : {}) }, rule);
      }
      return 0;
    }
    if (!msg.qr) return 0;
    if (dns.refused.has(msg.id)) {
      dns.refused.delete(msg.id);
      // A REFUSED answer here is the proxy's own, seen on the wire (a capture recorded with the
      // proxy in place, or written by --write-enforced): delivered, already logged at the query.
      if (msg.rcode === DnsRcode.REFUSED) return 0;
      // The proxy answered REFUSED; the server's answer in the capture never reached the client.
      learnFromResponse(this.fqdnCache, msg, false, nowSec);
      const handle = dns.replies?.get(msg.id);
      if (handle !== undefined && this.enforced) {
        dns.replies!.delete(msg.id);
        if (session.protocol === IpProto.TCP) {
          this.enforced.anchorReply(handle, this.dnsFrameSeq);
          this.enforced.removeBytes(this.dnsFrameSeq, this.dnsFrameLength);
        } else {
          this.enforced.replaceWithReply(handle);
        }
      }
      return DROP_POLICY;
    }
    const sent = dns.allowed.get(msg.id);
    dns.allowed.delete(msg.id);
    const l7 = toL7Dns(msg);
    this.emitL7(
      session,
      true,
      Verdict.FORWARDED,
      { type: 'RESPONSE', ...(sent !== undefined ? { latencyNs: Math.max(0, this.tsSec * 1e9 + this.tsNsec - sent) } : {}), ...(l7 ? { dns: l7 } : {}) },
      -1,
    );
    this.learn(msg, sent !== undefined, nowSec);
    return 0;
  }

  private learn(msg: DnsMessage, queryAllowed: boolean, nowSec: number): void {
    const result = learnFromResponse(this.fqdnCache, msg, queryAllowed, nowSec);
    if (result.learned) this.counters.fqdnLearned += result.ips.length;
    this.applyFqdn(result.changes);
  }

  /** FQDN addresses whose TTL (at least --fqdn-min-ttl) ran out leave the ipcache and maps. */
  /** Every packet: FQDN addresses expire in capture time, checked once per capture second. */
  tick(_p: DecodedPacket, nowSec: number): void {
    if (nowSec >= this.nextExpiryCheck) this.expireFqdn(nowSec);
  }

  /** The datapath's conntrack, to keep expired addresses that live connections still use. */
  attachConntrack(ct: Conntrack): void {
    this.conntrack = ct;
  }

  private conntrack: Conntrack | undefined;
  private nextExpiryCheck = 0;

  /** @internal When `tick` next has work (capture seconds), for the native fast path. */
  get nextTickWork(): number {
    return this.nextExpiryCheck;
  }

  private expireFqdn(nowSec: number): void {
    this.nextExpiryCheck = nowSec + 1;
    const changes = this.fqdnCache.advance(nowSec);
    if (changes.length === 0) return;
    // Cilium keeps an expired address while a connection to it is alive (DNS "zombies": the
    // conntrack GC marks them alive, pkg/fqdn/cache.go DNSZombieMappings): such an address is
    // learned again for another minute and looked at then.
    const expiring = new Map<number, { name: string; ip: string }[]>();
    for (const c of changes) {
      if (c.kind !== 'remove') continue;
      const key = addressKeyOfText(c.ip);
      if (key === undefined) continue;
      const list = expiring.get(key);
      if (list) list.push(c);
      else expiring.set(key, [c]);
    }
    const kept: typeof changes = [];
    if (this.conntrack && expiring.size > 0) {
      const live = new Set<number>();
      for (const e of this.conntrack.entries()) {
        // A live connection: not expired, not closed both ways, not one hubcap marked dropped.
        if (e.user0 !== 0 || !e.alive || e.expiresSec <= nowSec) continue;
        const t = e.tuple;
        const a = addressKey(t.family, t.src);
        const b = addressKey(t.family, t.dst);
        if (expiring.has(a)) live.add(a);
        if (expiring.has(b)) live.add(b);
      }
      for (const key of live) {
        for (const c of expiring.get(key)!) kept.push(...this.fqdnCache.learn(c.name, [c.ip], ZOMBIE_GRACE_SEC, nowSec));
      }
    }
    this.applyFqdn([...changes, ...kept]);
  }

  /** Applies FQDN cache changes to the ipcache and policy maps. */
  private applyFqdn(changes: ReadonlyArray<{ kind: 'add' | 'remove'; ip: string }>): void {
    if (changes.length > 0) this.fqdnUpdater.apply(changes, this.fqdnCache);
  }



  // --- events -----------------------------------------------------------------------------

  private fillContext(session: Session, reply: boolean): FlowEvent {
    const ev = this.ev;
    const c = session.context;
    ev.tsSec = this.tsSec;
    ev.tsNsec = this.tsNsec;
    ev.connection = c.connection;
    ev.node = c.node;
    ev.isFinal = false;
    ev.inherited = false;
    ev.audited = false;
    ev.dropReason = 0;
    ev.matchType = 0;
    ev.proxyPort = 0;
    ev.service = -1;
    ev.l7NotEvaluated = false;
    // Orient the event: a REQUEST goes client -> server, a RESPONSE server -> client.
    if (!reply) {
      ev.srcEndpoint = c.srcEndpoint;
      ev.dstEndpoint = c.dstEndpoint;
      ev.srcIdentity = c.srcIdentity;
      ev.dstIdentity = c.dstIdentity;
    } else {
      ev.srcEndpoint = c.dstEndpoint;
      ev.dstEndpoint = c.srcEndpoint;
      ev.srcIdentity = c.dstIdentity;
      ev.dstIdentity = c.srcIdentity;
    }
    ev.isReply = reply;
    ev.trafficDirection = session.direction === 'egress' ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
    return ev;
  }

  /** The packet as the event should show it: swapped when the event goes the other way. */
  private orientedPacket(reply: boolean): DecodedPacket {
    const p = this.packet!;
    // The current packet travels client -> server unless it is a reply.
    const packetIsReply = this.packetIsReply;
    if (reply === packetIsReply) return p;
    const a = this.answerPacket;
    a.reset();
    a.ipVersion = p.ipVersion;
    a.ipProto = p.ipProto;
    a.kind = p.kind;
    a.src.set(p.dst);
    a.dst.set(p.src);
    a.sport = p.dport;
    a.dport = p.sport;
    a.hasPorts = p.hasPorts;
    a.l3Offset = p.l3Offset;
    return a;
  }

  /** Whether the packet being handled travels server -> client. */
  private packetIsReply = false;

  private emitL7(session: Session, reply: boolean, verdict: number, record: L7Record, rule: number): void {
    const ev = this.fillContext(session, reply);
    ev.kind = EventKind.L7;
    ev.verdict = verdict;
    ev.rule = rule;
    ev.l7 = record;
    ev.packet = this.orientedPacket(reply);
    this.sink(ev);
    ev.l7 = null;
  }

  private emitError(session: Session, reply: boolean, reason: string): void {
    const ev = this.fillContext(session, reply);
    ev.kind = EventKind.L7;
    ev.verdict = Verdict.ERROR;
    ev.rule = -1;
    ev.l7 = { type: reply ? 'RESPONSE' : 'REQUEST', error: reason } as L7Record;
    ev.packet = this.orientedPacket(reply);
    this.sink(ev);
    ev.l7 = null;
  }
}

/**
 * The first stream sequence number of a direction whose first segment is `p`, as the reassembler
 * starts it (after a SYN; an RST or any other segment starts it at its own sequence number).
 */
function streamStart(p: DecodedPacket): number {
  return (p.tcpFlags & (TcpFlag.SYN | TcpFlag.RST)) === TcpFlag.SYN ? (p.tcpSeq + 1) >>> 0 : p.tcpSeq >>> 0;
}

/**
 * Envoy's own 403 local reply (src/proxy/envoy.ts), seen on the wire as the answer to a denied
 * request (a capture recorded with the proxy in place, or written by --write-enforced): the
 * client does receive it, so it is delivered, not dropped as the server's answer would be.
 */
function isEnvoyDenial(res: HttpResponse): boolean {
  return (
    res.status === 403 &&
    res.contentLength === ENVOY_ACCESS_DENIED_BODY.length &&
    headerValue(res.rawHeaders, 'server') === 'envoy'
  );
}

/** How long a live connection keeps an expired FQDN address before it is looked at again. */
const ZOMBIE_GRACE_SEC = 60;

/** A numeric key for an address (IPv4 as int32, IPv6 hashed): no strings per packet. */
function addressKey(family: number, words: Uint32Array): number {
  return family === 4 ? words[3]! | 0 : ip6Hash(words[0]!, words[1]!, words[2]!, words[3]!);
}

function addressKeyOfText(text: string): number | undefined {
  const ip = parseIp(text);
  return ip === undefined ? undefined : addressKey(ip.family, ip.words);
}

function ruleKey(endpoint: string, direction: string, protocol: number): string {
  return `${endpoint}\u0000${direction}\u0000${protocol}`;
}
