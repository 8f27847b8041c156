/**
 * The conntrack hot path allocates nothing per packet (design.md §6): a million lookups and
 * touches over established connections run without a garbage collection, while a control loop
 * allocating one small typed array per iteration triggers several. Keys are Smis for this
 * reason: a heap-number key is boxed on every Map probe (see the module comment). Times here
 * are whole seconds: a fractional time passed to a function V8 does not inline is boxed once
 * by the caller (16 bytes per call site and value), which is the caller's cost, not the map's.
 */
import { expect, test } from 'vitest';
import { controlGcs, countGcs } from '../helpers/gc-count.js';
import { Conntrack, CtDir, CtTuple } from '../../src/maps/conntrack.js';
import { ACK, UDP, tup } from './conntrack-helpers.js';

const N = 1_000_000;

test('lookup + touch allocate nothing per packet', async () => {
  const ct = new Conntrack({ tcpMax: 4096, anyMax: 4096 });
  const flows: CtTuple[] = [];
  for (let i = 0; i < 1000; i++) {
    const t = i % 4 === 0 ? tup('fd00::1', 1000 + i, 'fd00::2', 53, UDP) : tup('10.0.0.1', 1000 + i, '10.0.0.2', 80);
    flows.push(t, t.reverse(new CtTuple()));
    ct.touch(ct.create(t, 1_700_000_000), CtDir.FORWARD, 0x02, 60, 1_700_000_000);
  }
  let sink = 0;
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const now = 1_700_000_000 + (i >> 16);
      const e = ct.lookup(flows[i % flows.length]!, now, ACK);
      if (e !== null) {
        ct.touch(e, ct.lastDir, ACK, 100, now);
        sink = (sink + e.id) & 0xffff;
      }
    }
  };
  loop(200_000); // warm up: optimize, settle field representations
  // Let the collections the setup's allocations started (incremental marking) finish first.
  await new Promise((r) => setTimeout(r, 200));
  const gcs = await countGcs(() => loop(N));
  expect(sink).not.toBe(0);
  expect(gcs).toBe(0);
});

test('control: one 64-byte allocation per iteration is detected', async () => {
  expect(await controlGcs()).toBeGreaterThan(0);
});
