/**
 * Untrusted captures through the whole per-packet program (the brief: bad input never crashes
 * or stalls us). Streams of frames between the client/server cluster's pods, nodes and outside
 * hosts (TCP, UDP, ICMP echoes and errors quoting other packets, IPv6, fragments, VXLAN), with
 * bytes flipped, snaplens cut and timestamps jumping back and forth, replayed through tiny
 * conntrack tables so every packet can evict. For every stream, on the TS maps and (when built)
 * the native addon:
 *  - `process` never throws;
 *  - every frame that is IP and not a duplicate gets exactly one final event;
 *  - the conntrack tables stay consistent (test/maps/conntrack-helpers.ts checkInvariants);
 *  - both backends emit the same events.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LinkType } from '../../src/capture/frame.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket, EtherType } from '../../src/decode/packet.js';
import { EventKind, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import { loadNative } from '../../src/maps/native.js';
import { CLIENT, NODE_A, NODE_B, OTHER, SERVER, clientServerCluster } from '../helpers/client-server-cluster.js';
import { ACK, FIN, RST, SYN, SYNACK } from '../helpers/datapath-run.js';
import { ethernet, frameOf, icmp4, icmp6, ipv4, ipv6, tcp, udp, vxlan } from '../helpers/decode-build.js';
import { checkInvariants } from '../maps/conntrack-helpers.js';

const doc = clientServerCluster();
const WORLD = '203.0.113.9';
const HOSTS = [CLIENT, SERVER, OTHER, NODE_A, NODE_B, WORLD];

/** Seed frames (Ethernet): the shapes the program branches on. */
function seeds(): Uint8Array[] {
  const eth = (ip: Uint8Array, v6 = false): Uint8Array => ethernet(v6 ? EtherType.IPV6 : EtherType.IPV4, ip);
  const out: Uint8Array[] = [];
  for (const [a, b] of [
    [CLIENT, SERVER],
    [SERVER, CLIENT],
    [OTHER, SERVER],
    [WORLD, NODE_A],
    [CLIENT, WORLD],
  ] as const) {
    for (const flags of [SYN, SYNACK, ACK, FIN | ACK, RST]) out.push(eth(ipv4({ src: a, dst: b, proto: 6 }, tcp({ sport: 40000, dport: 80, flags }))));
    out.push(eth(ipv4({ src: a, dst: b, proto: 6 }, tcp({ sport: 80, dport: 40000, flags: SYNACK }))));
    out.push(eth(ipv4({ src: a, dst: b, proto: 17 }, udp({ sport: 5353, dport: 53 }, [1, 2, 3]))));
    out.push(eth(ipv4({ src: a, dst: b, proto: 1 }, icmp4({ type: 8, id: 7, seq: 1 }))));
    out.push(eth(ipv4({ src: b, dst: a, proto: 1 }, icmp4({ type: 0, id: 7, seq: 1 }))));
    // An error quoting the packet it answers (RELATED through the address pair).
    out.push(eth(ipv4({ src: b, dst: a, proto: 1 }, icmp4({ type: 3, code: 3 }, ipv4({ src: a, dst: b, proto: 17 }, udp({ sport: 5353, dport: 53 }))))));
    out.push(eth(ipv4({ src: b, dst: a, proto: 1 }, icmp4({ type: 3, code: 4 }, ipv4({ src: a, dst: b, proto: 6 }, tcp({ sport: 40000, dport: 80, flags: ACK }))))));
    // Fragments: a first one with ports, a later one without.
    out.push(eth(ipv4({ src: a, dst: b, proto: 17, id: 9, mf: true }, udp({ sport: 1000, dport: 53 }, [1, 2, 3, 4, 5, 6, 7, 8]))));
    out.push(eth(ipv4({ src: a, dst: b, proto: 17, id: 9, fragOffset: 16 }, [9, 9, 9, 9])));
    // GRE: not a protocol conntrack knows.
    out.push(eth(ipv4({ src: a, dst: b, proto: 47 }, [0, 0, 8, 0])));
  }
  out.push(eth(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: 6 }, tcp({ sport: 40000, dport: 80, flags: SYN })), true));
  out.push(eth(ipv6({ src: 'fd00::2', dst: 'fd00::1', nextHeader: 58 }, icmp6({ type: 1, code: 4 }, ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: 6 }, tcp({ sport: 40000, dport: 80, flags: SYN })))), true));
  out.push(eth(ipv6({ src: 'fd00::1', dst: 'fd00::2', nextHeader: 58 }, icmp6({ type: 135 })), true));
  // VXLAN between the nodes carrying a pod-to-pod SYN.
  out.push(eth(ipv4({ src: NODE_B, dst: NODE_A, proto: 17 }, udp({ sport: 50000, dport: 8472 }, vxlan(5, ethernet(EtherType.IPV4, ipv4({ src: OTHER, dst: SERVER, proto: 6 }, tcp({ sport: 41000, dport: 80, flags: SYN }))))))));
  return out;
}

