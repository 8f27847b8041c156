/**
 * Drives the datapath with hand-built packets: raw IP frames (LINKTYPE_RAW) through the real
 * decoder, a compiled cluster, and a sink that keeps copies of the events.
 */
import { LinkType } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { EventKind, VERDICT_NAMES, type FlowEvent } from '../../src/datapath/events.js';
import { Datapath, type DatapathOptions } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { formatIp } from '../../src/net/addr.js';
import { frameOf, ipv4, tcp, udp, icmp4 } from './decode-build.js';

export interface SeenEvent {
  kind: 'drop' | 'trace' | 'policy-verdict' | 'l7';
  verdict: string;
  final: boolean;
  dropReason: number;
  direction: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  inherited: boolean;
  audited: boolean;
  isReply: boolean;
  srcEndpoint: string;
  dstEndpoint: string;
  rule: string;
  /** The node the event was observed on (index into the document's nodes, -1 none). */
  node: number;
  observationPoint: number;
  connection: number;
}

export class Harness {
  readonly state: DatapathState;
  readonly datapath: Datapath;
  readonly events: SeenEvent[] = [];
  private readonly pkt = new DecodedPacket();
  private now = 1_700_000_000;

  constructor(readonly doc: MapsDocument, options: Partial<DatapathOptions> = {}) {
    this.state = new DatapathState(doc);
    this.datapath = new Datapath(this.state, (ev) => this.events.push(this.copy(ev)), { dedupWindowNs: 0, ...options });
  }

  private copy(ev: FlowEvent): SeenEvent {
    const kind = ev.kind === EventKind.DROP ? 'drop' : ev.kind === EventKind.POLICY_VERDICT ? 'policy-verdict' : ev.kind === EventKind.L7 ? 'l7' : 'trace';
    const name = (i: number): string => (i >= 0 ? this.doc.endpoints[i]!.name : '');
    return {
      kind,
      verdict: VERDICT_NAMES[ev.verdict]!,
      final: ev.isFinal,
      dropReason: ev.dropReason,
      direction: ev.trafficDirection,
      src: formatIp(ev.packet.src, ev.packet.ipVersion),
      dst: formatIp(ev.packet.dst, ev.packet.ipVersion),
      sport: ev.packet.sport,
      dport: ev.packet.dport,
      inherited: ev.inherited,
      audited: ev.audited,
      isReply: ev.isReply,
      srcEndpoint: name(ev.srcEndpoint),
      dstEndpoint: name(ev.dstEndpoint),
      rule: ev.rule >= 0 ? (this.doc.rules[ev.rule]?.ref ?? '') : '',
      node: ev.node,
      observationPoint: ev.observationPoint,
      connection: ev.connection,
    };
  }

  /** Advances the capture clock (seconds). */
  wait(seconds: number): void {
    this.now += seconds;
  }

  /** Feeds raw IPv4/IPv6 bytes; returns the events this packet produced. */
  send(bytes: Uint8Array): SeenEvent[] {
    const before = this.events.length;
    const sec = Math.floor(this.now);
    const frame = frameOf(bytes, LinkType.RAW, { tsSec: sec, tsNsec: Math.round((this.now - sec) * 1e9) });
    decodeFrame(frame, this.pkt);
    this.datapath.process(this.pkt, frame.tsSec, frame.tsNsec);
    this.now += 0.001;
    return this.events.slice(before);
  }

  tcp(src: string, dst: string, sport: number, dport: number, flags: number, seq = 1000, ack = 0): SeenEvent[] {
    return this.send(ipv4({ src, dst, proto: 6 }, tcp({ sport, dport, flags, seq, ack })));
  }

  udp(src: string, dst: string, sport: number, dport: number, payload: number[] = [1, 2, 3, 4]): SeenEvent[] {
    return this.send(ipv4({ src, dst, proto: 17 }, udp({ sport, dport }, payload)));
  }

  ping(src: string, dst: string, type: number, id = 7, seq = 1, code = 0): SeenEvent[] {
    return this.send(ipv4({ src, dst, proto: 1 }, icmp4({ type, code, id, seq }, [0, 1, 2, 3])));
  }
}

/** The one final event of a packet's events. */
export function finalOf(events: SeenEvent[]): SeenEvent {
  const finals = events.filter((e) => e.final);
  if (finals.length !== 1) throw new Error(`expected one final event, got ${finals.length}: ${JSON.stringify(events)}`);
  return finals[0]!;
}

export const SYN = 0x02;
export const ACK = 0x10;
export const SYNACK = 0x12;
export const FIN = 0x01;
export const RST = 0x04;
