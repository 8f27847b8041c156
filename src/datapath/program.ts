/**
 * The per-packet program: what Cilium's BPF programs would do with each captured packet.
 *
 * Mirrors: bpf/bpf_lxc.c (handle_ipv4_from_lxc / handle_ipv6_from_lxc: service translation,
 * conntrack, egress policy at the source endpoint; ipv4_policy / ipv6_policy: ingress policy at
 * the destination endpoint), bpf/bpf_host.c (host firewall: the node's host endpoint as one
 * more endpoint), bpf/lib/policy.h (the two lookups, ICMP type as port, frag-needed allowed),
 * bpf/lib/conntrack.h (REPLY and RELATED skip policy; NEW and ESTABLISHED forward packets are
 * checked every time), bpf/lib/ipv4.h (fragments take their first fragment's ports),
 * bpf/lib/lb.h (frontends translated to a backend chosen by flow hash, before policy).
 *
 * What hubcap adds (design.md §5): one final event per packet; policy-verdict events on a
 * connection's first packet and on every drop; a TRANSLATED event on a translated connection's
 * first packet; connection-aware drops (later packets of a connection whose opening packet was
 * dropped inherit the drop, unless `perPacket`); duplicate suppression for node captures; each
 * side decides with its own node's view of the ipcache.
 *
 * Deliberate differences: one conntrack table for the whole cluster (a capture sees both ends of
 * a connection; Cilium keeps one per node), and a decode error yields an ERROR event instead of
 * a guess.
 */
import {
  DecodedPacket,
  DecodeError as DecodeErrorBinding,
  IpProto as IpProtoBinding,
  PacketKind as PacketKindBinding,
} from '../decode/packet.js';
import {
  CTX_ACT_OK as CTX_ACT_OKBinding,
  DROP_CT_UNKNOWN_PROTO as DROP_CT_UNKNOWN_PROTOBinding,
  DROP_FRAG_NOT_FOUND as DROP_FRAG_NOT_FOUNDBinding,
  DROP_INVALID as DROP_INVALIDBinding,
  DROP_NO_SERVICE as DROP_NO_SERVICEBinding,
  POLICY_MATCH_NONE as POLICY_MATCH_NONEBinding,
} from '../maps/codes.js';
import {
  Conntrack,
  CtDir as CtDirBinding,
  CtField as CtFieldBinding,
  CtTuple,
  isCtProto as isCtProtoBinding,
} from '../maps/conntrack.js';
import { FragmentTracker } from '../maps/fragments.js';
import { PolicyVerdict } from '../maps/policy-map.js';
import { copyWords as copyWordsBinding } from '../net/addr.js';
import { CachedStage, ConnectionCache, policyInputKey as policyInputKeyBinding } from './conn-cache.js';
import { Deduplicator, type DedupFrameView } from './dedup.js';
import type { L7Stage } from './l7-stage.js';
import {
  CtStatus as CtStatusBinding,
  EventKind as EventKindBinding,
  FlowEvent,
  ObservationPoint as ObservationPointBinding,
  TrafficDirection as TrafficDirectionBinding,
  Verdict as VerdictBinding,
  type FlowSink,
} from './events.js';
import type { DatapathState, Frontend } from './state.js';
import { tuneV8 } from './v8-tuning.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const DecodeError = DecodeErrorBinding;
const IpProto = IpProtoBinding;
const PacketKind = PacketKindBinding;
const CTX_ACT_OK = CTX_ACT_OKBinding;
const DROP_CT_UNKNOWN_PROTO = DROP_CT_UNKNOWN_PROTOBinding;
const DROP_FRAG_NOT_FOUND = DROP_FRAG_NOT_FOUNDBinding;
const DROP_INVALID = DROP_INVALIDBinding;
const DROP_NO_SERVICE = DROP_NO_SERVICEBinding;
const POLICY_MATCH_NONE = POLICY_MATCH_NONEBinding;
const CtDir = CtDirBinding;
const CtField = CtFieldBinding;
const isCtProto = isCtProtoBinding;
const copyWords = copyWordsBinding;
const policyInputKey = policyInputKeyBinding;
const CtStatus = CtStatusBinding;
const EventKind = EventKindBinding;
const ObservationPoint = ObservationPointBinding;
const TrafficDirection = TrafficDirectionBinding;
const Verdict = VerdictBinding;

export interface DatapathOptions {
  /** `--audit`: policy drops become AUDIT and the packet continues. */
  audit: boolean;
  /** `--per-packet`: no inherited drops; every packet is decided on its own, as the kernel would. */
  perPacket: boolean;
  /** `--dedup-window` in nanoseconds; 0 turns duplicate suppression off. */
  dedupWindowNs: number;
  /** `--bpf-ct-global-tcp-max`, `--bpf-ct-global-any-max`. */
  ctTcpMax: number;
  ctAnyMax: number;
  /** `--trust-vni`: take the source identity of overlay packets from the VNI, as Cilium's tunnel does. */
  trustVni: boolean;
  /** `--enable-sctp` (off in Cilium by default: SCTP is then an unknown protocol and dropped). */
  enableSctp: boolean;
}

