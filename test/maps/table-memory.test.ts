/**
 * Table memory (src/maps/table-memory.ts): the replay's large tables live in buffers V8 does
 * not count as external memory (SharedArrayBuffers), so their growth sets off no collections.
 * These tests pin what the tables rely on: zero-filled arrays over such a buffer, growth that
 * copies, and the datapath's tables actually allocated there (a table left on an ArrayBuffer
 * would bring the pressure collections back without failing anything else).
 */
import { describe, expect, it } from 'vitest';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { FlowContext } from '../../src/flow/context.js';
import { Conntrack } from '../../src/maps/conntrack.js';
import { grownInt32, tableBuffer, tableInt32 } from '../../src/maps/table-memory.js';
import { tup } from './conntrack-helpers.js';
import { clientServerCluster } from '../helpers/client-server-cluster.js';

describe('table memory', () => {
  it('hands out zero-filled arrays over a SharedArrayBuffer', () => {
    const a = tableInt32(1000);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.length).toBe(1000);
    expect(a.every((x) => x === 0)).toBe(true);
    expect(tableBuffer(64).byteLength).toBe(64);
  });

  it('grows by copying into a larger zero-filled array, and truncates when asked for less', () => {
    const a = tableInt32(4);
    a.set([1, -2, 3, 4]);
    const g = grownInt32(a, 8);
    expect([...g]).toEqual([1, -2, 3, 4, 0, 0, 0, 0]);
    expect(g.buffer).toBeInstanceOf(SharedArrayBuffer);
    g[0] = 9;
    expect(a[0]).toBe(1); // a copy, not a view
    expect([...grownInt32(a, 2)]).toEqual([1, -2]);
  });

  it("keeps conntrack's rows, sides and key index there as they grow", () => {
    const ct = new Conntrack();
    for (let i = 0; i < 3000; i++) ct.createRow(tup(`10.1.${(i >> 8) & 255}.${i & 255}`, 1000, '10.200.0.1', 80), i);
    expect(ct.i32.length / 40).toBeGreaterThan(3000); // grown past the first rows
    expect(ct.i32.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(ct.f64.buffer).toBe(ct.i32.buffer);
    expect(ct.sideWords.buffer).toBeInstanceOf(SharedArrayBuffer);
    for (let t = 0; t < 4; t++) {
      const slots = ct.nativeIndexSlots(t);
      if (slots !== null) expect(slots.buffer).toBeInstanceOf(SharedArrayBuffer);
    }
  });

  it("keeps the datapath's duplicate table, connection cache and summary records there", () => {
    const doc = clientServerCluster();
    const dp = new Datapath(new DatapathState(doc), () => {});
    const summary = new FlowSummary(new FlowContext(doc), { counters: dp.counters });
    const parts = dp.fastPathParts;
    const v = parts.dedup!.nativeView();
    for (const a of [v.headers, v.rows, v.links, parts.connCache.nativeRows, summary.nativeRecords]) expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
  });
});
