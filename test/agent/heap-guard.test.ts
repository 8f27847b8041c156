/**
 * The agent stops with one line when the policy maps it computes fill the JavaScript heap
 * (src/agent/heap-guard.ts), instead of V8 aborting the process: 20,000 pods with their own
 * identities under cluster-wide policies crashed hubcap after minutes ("Reached heap limit",
 * found by fuzzing with absurd sizes).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { HEAP_GUARD_FRACTION, YOUNG_GENERATION_BYTES, type HeapUse } from '../../src/agent/heap-guard.js';
import { CapacityError } from '../../src/errors.js';
import { runHubcap } from '../helpers/cli.js';
import { cnp, compile, docs, node, ns, pod } from '../helpers/agent-cluster.js';

/** `pods` pods of distinct identities, every one allowed from every other on one port. */
function cluster(pods: number): string {
  const parts = [ns('default'), node('n1', '192.168.1.1')];
  for (let i = 0; i < pods; i++) parts.push(pod('default', `p${i}`, { app: `a${i}` }, `10.1.${i >> 8}.${i & 255}`, { node: 'n1' }));
  parts.push(cnp('default', 'mesh', { endpointSelector: {}, ingress: [{ fromEndpoints: [{}], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }] }));
  return docs(...parts);
}

/** A 1 GiB old generation, as V8 reports it (heap_size_limit adds the young generation). */
const LIMIT = (1 << 30) + YOUNG_GENERATION_BYTES;
const BOUND = HEAP_GUARD_FRACTION * (1 << 30);

describe('policy maps and the heap', () => {
  test('every distinct policy is checked, and a heap below the bound compiles', () => {
    const seen: number[] = [];
    const doc = compile(cluster(4), {
      heapUse: (): HeapUse => {
        seen.push(seen.length);
        return { used: BOUND, limit: LIMIT };
      },
    });
    // Four pods of four identities: four distinct policies.
    expect(seen.length).toBe(new Set(doc.policyMaps.map((m) => m.entries)).size);
    expect(seen.length).toBe(4);
  });

  test('a heap past the bound stops the compile with a CapacityError that says how far it got and what to change', () => {
    let calls = 0;
    const heapUse = (): HeapUse => ({ used: ++calls >= 3 ? BOUND + 1 : 0, limit: LIMIT });
    let err: unknown;
    try {
      compile(cluster(6), { heapUse });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CapacityError);
    const message = (err as Error).message;
    expect(message).toMatch(/^policy maps: after 3 of 6 endpoints \(\d+ distinct policy-map entries\) the JavaScript heap is 922 of 1024 MiB full;/);
    expect(message).toContain('NODE_OPTIONS=--max-old-space-size=2048');
    expect(message).not.toContain('\n');
    expect(calls).toBe(3);
  });

  describe('a real heap too small for the maps (CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hubcap-heap-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('exit 2 with one line naming the heap, no V8 abort', () => {
      // 1,500 pods of distinct identities, each allowed from all: ~1,500 entries per pod, ~2.3
      // million in all, far more than a 96 MiB heap holds (~300 bytes an entry in the agent).
      const file = join(dir, 'cluster.json');
      writeFileSync(file, cluster(1500));
      const r = runHubcapWithHeap(['maps', 'pressure', '--cluster', file, '-q'], 96);
      expect(r.stderr).not.toMatch(/Reached heap limit|FATAL ERROR|internal error/);
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^hubcap: policy maps: after \d+ of 1500 endpoints \(\d+ distinct policy-map entries\) the JavaScript heap is \d+ of \d+ MiB full; give node more heap/);
    }, 120_000);
  });
});

function runHubcapWithHeap(args: string[], heapMiB: number): ReturnType<typeof runHubcap> {
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --max-old-space-size=${heapMiB}`.trim();
  try {
    return runHubcap(args);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}