export const DEFAULT_DATAPATH_OPTIONS: DatapathOptions = {
  audit: false,
  perPacket: false,
  dedupWindowNs: 1_000_000,
  ctTcpMax: 524288,
  ctAnyMax: 262144,
  trustVni: false,
  enableSctp: false,
};

/** What the replay counts besides flows (the summary prints them). */
export class DatapathCounters {
  frames = 0;
  ipPackets = 0;
  nonIp = 0;
  duplicates = 0;
  decodeErrors = 0;
  fragmentsNotFound = 0;
}

/** Which stage decided a packet. */
const STAGE_EGRESS = 0;
const STAGE_INGRESS = 1;

/**
 * A dropped connection's marks: USER0 holds the drop reason, USER1 the stage and node
 * (`stage | (node + 1) << 1`, nodes below 2^30), USER2 the rule + 1. Unpacked with integer
 * operations only: a float modulo here is a call into the C library on every inherited drop.
 */
function packDropPlace(stage: number, node: number): number {
  return stage | ((node + 1) << 1);
}

/** ICMPv6 types the datapath answers or passes before policy (neighbour discovery, RFC 4861). */
function isNeighbourDiscovery(type: number): boolean {
  return type >= 133 && type <= 137;
}

export class Datapath {
  readonly counters = new DatapathCounters();
  readonly conntrack: Conntrack;
  private readonly fragments = new FragmentTracker();
  private readonly dedup: Deduplicator | undefined;
  private readonly tuple = new CtTuple();
  private readonly verdict = new PolicyVerdict();
  /** Per-connection policy outcomes for later packets (the endpoints are kept in the entry). */
  private readonly connCache = new ConnectionCache();
  /** The L7 proxy stage for redirected connections (src/proxy/stage.ts), wired by the caller. */
  l7: L7Stage | undefined;
  private readonly cachedStage = new CachedStage();
  private readonly ev = new FlowEvent();
  /** Scratch record for a tunnel packet's outer header (decided at the host firewall first). */
  private readonly outer = new OuterPacket();
  private readonly options: DatapathOptions;
  // Per-packet scratch, written by the stages.
  private stageVerdict = 0;
  private stageRule = -1;
  private stageMatch = 0;
  private stageProxy = 0;
  /** The stage let the packet through before any policy lookup (frag-needed, neighbour discovery). */
  private stageBypass = false;
  private audited = false;
  private auditReason = 0;

  constructor(
    readonly state: DatapathState,
    private readonly sink: FlowSink,
    options: Partial<DatapathOptions> = {},
  ) {
    // Before the hot loop gets optimized: the packet path's inlining budget (v8-tuning.ts).
    tuneV8();
    this.options = { ...DEFAULT_DATAPATH_OPTIONS, ...options };
    this.conntrack = new Conntrack({ tcpMax: this.options.ctTcpMax, anyMax: this.options.ctAnyMax });
    // 8,192 recent packets cover a 1 ms window up to 8 Mpps and keep the table in cache.
    this.dedup = this.options.dedupWindowNs > 0 ? new Deduplicator(this.options.dedupWindowNs, 8192) : undefined;
  }

  /** Decides one decoded packet and emits its events. */
  process(p: DecodedPacket, tsSec: number, tsNsec: number, frame?: DedupFrameView): void {
    const c = this.counters;
    c.frames++;
    if (p.ipVersion === 0) {
      c.nonIp++;
      return;
    }
    const ev = this.ev;
    this.resetEvent(p, tsSec, tsNsec);
    if (p.error !== DecodeError.NONE && this.undecidable(p)) {
      c.decodeErrors++;
      ev.kind = EventKind.TRACE;
      ev.verdict = Verdict.ERROR;
      ev.isFinal = true;
      this.locateEndpoints(p);
      this.sink(ev);
      return;
    }
    // A tunnel packet is first a UDP packet between two nodes: with the host firewall on, the
    // receiving node's bpf_host checks it against host policy (which is why host policies must
    // allow 8472/6081 from remote-node); only then is the inner packet delivered and decided.
    if (p.encap !== 0 && this.outerNeedsHostPolicy(p)) {
      this.outer.fillOuterOf(p);
      this.resetEvent(this.outer.packet, tsSec, tsNsec);
      if (!this.decide(this.outer.packet, true)) return;
      this.resetEvent(p, tsSec, tsNsec);
    }
    // The frame lets dedup tell observation points apart (pcapng interface) and hash content.
    if (this.dedup !== undefined && this.dedup.isDuplicate(p, tsSec, tsNsec, frame) === true) {
      c.duplicates++;
      return;
    }
    c.ipPackets++;
    if (this.l7 !== undefined) this.l7.tick(p, tsSec + tsNsec / 1e9);
    this.decide(p, false);
  }

