/**
 * The top dropped connections keep a fixed number of slots (Space-Saving, Metwally, Agrawal and
 * El Abbadi, "Efficient computation of frequent and top-k elements in data streams", 2005): exact
 * while the dropped connections fit, and afterwards every reported count over-estimates the true
 * one by at most its `error`, and every connection dropped more than N/k times is reported.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventKind, Verdict, type FlowEvent } from '../../src/datapath/events.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { event, packet, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());

/** Drop events for connection numbers 1..n, each with its own source port (= connection). */
function drops(n: number): FlowEvent[] {
  const out: FlowEvent[] = [];
  for (let conn = 1; conn <= n; conn++) {
    out.push(
      event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: 133,
        isFinal: true,
        connection: conn,
        packet: packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 10000 + conn, dport: 80 }),
      }),
    );
  }
  return out;
}

describe('top dropped connections', () => {
  it('exact ranking while the connections fit, limited to `top` rows', () => {
    const events = drops(5);
    const s = new FlowSummary(ctx, { top: 3 });
    const counts = [1, 7, 3, 7, 2];
    counts.forEach((n, i) => {
      for (let k = 0; k < n; k++) s.add(events[i]!);
    });
    const j = s.toJSON();
    expect(j.top_dropped_approximate).toBe(false);
    expect(j.top_dropped.map((d) => [d.sport, d.packets, d.error])).toEqual([
      [10002, 7, undefined],
      [10004, 7, undefined],
      [10003, 3, undefined],
    ]);
  });

  it('a heavy connection survives a flood of one-packet connections in 4 slots', () => {
    const events = drops(2000);
    const s = new FlowSummary(ctx, { trackedDropped: 4, top: 1 });
    for (let i = 1; i < events.length; i++) {
      s.add(events[i]!);
      if (i % 2 === 0) s.add(events[0]!); // connection 1: 999 packets among 1999 singletons, above N/k
    }
    const j = s.toJSON();
    expect(j.top_dropped_approximate).toBe(true);
    const top = j.top_dropped[0]!;
    expect(top.sport).toBe(10001);
    const truth = Math.floor(1999 / 2);
    expect(top.packets - (top.error ?? 0)).toBeLessThanOrEqual(truth);
    expect(top.packets).toBeGreaterThanOrEqual(truth);
  });

  it('a connection and a connection-less drop (a synthetic number, kept apart) take each other\'s slot correctly', () => {
    // One slot: connection 5, then an orphan packet without a connection, then connection 5 again.
    const s = new FlowSummary(ctx, { trackedDropped: 1, top: 1 });
    const conn = drops(5)[4]!;
    const orphan = event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: 175,
      isFinal: true,
      connection: 0,
      packet: packet({ src: '10.0.0.9', dst: '10.0.0.2', proto: 'udp', sport: 53, dport: 5353 }),
    });
    s.add(conn);
    s.add(orphan); // takes the slot: 2 packets, error 1
    s.add(conn); // takes it back: 3 packets, error 2 (its record must have lost the slot)
    const [top] = s.toJSON().top_dropped;
    expect([top!.sport, top!.packets, top!.error]).toEqual([10005, 3, 2]);
  });

  it('Space-Saving guarantees on random streams', () => {
    const events = drops(40);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 39 }), { minLength: 1, maxLength: 600 }), fc.integer({ min: 1, max: 12 }), (stream, k) => {
        const s = new FlowSummary(ctx, { trackedDropped: k, top: k });
        const truth = new Map<number, number>();
        for (const i of stream) {
          s.add(events[i]!);
          truth.set(10001 + i, (truth.get(10001 + i) ?? 0) + 1);
        }
        const rows = s.toJSON().top_dropped;
        expect(rows.length).toBe(Math.min(k, truth.size));
        for (const r of rows) {
          const t = truth.get(r.sport!) ?? 0;
          expect(r.packets).toBeGreaterThanOrEqual(t);
          expect(r.packets - (r.error ?? 0)).toBeLessThanOrEqual(t);
        }
        const reported = new Set(rows.map((r) => r.sport));
        for (const [sport, n] of truth) if (n > stream.length / k) expect(reported.has(sport)).toBe(true);
        if (truth.size <= k) {
          expect(rows.every((r) => r.error === undefined && r.packets === truth.get(r.sport!))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