const SEEDS = seeds();

interface StreamPacket {
  seed: number;
  flips: Array<[number, number]>;
  cut: number;
  /** Milliseconds to the next packet (negative: the clock steps back). */
  step: number;
  /** Swap the seed's IPv4 addresses for other hosts (more distinct connections). */
  hostA: number;
  hostB: number;
}

const packet: fc.Arbitrary<StreamPacket> = fc.record({
  seed: fc.nat(SEEDS.length - 1),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  cut: fc.oneof({ arbitrary: fc.constant(-1), weight: 4 }, { arbitrary: fc.nat(120), weight: 1 }),
  step: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 50 }), weight: 6 }, { arbitrary: fc.integer({ min: -5_000, max: 120_000 }), weight: 1 }),
  hostA: fc.nat(HOSTS.length - 1),
  hostB: fc.nat(HOSTS.length - 1),
});

/** The frame bytes of one stream packet: the seed, its IPv4 addresses swapped when asked, then the flips. */
function bytesOf(p: StreamPacket): Uint8Array {
  const bytes = SEEDS[p.seed]!.slice();
  if (bytes[12] === 0x08 && bytes[13] === 0x00 && p.flips.length === 0) {
    // Rewrite the outer IPv4 addresses (the header checksum is not checked by the decoder).
    const put = (at: number, ip: string): void => ip.split('.').forEach((o, k) => (bytes[at + k] = Number(o)));
    put(26, HOSTS[p.hostA]!);
    put(30, HOSTS[p.hostB]!);
  }
  for (const [pos, val] of p.flips) bytes[pos % bytes.length] = val;
  return bytes;
}

interface Outcome {
  events: string[];
  finals: number;
  expectedFinals: number;
}

function replay(stream: StreamPacket[], backend: 'ts' | 'native', perPacket: boolean): Outcome {
  const state = new DatapathState(doc, { backend });
  const events: string[] = [];
  let finals = 0;
  const sink = (ev: FlowEvent): void => {
    if (ev.isFinal) finals++;
    events.push(`${ev.kind}/${ev.verdict}/${ev.dropReason}/${ev.connection}/${ev.ctStatus}/${ev.inherited ? 1 : 0}`);
  };
  const dp = new Datapath(state, sink, { ctTcpMax: 6, ctAnyMax: 5, perPacket });
  const pkt = new DecodedPacket();
  let ms = 0;
  for (const p of stream) {
    const bytes = bytesOf(p);
    ms = Math.max(0, ms + p.step);
    const tsSec = 1_700_000_000 + Math.floor(ms / 1000);
    const f = frameOf(bytes, LinkType.ETHERNET, { caplen: p.cut < 0 ? bytes.length : Math.min(p.cut, bytes.length), tsSec, tsNsec: (ms % 1000) * 1_000_000 });
    decodeFrame(f, pkt);
    expect(() => dp.process(pkt, f.tsSec, f.tsNsec, f)).not.toThrow();
  }
  checkInvariants(dp.conntrack);
  const c = dp.counters;
  return { events, finals, expectedFinals: c.frames - c.nonIp - c.duplicates };
}

describe('untrusted frames through the datapath (fast-check)', () => {
  const native = loadNative() !== undefined;
  if (!native) console.warn('datapath fuzz: the native addon is not built; the TS backend alone is checked');

  for (const perPacket of [false, true]) {
    it(`never throws, one final event per IP packet, consistent tables, both backends alike${perPacket ? ' (--per-packet)' : ''}`, () => {
      fc.assert(
        fc.property(fc.array(packet, { minLength: 1, maxLength: 80 }), (stream) => {
          const ts = replay(stream, 'ts', perPacket);
          expect(ts.finals).toBe(ts.expectedFinals);
          if (native) expect(replay(stream, 'native', perPacket).events).toEqual(ts.events);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('the seeds reach the program: drops, forwards, RELATED errors and inherited drops all occur', () => {
    const kinds = new Set<string>();
    const stream: StreamPacket[] = SEEDS.map((_, seed) => ({ seed, flips: [], cut: -1, step: 1, hostA: 0, hostB: 1 }));
    for (const s of [0, 1, 2, 3, 4, 5]) stream.push({ seed: s, flips: [], cut: -1, step: 1, hostA: 2, hostB: 1 });
    // A flip that writes back the byte already there keeps each seed's own addresses (bytesOf).
    const out = replay(stream.map((p) => ({ ...p, flips: [[0, SEEDS[p.seed]![0]!]] })), 'ts', false);
    for (const e of out.events) kinds.add(e.split('/').slice(0, 2).join('/'));
    expect(kinds.has(`${EventKind.DROP}/${Verdict.DROPPED}`)).toBe(true);
    expect(kinds.has(`${EventKind.TRACE}/${Verdict.FORWARDED}`)).toBe(true);
    expect(out.events.some((e) => e.endsWith('/1'))).toBe(true); // an inherited drop
  });
});