  /**
   * @internal The native fast path (fast-path.ts) kept `p` through duplicate suppression and
   * leaves the rest to this program: `process` from after that step.
   */
  processKept(p: DecodedPacket, tsSec: number, tsNsec: number): void {
    const c = this.counters;
    c.frames++;
    this.resetEvent(p, tsSec, tsNsec);
    c.ipPackets++;
    if (this.l7 !== undefined) this.l7.tick(p, tsSec + tsNsec / 1e9);
    this.decide(p, false);
  }

  /** @internal The parts the native fast path works on besides the conntrack. */
  get fastPathParts(): { dedup: Deduplicator | undefined; connCache: ConnectionCache; perPacket: boolean; audit: boolean } {
    return { dedup: this.dedup, connCache: this.connCache, perPacket: this.options.perPacket, audit: this.options.audit };
  }

  /** True when either end of the outer header is a node with a host endpoint. */
  private outerNeedsHostPolicy(p: DecodedPacket): boolean {
    const st = this.state;
    const s = st.endpointByAddress.get(p.outerIpVersion, p.outerSrc);
    const d = st.endpointByAddress.get(p.outerIpVersion, p.outerDst);
    return (s !== undefined && st.endpointIsHost[s] === 1) || (d !== undefined && st.endpointIsHost[d] === 1);
  }

