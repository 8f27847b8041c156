/**
 * Counting an event in the summary and testing it against a compiled filter allocate nothing
 * (design.md §6 hot path): no garbage collection over a million events of every kind once the
 * connections, pairs and dropped-connection slots are known, while a control loop that allocates
 * one small array per event is detected. GC events are the counter, as test/decode/alloc.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { controlGcs, countGcs } from '../helpers/gc-count.js';
import type { FlowEvent } from '../../src/datapath/events.js';
import { FlowContext } from '../../src/flow/context.js';
import { compileFlowFilter } from '../../src/flow/filter.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { cases, starWarsDoc } from './fixtures.js';

const ctx = new FlowContext(starWarsDoc());

/** Lets concurrent optimizing compiles finish and install before measuring. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

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
    loop(1_000_000);
    await settle();
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
    loop(1_000_000);
    await settle();
    const gcs = await countGcs(() => loop(N));
    expect(hits).toBeGreaterThan(0);
    expect(gcs).toBe(0);
  });

  it('control: one allocation per event is detected', async () => {
    expect(await controlGcs()).toBeGreaterThan(0);
  });
});
