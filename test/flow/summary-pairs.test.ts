/**
 * Endpoint pairs per final event (design.md §5), oriented client -> server: the summary keeps
 * each connection's pair in its record, but a packet of the connection whose sides differ (an
 * ICMP error from a router relates to the connection; an identity changed under a live replay)
 * counts under its own pair, and sides beyond int32 (identities above 2^31) count exactly.
 */
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { ADDR, EP, event, ID, packet, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());

function final(connection: number, fields: Partial<Omit<FlowEvent, 'origDst' | 'packet'>>, verdict: number = Verdict.FORWARDED): FlowEvent {
  return event({
    kind: verdict === Verdict.DROPPED ? EventKind.DROP : EventKind.TRACE,
    verdict,
    dropReason: verdict === Verdict.DROPPED ? 133 : 0,
    observationPoint: ObservationPoint.TO_ENDPOINT,
    isFinal: true,
    connection,
    packet: packet({ src: ADDR.tiefighter, dst: ADDR.deathstar, proto: 'tcp', sport: 40000, dport: 80 }),
    ...fields,
  });
}

const pairs = (s: FlowSummary): string[] =>
  s
    .toJSON()
    .pairs.map((p) => `${p.source} -> ${p.destination}: ${JSON.stringify(p.packets)} ${JSON.stringify(p.connections)}`)
    .sort();

describe('endpoint pairs of a connection', () => {
  it('a packet of the connection with other sides counts under its own pair', () => {
    const s = new FlowSummary(ctx);
    const tie = { srcEndpoint: EP.tiefighter, dstEndpoint: EP.deathstar, srcIdentity: ID.tiefighter, dstIdentity: ID.deathstar };
    s.add(final(1, tie));
    s.add(final(1, { ...tie, isReply: true, srcEndpoint: EP.deathstar, dstEndpoint: EP.tiefighter, srcIdentity: ID.deathstar, dstIdentity: ID.tiefighter }));
    // An ICMP error from outside the cluster, related to connection 1, towards the client.
    s.add(final(1, { isReply: true, srcEndpoint: -1, srcIdentity: 2, dstEndpoint: EP.tiefighter, dstIdentity: ID.tiefighter }));
    s.add(final(1, tie));
    // Connections count once per verdict: the error's pair has its packet, not the connection.
    expect(pairs(s)).toEqual([
      'default/tiefighter -> default/deathstar-7848d6c4d5-th9v2: {"FORWARDED":3} {"FORWARDED":1}',
      'default/tiefighter -> world: {"FORWARDED":1} {}',
    ]);
  });

  it('sides of identities above 2^31 are told apart exactly', () => {
    const s = new FlowSummary(ctx);
    const big = 0xfffffff0;
    s.add(final(7, { srcEndpoint: EP.tiefighter, srcIdentity: ID.tiefighter, dstEndpoint: -1, dstIdentity: big }, Verdict.DROPPED));
    s.add(final(7, { srcEndpoint: EP.tiefighter, srcIdentity: ID.tiefighter, dstEndpoint: -1, dstIdentity: big + 1 }, Verdict.DROPPED));
    s.add(final(7, { srcEndpoint: EP.tiefighter, srcIdentity: ID.tiefighter, dstEndpoint: -1, dstIdentity: big }, Verdict.DROPPED));
    const rows = s.toJSON().pairs.map((p) => p.packets.DROPPED).sort();
    expect(rows).toEqual([1, 2]);
    expect(s.toJSON().top_dropped[0]!.packets).toBe(3);
  });
});