  /**
   * Fragments, translation, conntrack and policy for one IP packet. `outer`: the packet is a
   * tunnel's outer header, so an allowed packet emits no final event (its inner packet will).
   * Returns false when the packet was dropped.
   */
  private decide(p: DecodedPacket, outer: boolean): boolean {
    const c = this.counters;
    const ev = this.ev;
    // --- fragments (bpf/lib/ipv4.h): later fragments take the first one's ports.
    if (p.isFragment === true) {
      // Capture seconds for the fragment tracker; conntrack gets its integer clock (below).
      const now = ev.tsSec + ev.tsNsec / 1e9;
      if (p.fragOffset === 0) this.fragments.recordFirst(p, now);
      else if (!this.fragments.lookup(p, now)) {
        c.fragmentsNotFound++;
        return this.dropUnlocated(p, DROP_FRAG_NOT_FOUND);
      } else if ((p.ipProto === IpProto.ICMP || p.ipProto === IpProto.ICMPV6) && !this.icmpOfLaterFragment(p)) {
        return this.dropUnlocated(p, DROP_INVALID);
      }
    }

    // --- service translation (bpf/lib/lb.h), before conntrack and policy.
    let translated: Frontend | undefined;
    if (p.hasPorts === true) {
      translated = this.state.frontend(p.ipVersion, p.dst, p.dport, p.ipProto);
      if (translated !== undefined) {
        if (translated.backends.length === 0) {
          this.locateEndpoints(p);
          this.emitDrop(DROP_NO_SERVICE, STAGE_EGRESS, this.nodeOf(ev.srcEndpoint), -1, false);
          return false;
        }
        copyWords(ev.origDst, p.dst);
        ev.origDport = p.dport;
        const b = translated.backends[backendIndex(p.src, p.sport, p.dst, p.dport, p.ipProto, translated.backends.length)]!;
        copyWords(p.dst, b.words);
        p.dport = b.port;
        ev.service = translated.index;
      } else {
        // A reply captured after reverse NAT comes from the frontend: map it back to the
        // backend the forward direction chose, so conntrack sees the translated connection.
        const fe = this.state.frontend(p.ipVersion, p.src, p.sport, p.ipProto);
        if (fe !== undefined && fe.backends.length > 0) {
          const b = fe.backends[backendIndex(p.dst, p.dport, p.src, p.sport, p.ipProto, fe.backends.length)]!;
          copyWords(p.src, b.words);
          p.sport = b.port;
        }
      }
    }

    if (!isCtProto(p.ipVersion, p.ipProto, this.options.enableSctp)) {
      // ct_extract_ports4/6 knows TCP, UDP, ICMP (and SCTP with --enable-sctp): anything else
      // (GRE, ESP, ...) is dropped by the first Cilium program that sees it.
      return this.dropUnlocated(p, DROP_CT_UNKNOWN_PROTO);
    }
    const tuple = this.tuple.setFromPacket(p);
    // ct_lookup4/6: the flags let a SYN reopen a closing connection; an ICMP error is related
    // through the entry of its address pair (conntrack.h), never by guessing.
    // The table clock as a Smi (Conntrack.clockMs): a fractional second passed on would be boxed.
    const ct = this.conntrack;
    const nowMs = ct.clockMs(ev.tsSec, ev.tsNsec);
    let row = ct.lookupRow(tuple, nowMs, p.tcpFlags);
    const dir: number = ct.lastDir;
    const related = row >= 0 && ct.lastRelated === true;
    // A packet found through its tuple carries its connection's addresses: the endpoints at
    // both ends are the connection's (cached). An ICMP error's addresses are its own.
    if (row >= 0 && !related) this.locateConnection(p, row, dir);
    else this.locateEndpoints(p);

    if (row >= 0 && ct.get(row, CtField.USER0) !== 0 && this.options.perPacket !== true) {
      // Connection-aware replay: the opening packet was dropped, so this one never existed.
      if (!related) ct.touchRow(row, dir, p.tcpFlags, p.ipLength, nowMs);
      const place = ct.get(row, CtField.USER1);
      const stage = place & 1;
      const node = (place >> 1) - 1;
      const rule = ct.get(row, CtField.USER2) - 1;
      ev.connection = ct.idOf(row);
      ev.isReply = dir === CtDir.REPLY;
      ev.ctStatus = related ? CtStatus.RELATED : dir === CtDir.REPLY ? CtStatus.REPLY : CtStatus.ESTABLISHED;
      this.emitDrop(-ct.get(row, CtField.USER0), stage, node, rule, true);
      return false;
    }

    if (row >= 0 && dir === CtDir.REPLY) {
      // REPLY and RELATED skip policy (bpf_lxc.c: ct_status == CT_REPLY || CT_RELATED). A related
      // ICMP error refreshes its pair entry inside lookup, not the connection.
      if (!related) ct.touchRow(row, dir, p.tcpFlags, p.ipLength, nowMs);
      ev.connection = ct.idOf(row);
      ev.isReply = true;
      ev.ctStatus = related ? CtStatus.RELATED : CtStatus.REPLY;
      const proxyPort = ct.get(row, CtField.PROXY_PORT);
      const proxyStage = ct.get(row, CtField.USER1) - 1;
      ev.proxyPort = proxyPort;
      // Replies of a proxied connection go back through the proxy (conntrack.h proxy_redirect).
      if (proxyPort > 0 && this.l7 !== undefined && outer !== true && !related) {
        const l7 = this.l7.onPacket(ct.entryAt(row), proxyStage, true, p, ev);
        // The server's answer to a request the proxy denied never reached the client.
        if (l7 < 0) {
          ev.replacedByProxy = true;
          this.emitDrop(l7, proxyStage, ev.node >= 0 ? ev.node : this.nodeOf(ev.dstEndpoint), -1, true);
          return false;
        }
      }
      if (outer !== true) this.emitDelivered(proxyPort > 0 ? proxyStage : -1);
      return true;
    }

    // NEW or ESTABLISHED forward packet: policy at both ends, every time.
    const isNew = row < 0;
    ev.ctStatus = isNew ? CtStatus.NEW : CtStatus.ESTABLISHED;
    // The entry exists before policy so every event of this packet names its connection; a
    // drop either marks it (inheritance) or removes it again (--per-packet), as if never made.
    if (row < 0) {
      row = ct.createRow(tuple, nowMs);
      if (translated !== undefined) {
        ct.set(row, CtField.REV_NAT, translated.index);
        ct.setOrigDst(row, ev.origDst);
        ct.set(row, CtField.ORIG_DPORT, ev.origDport);
      }
      rememberLocated(ct, row, this.state.generation, ev.srcEndpoint, ev.dstEndpoint, ev.srcIdentity, ev.dstIdentity);
    }
    const connId = ct.idOf(row);
    ev.connection = connId;
    if (isNew && translated !== undefined) this.emitTranslated();
    this.audited = false;
    this.auditReason = 0;
    let proxyPort = 0;
    let proxyStage = -1;

    const src = ev.srcEndpoint;
    const dst = ev.dstEndpoint;
    const local = src >= 0 && src === dst; // a host talking to itself is never policed
    if (src >= 0 && !local) {
      const node = this.nodeOf(src);
      const v = this.stagePolicy(connId, STAGE_EGRESS, src, node, p);
      if ((isNew || v < 0 || this.stageVerdict < 0) && this.stageBypass !== true) this.emitPolicyVerdict(STAGE_EGRESS, node, v);
      if (v < 0) return this.dropPacket(row, isNew, nowMs, v, STAGE_EGRESS, node);
      if (v > 0 && proxyPort === 0) {
        proxyPort = v;
        proxyStage = STAGE_EGRESS;
      }
    }
    if (dst >= 0 && !local) {
      const node = this.nodeOf(dst);
      const v = this.stagePolicy(connId, STAGE_INGRESS, dst, node, p);
      if ((isNew || v < 0 || this.stageVerdict < 0) && this.stageBypass !== true) this.emitPolicyVerdict(STAGE_INGRESS, node, v);
      if (v < 0) return this.dropPacket(row, isNew, nowMs, v, STAGE_INGRESS, node);
      if (v > 0 && proxyPort === 0) {
        proxyPort = v;
        proxyStage = STAGE_INGRESS;
      }
    }

    if (isNew) {
      ct.set(row, CtField.PROXY_PORT, proxyPort);
      ct.set(row, CtField.USER1, proxyStage + 1);
    }
    ct.touchRow(row, CtDir.FORWARD, p.tcpFlags, p.ipLength, nowMs);
    ev.proxyPort = proxyPort;
    // The proxy sees the client's side of a redirected connection (its L7 events come first).
    if (proxyPort > 0 && this.l7 !== undefined && outer !== true) this.l7.onPacket(ct.entryAt(row), proxyStage, false, p, ev);
    if (outer !== true) this.emitDelivered(proxyStage);
    return true;
  }

