/**
 * The summary's memory is bounded by connections, not packets: endpoint pairs beyond `maxPairs`
 * are summed in one row; connection numbers beyond the dense array go to a map.
 */
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, Verdict } from '../../src/datapath/events.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { cases, event, packet, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());

describe('bounds', () => {
  it('endpoint pairs beyond maxPairs are summed in one row', () => {
    const s = new FlowSummary(ctx, { maxPairs: 3 });
    for (let i = 0; i < 10; i++) {
      s.add(
        event({
          kind: EventKind.TRACE,
          verdict: Verdict.FORWARDED,
          observationPoint: ObservationPoint.TO_STACK,
          isFinal: true,
          connection: i + 1,
          packet: packet({ src: '10.0.0.1', dst: `10.0.1.${i}`, proto: 'udp', sport: 1, dport: 53 }),
          srcIdentity: 2,
          dstIdentity: 0x1000000 + i, // a CIDR identity per destination: a pair each
        }),
      );
    }
    const j = s.toJSON();
    expect(j.pairs_truncated).toBe(true);
    expect(j.pairs).toHaveLength(4);
    const other = j.pairs.find((p) => p.source === '(other pairs)')!;
    expect(other.connections).toEqual({ FORWARDED: 7 });
    expect(j.connections).toEqual({ FORWARDED: 10 });
  });

  it('connection numbers far apart use no more than the largest one needs', () => {
    const s = new FlowSummary(ctx);
    const ev = cases()['drop POLICY_DENIED']!;
    ev.connection = 3_000_000_000; // beyond the dense array: kept in the map
    s.add(ev);
    s.add(ev);
    ev.connection = 5;
    s.add(ev);
    expect(s.toJSON().connections).toEqual({ DROPPED: 2 });
  });
});
