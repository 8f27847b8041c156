/**
 * The summary's memory is bounded by connections, not packets (design.md §6 hot path): endpoint
 * pairs beyond `maxPairs` are summed in one row, and counting events that reuse known connections,
 * pairs and dropped-connection slots allocates nothing (no garbage collection over a million
 * events, while a control loop that allocates is detected), as the filter predicate does not.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { EventKind, ObservationPoint, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { FlowContext } from '../../src/flow/context.js';
import { compileFlowFilter } from '../../src/flow/filter.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { cases, event, packet, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());

function countGcs(run: () => void): Promise<number> {
  return new Promise((resolve) => {
    let gcs = 0;
    const obs = new PerformanceObserver((list) => {
      gcs += list.getEntries().length;
    });
    obs.observe({ entryTypes: ['gc'] });
    run();
    setTimeout(() => {
      obs.disconnect();
      resolve(gcs);
    }, 50);
  });
}

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

describe('no allocation per event', () => {
  const N = 1_000_000;
  const all = Object.values(cases());
  // A replay's steady state: every connection, pair and dropped slot already known.
  const events: FlowEvent[] = all;

  it('FlowSummary.add', async () => {
    const s = new FlowSummary(ctx);
    const n = events.length;
    const loop = (count: number): void => {
      for (let i = 0; i < count; i++) s.add(events[i % n]!);
    };
    loop(200_000);
    const gcs = await countGcs(() => loop(N));
    expect(s.toJSON().packets.total).toBeGreaterThan(N / 2);
    expect(gcs).toBe(0);
  });

  it('a compiled filter predicate', async () => {
    const pred = compileFlowFilter({ pod: ['deathstar'], verdict: ['DROPPED', 'FORWARDED'], protocol: ['tcp', 'icmp'], toPort: ['80', '443'] }, ctx)!;
    const n = events.length;
    let hits = 0;
    const loop = (count: number): void => {
      for (let i = 0; i < count; i++) if (pred(events[i % n]!)) hits++;
    };
    loop(200_000);
    const gcs = await countGcs(() => loop(N));
    expect(hits).toBeGreaterThan(0);
    expect(gcs).toBe(0);
  });

  it('control: one allocation per event is detected', async () => {
    let keep: Uint8Array = new Uint8Array(0);
    const gcs = await countGcs(() => {
      for (let i = 0; i < N; i++) keep = new Uint8Array(64);
    });
    expect(keep.length).toBe(64);
    expect(gcs).toBeGreaterThan(0);
  });
});