  /**
   * The policy check of one stage of connection `conn`'s forward packet: the remote identity
   * (the destination as the source's node sees it for egress, the source as the destination's
   * node sees it for ingress, or the VNI's with --trust-vni) and `policy`, or the connection's
   * cached outcome for the same inputs at this generation. Sets the stage fields as `policy` does.
   */
  private stagePolicy(conn: number, stage: number, endpoint: number, node: number, p: DecodedPacket): number {
    const cache = this.connCache;
    const out = this.cachedStage;
    const fromVni = stage === STAGE_INGRESS && this.options.trustVni === true && p.encap !== 0 && p.vni > 0;
    const key = policyInputKey(p.ipProto, p.hasPorts, p.dport, p.icmpType, p.icmpCode);
    const gen = this.state.generation;
    let row = cache.find(conn, gen);
    if (row >= 0 && cache.stage(row, stage, key, fromVni, p.vni, out) === true) {
      this.stageRule = out.rule;
      this.stageMatch = out.matchType;
      this.stageProxy = out.verdict > 0 ? out.verdict : 0;
      this.stageBypass = out.bypass;
      this.stageVerdict = out.stageVerdict;
      if (out.audited === true) {
        this.audited = true;
        this.auditReason = -out.stageVerdict;
      }
      return out.verdict;
    }
    let remote: number;
    if (fromVni) remote = p.vni;
    else if (stage === STAGE_EGRESS) remote = this.state.identityOf(node, p.ipVersion, p.dst);
    else remote = this.state.identityOf(node, p.ipVersion, p.src);
    const wasAudited = this.audited;
    this.audited = false;
    const v = this.policy(endpoint, stage === STAGE_EGRESS ? 1 : 0, remote, p);
    out.verdict = v;
    out.stageVerdict = this.stageVerdict;
    out.matchType = this.stageMatch;
    out.rule = this.stageRule;
    out.bypass = this.stageBypass;
    out.audited = this.audited;
    if (wasAudited === true) this.audited = true;
    if (row < 0) row = cache.claim(conn, gen);
    cache.setStage(row, stage, key, fromVni, p.vni, out);
    return v;
  }

  /**
   * The endpoints at both ends of a packet of connection `entry` travelling in `dir`, and the
   * identities to display (`locateEndpoints`), from the connection's entry when they were
   * derived at this generation. Replies are the forward direction swapped (locateEndpoints is
   * symmetric in the two addresses).
   */
  private locateConnection(p: DecodedPacket, row: number, dir: number): void {
    const ev = this.ev;
    const ct = this.conntrack;
    const gen = this.state.generation;
    if (ct.get(row, CtField.USER_GEN) === gen) {
      // Identities are kept as int32, read back as u32.
      const srcEndpoint = ct.get(row, CtField.USER_SRC_ENDPOINT);
      const dstEndpoint = ct.get(row, CtField.USER_DST_ENDPOINT);
      const srcIdentity = ct.get(row, CtField.USER_SRC_IDENTITY) >>> 0;
      const dstIdentity = ct.get(row, CtField.USER_DST_IDENTITY) >>> 0;
      if (dir === CtDir.REPLY) {
        ev.srcEndpoint = dstEndpoint;
        ev.dstEndpoint = srcEndpoint;
        ev.srcIdentity = dstIdentity;
        ev.dstIdentity = srcIdentity;
      } else {
        ev.srcEndpoint = srcEndpoint;
        ev.dstEndpoint = dstEndpoint;
        ev.srcIdentity = srcIdentity;
        ev.dstIdentity = dstIdentity;
      }
      return;
    }
    this.locateEndpoints(p);
    if (dir === CtDir.REPLY) rememberLocated(ct, row, gen, ev.dstEndpoint, ev.srcEndpoint, ev.dstIdentity, ev.srcIdentity);
    else rememberLocated(ct, row, gen, ev.srcEndpoint, ev.dstEndpoint, ev.srcIdentity, ev.dstIdentity);
  }

