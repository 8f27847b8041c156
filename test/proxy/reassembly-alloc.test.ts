/**
 * The reassembler's common path allocates nothing per segment (design.md §6, brief: "no
 * per-segment allocation when segments arrive in order"): a million in-order segments over a
 * thousand streams, and their retransmissions, run without a garbage collection, while a control
 * loop allocating one small array per iteration triggers several. Sequence numbers stay in Smi
 * range here: a larger one passed to a function V8 does not inline is boxed by the caller (the
 * caller's cost, see test/maps/conntrack-alloc.test.ts).
 */
import { expect, test } from 'vitest';
import { controlGcs, countGcs } from '../helpers/gc-count.js';
import { ReassemblyBudget, SegmentResult, TcpStreamReassembler } from '../../src/proxy/reassembly.js';

const STREAMS = 1000;
const SEG = 100;

test('in-order segments and retransmissions allocate nothing', async () => {
  const budget = new ReassemblyBudget();
  let delivered = 0;
  const sink = (_b: Uint8Array, _o: number, n: number): void => {
    delivered += n;
  };
  const rs: TcpStreamReassembler[] = [];
  const next = new Int32Array(STREAMS);
  for (let i = 0; i < STREAMS; i++) {
    const r = new TcpStreamReassembler(budget, 1 << 20, sink);
    r.segment(i * 1000, 0x02, new Uint8Array(0), 0, 0, 0);
    next[i] = i * 1000 + 1;
    rs.push(r);
  }
  const packet = new Uint8Array(1500);
  let flags = 0;
  const loop = (n: number) => {
    for (let k = 0; k < n; k++) {
      const i = k % STREAMS;
      const seq = next[i]!;
      flags |= rs[i]!.segment(seq, 0x18, packet, 54, SEG, k & 0xffff);
      // Every fourth segment is sent again (a retransmission: dropped and counted).
      if ((k & 3) === 0) flags |= rs[i]!.segment(seq, 0x18, packet, 54, SEG, k & 0xffff);
      next[i] = seq + SEG;
    }
  };
  loop(100_000); // warm up
  await new Promise((r) => setTimeout(r, 200));
  const before = delivered;
  const gcs = await countGcs(() => loop(1_000_000));
  expect(delivered - before).toBe(1_000_000 * SEG);
  expect(flags).toBe(SegmentResult.DELIVERED | SegmentResult.RETRANSMISSION);
  expect(budget.used).toBe(0);
  expect(gcs).toBe(0);
});

test('control: one small allocation per iteration is detected', async () => {
  expect(await controlGcs()).toBeGreaterThan(0);
});