  /** The policy check of one stage: a verdict as policy.h returns it (after audit). */
  private policy(endpoint: number, direction: 0 | 1, remote: number, p: DecodedPacket): number {
    this.stageRule = -1;
    this.stageMatch = POLICY_MATCH_NONE;
    this.stageProxy = 0;
    this.stageBypass = false;
    let port = p.dport;
    const proto = p.ipProto;
    if (proto === IpProto.ICMP) {
      // policy.h: ICMP_DEST_UNREACH / ICMP_FRAG_NEEDED always passes (allow_icmp_frag_needed).
      if (p.icmpType === 3 && p.icmpCode === 4) return this.bypass();
      port = p.icmpType < 0 ? 0 : p.icmpType;
    } else if (proto === IpProto.ICMPV6) {
      if (isNeighbourDiscovery(p.icmpType)) return this.bypass();
      port = p.icmpType < 0 ? 0 : p.icmpType;
    } else if (p.hasPorts !== true) {
      port = 0;
    }
    const out = this.verdict;
    let v = this.state.policyMaps[endpoint]!.lookup(remote, direction, proto, port, out);
    this.stageMatch = out.matchType;
    this.stageRule = out.slot >= 0 && out.cookie > 0 ? out.cookie - 1 : -1;
    if (v < 0 && this.options.audit) {
      this.audited = true;
      this.auditReason = -v;
      v = CTX_ACT_OK;
      this.stageVerdict = -this.auditReason; // remembered for the AUDIT policy-verdict event
      return CTX_ACT_OK;
    }
    this.stageVerdict = v;
    if (v > 0) this.stageProxy = v;
    return v;
  }

  /**
   * Cilium does not track ICMP fragments: conntrack (ct_extract_ports4/6) and policy.h read the
   * ICMP header at the L4 offset of every packet, which in a later fragment is payload. hubcap
   * reads the same bytes (Cilium issue #16036: such fragments are dropped unless those bytes
   * happen to be allowed, and policy.h returns DROP_INVALID when fewer than the 8 bytes of an
   * ICMPv4 header are there). False when the fragment is too short.
   */
  private icmpOfLaterFragment(p: DecodedPacket): boolean {
    const at = p.l4Offset;
    const available = at < 0 ? 0 : Math.min(p.captureEnd, at + p.l4Length) - at;
    if (available < (p.ipProto === IpProto.ICMP ? 8 : 1)) return false;
    const d = p.data;
    p.icmpType = d[at]!;
    p.icmpCode = available > 1 ? d[at + 1]! : 0;
    const echo = p.ipProto === IpProto.ICMP ? p.icmpType === 0 || p.icmpType === 8 : p.icmpType === 128 || p.icmpType === 129;
    p.icmpId = echo && available >= 6 ? (d[at + 4]! << 8) | d[at + 5]! : -1;
    return true;
  }

  /** A drop before endpoints are known to the caller: at the source's egress if it is managed. */
  private dropUnlocated(p: DecodedPacket, code: number): false {
    const ev = this.ev;
    this.locateEndpoints(p);
    const stage = ev.srcEndpoint >= 0 ? STAGE_EGRESS : STAGE_INGRESS;
    const node = stage === STAGE_EGRESS ? this.nodeOf(ev.srcEndpoint) : this.nodeOf(ev.dstEndpoint);
    this.emitDrop(code, stage, node, -1, false);
    return false;
  }

  /** Passed before policy: no lookup, so no policy-verdict event either. */
  private bypass(): number {
    this.stageBypass = true;
    this.stageVerdict = CTX_ACT_OK;
    return CTX_ACT_OK;
  }

  /** A policy drop of a forward packet: its final drop event, and what its connection remembers. */
  private dropPacket(row: number, isNew: boolean, nowMs: number, v: number, stage: number, node: number): false {
    if (isNew) {
      const ct = this.conntrack;
      if (this.options.perPacket === true) {
        ct.deleteRow(row);
      } else {
        // Remember the drop so the rest of this connection inherits it (design.md §5).
        ct.set(row, CtField.USER0, -v);
        ct.set(row, CtField.USER1, packDropPlace(stage, node));
        ct.set(row, CtField.USER2, this.stageRule + 1);
        ct.touchRow(row, CtDir.FORWARD, this.ev.packet.tcpFlags, this.ev.packet.ipLength, nowMs);
      }
    }
    this.emitDrop(v, stage, node, this.stageRule, false);
    return false;
  }

  private resetEvent(p: DecodedPacket, tsSec: number, tsNsec: number): void {
    const ev = this.ev;
    ev.packet = p;
    ev.tsSec = tsSec;
    ev.tsNsec = tsNsec;
    ev.dropReason = 0;
    ev.matchType = 0;
    ev.ctStatus = CtStatus.NEW;
    ev.isReply = false;
    ev.inherited = false;
    ev.isFinal = false;
    ev.audited = false;
    ev.srcEndpoint = -1;
    ev.dstEndpoint = -1;
    ev.srcIdentity = 0;
    ev.dstIdentity = 0;
    ev.node = -1;
    ev.rule = -1;
    ev.proxyPort = 0;
    ev.connection = 0;
    ev.service = -1;
    ev.l7NotEvaluated = false;
    ev.replacedByProxy = false;
  }

  /** Finds the managed endpoints at both ends and the identities to display. */
  private locateEndpoints(p: DecodedPacket): void {
    const ev = this.ev;
    const st = this.state;
    const s = st.endpointByAddress.get(p.ipVersion, p.src);
    const d = st.endpointByAddress.get(p.ipVersion, p.dst);
    ev.srcEndpoint = s ?? -1;
    ev.dstEndpoint = d ?? -1;
    // Display identities as the deciding side sees them: an endpoint's own identity, otherwise
    // the other end's node view (remote nodes are remote-node there, not host).
    const dstNode = d !== undefined ? st.endpointNode[d]! : -1;
    const srcNode = s !== undefined ? st.endpointNode[s]! : -1;
    ev.srcIdentity = s !== undefined ? st.endpointIdentity[s]! : st.identityOf(dstNode, p.ipVersion, p.src);
    ev.dstIdentity = d !== undefined ? st.endpointIdentity[d]! : st.identityOf(srcNode, p.ipVersion, p.dst);
    if (s !== undefined && st.endpointIsHost[s] && d !== undefined) ev.srcIdentity = st.identityOf(dstNode, p.ipVersion, p.src);
    if (d !== undefined && st.endpointIsHost[d] && s !== undefined) ev.dstIdentity = st.identityOf(srcNode, p.ipVersion, p.dst);
  }

  private nodeOf(endpoint: number): number {
    return endpoint >= 0 ? this.state.endpointNode[endpoint]! : -1;
  }

  private undecidable(p: DecodedPacket): boolean {
    // Without an IP header there is nothing to decide; without a transport header the ports
    // are unknown (a short snaplen), unless it is a later fragment, which carries none.
    if (p.l3Offset < 0) return true;
    if (p.isFragment && p.fragOffset > 0) return false;
    const proto = p.ipProto;
    if (proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.SCTP) return !p.hasPorts;
    if (proto === IpProto.ICMP || proto === IpProto.ICMPV6) return p.icmpType < 0;
    return false;
  }

  private emitTranslated(): void {
    const ev = this.ev;
    ev.kind = EventKind.TRACE;
    ev.verdict = Verdict.TRANSLATED;
    ev.isFinal = false;
    ev.observationPoint = ObservationPoint.UNKNOWN;
    ev.trafficDirection = TrafficDirection.EGRESS;
    ev.node = this.nodeOf(ev.srcEndpoint);
    ev.rule = -1;
    this.sink(ev);
  }

  private emitPolicyVerdict(stage: number, node: number, v: number): void {
    const ev = this.ev;
    ev.kind = EventKind.POLICY_VERDICT;
    ev.isFinal = false;
    ev.observationPoint = ObservationPoint.UNKNOWN;
    ev.trafficDirection = stage === STAGE_EGRESS ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
    ev.node = node;
    ev.matchType = this.stageMatch;
    ev.rule = this.stageRule;
    ev.proxyPort = v > 0 ? v : 0;
    const audited = this.stageVerdict < 0 && v >= 0;
    ev.audited = audited;
    ev.dropReason = this.stageVerdict < 0 ? -this.stageVerdict : 0;
    ev.verdict = v < 0 ? Verdict.DROPPED : audited ? Verdict.AUDIT : v > 0 ? Verdict.REDIRECTED : Verdict.FORWARDED;
    this.sink(ev);
  }

  private emitDrop(v: number, stage: number, node: number, rule: number, inherited: boolean): void {
    const ev = this.ev;
    ev.kind = EventKind.DROP;
    ev.verdict = Verdict.DROPPED;
    ev.dropReason = -v;
    ev.isFinal = true;
    ev.inherited = inherited;
    ev.audited = false;
    ev.observationPoint = ObservationPoint.UNKNOWN;
    ev.trafficDirection = stage === STAGE_EGRESS ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
    ev.node = node;
    ev.rule = rule;
    ev.matchType = 0;
    this.sink(ev);
  }

  /** The final trace event of a packet that goes through: where it is delivered. */
  private emitDelivered(proxyStage: number): void {
    const ev = this.ev;
    const st = this.state;
    ev.kind = EventKind.TRACE;
    ev.verdict = Verdict.FORWARDED;
    ev.isFinal = true;
    const audited = this.audited === true && ev.isReply !== true;
    ev.audited = audited;
    ev.dropReason = audited ? this.auditReason : 0;
    ev.matchType = 0;
    ev.rule = -1;
    const dst = ev.dstEndpoint;
    if (proxyStage >= 0 && ev.proxyPort > 0) {
      ev.observationPoint = ObservationPoint.TO_PROXY;
      ev.trafficDirection = proxyStage === STAGE_EGRESS ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
      // The proxy runs on the node of the endpoint whose policy redirected: the client for an
      // egress redirect, the server for an ingress one (a reply travels the other way).
      const clientSide = (proxyStage === STAGE_EGRESS) !== (ev.isReply === true);
      ev.node = clientSide ? this.nodeOf(ev.srcEndpoint) : this.nodeOf(dst);
    } else if (dst >= 0) {
      ev.observationPoint = st.endpointIsHost[dst] ? ObservationPoint.TO_HOST : ObservationPoint.TO_ENDPOINT;
      ev.trafficDirection = ev.isReply === true ? TrafficDirection.EGRESS : TrafficDirection.INGRESS;
      ev.node = this.nodeOf(dst);
    } else {
      const toNode = st.nodeByAddress.get(ev.packet.ipVersion, ev.packet.dst);
      ev.observationPoint = toNode !== undefined ? ObservationPoint.TO_HOST : ObservationPoint.TO_STACK;
      ev.trafficDirection = ev.isReply === true ? TrafficDirection.INGRESS : TrafficDirection.EGRESS;
      ev.node = toNode ?? this.nodeOf(ev.srcEndpoint);
    }
    this.sink(ev);
  }
}

/** Keeps a connection's endpoints and identities (forward direction) in its row, for `gen`. */
function rememberLocated(ct: Conntrack, row: number, gen: number, srcEndpoint: number, dstEndpoint: number, srcIdentity: number, dstIdentity: number): void {
  ct.set(row, CtField.USER_GEN, gen);
  ct.set(row, CtField.USER_SRC_ENDPOINT, srcEndpoint);
  ct.set(row, CtField.USER_DST_ENDPOINT, dstEndpoint);
  ct.set(row, CtField.USER_SRC_IDENTITY, srcIdentity | 0);
  ct.set(row, CtField.USER_DST_IDENTITY, dstIdentity | 0);
}

/** A tunnel packet's outer IP/UDP header as a packet of its own. */
class OuterPacket {
  readonly packet = new DecodedPacket();

  fillOuterOf(p: DecodedPacket): void {
    const o = this.packet;
    o.reset();
    o.linkType = p.linkType;
    o.ipVersion = p.outerIpVersion;
    copyWords(o.src, p.outerSrc);
    copyWords(o.dst, p.outerDst);
    o.ipProto = IpProto.UDP;
    o.kind = PacketKind.UDP;
    o.hasPorts = true;
    o.sport = p.outerSport;
    o.dport = p.outerDport;
    o.l3Offset = 0;
    o.ipLength = p.ipLength;
  }
}

/**
 * Flow hash for backend selection (the role of get_hash_recalc in lb.h): symmetric enough that
 * the reply direction finds the same backend, stable across runs.
 */
export function flowHash(src: Uint32Array, sport: number, dst: Uint32Array, dport: number, proto: number): number {
  return flowHash32(src, sport, dst, dport, proto) >>> 0;
}

/** `flowHash(...) % n` without the u32 above 2^31 crossing a call (a boxed heap number). */
function backendIndex(src: Uint32Array, sport: number, dst: Uint32Array, dport: number, proto: number, n: number): number {
  return (flowHash32(src, sport, dst, dport, proto) >>> 0) % n;
}

/** flowHash as an int32. */
function flowHash32(src: Uint32Array, sport: number, dst: Uint32Array, dport: number, proto: number): number {
  let h = 0x811c9dc5 ^ proto;
  for (let i = 0; i < 4; i++) {
    h = Math.imul(h ^ src[i]!, 0x01000193);
    h = Math.imul(h ^ dst[i]!, 0x01000193);
  }
  h = Math.imul(h ^ ((sport << 16) | dport), 0x01000193);
  return h ^ (h >>> 15);
}
