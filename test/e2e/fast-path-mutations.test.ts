/**
 * The native fast path on damaged captures: example captures with random bytes flipped (in
 * headers and payloads alike, so frames decode as odd packets, records lie about their lengths,
 * ports and flags change mid-connection) or cut short, replayed with `-o summary` on the TS
 * backend and on the native backend (fast path on): the same summary, stderr and exit status,
 * whatever the damage. Untrusted captures must neither crash the addon nor make the two paths
 * part (the sanitizer run repeats the in-process suites; this one runs the CLI).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { prng } from '../helpers/capture-fixtures.js';
import { ROOT } from '../helpers/cli.js';
import { runMany, type ManyResult } from '../helpers/cli-many.js';
import { nativeOrFail } from '../maps/native-helpers.js';
import { EXAMPLE_REPLAYS, type ExampleReplay } from './replay-case.js';

const CAPTURES = ['starwars-node-sll2.pcap', 'seed-talk.pcap', 'starwars-service.pcap', 'l7-http.pcap', 'l7-dns.pcap', 'edge.pcap'];
const MUTANTS_PER_CAPTURE = 8;

interface Mutant {
  name: string;
  path: string;
  replay: ExampleReplay;
}

const dir = mkdtempSync(join(tmpdir(), 'hubcap-fast-mutants-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `bytes` with `flips` random bytes after the file header replaced, or cut at a random offset. */
function mutate(bytes: Uint8Array, rnd: () => number, kind: 'flip' | 'cut'): Uint8Array {
  if (kind === 'cut') return bytes.slice(0, 24 + Math.floor(rnd() * (bytes.length - 24)));
  const out = bytes.slice();
  const flips = 1 + Math.floor(rnd() * 60);
  for (let i = 0; i < flips; i++) out[24 + Math.floor(rnd() * (out.length - 24))] = Math.floor(rnd() * 256);
  return out;
}

const mutants: Mutant[] = [];
const rnd = prng(20261122);
for (const capture of CAPTURES) {
  const replay = EXAMPLE_REPLAYS.find(([, c]) => c.capture === capture)?.[1];
  if (replay === undefined) throw new Error(`${capture}: no example replay uses it`);
  const bytes = new Uint8Array(readFileSync(join(ROOT, 'pcaps', capture)));
  for (let m = 0; m < MUTANTS_PER_CAPTURE; m++) {
    const name = `${capture.replace(/\.pcap$/, '')}-${m}.pcap`;
    const path = join(dir, name);
    writeFileSync(path, mutate(bytes, rnd, m < MUTANTS_PER_CAPTURE - 2 ? 'flip' : 'cut'));
    mutants.push({ name, path, replay });
  }
}

function args(m: Mutant, backend: 'ts' | 'native'): string[] {
  const c = m.replay;
  return ['replay', m.path, '--cluster', `examples/${c.cluster}`, '--policy', `examples/${c.policy}`, '-o', 'summary', ...(c.extra ?? []), '--backend', backend];
}

let ts: ManyResult[];
let native: ManyResult[];

beforeAll(async () => {
  nativeOrFail();
  [ts, native] = await Promise.all([runMany(mutants.map((m) => args(m, 'ts'))), runMany(mutants.map((m) => args(m, 'native')))]);
}, 300_000);

test.each(mutants.map((m, i) => [m.name, i] as const))('%s: the same outcome with and without the fast path', (_name, i) => {
  const t = ts[i]!;
  const n = native[i]!;
  expect(n.status).toBe(t.status);
  expect(n.stdout === t.stdout, 'the summaries differ').toBe(true);
  // Error lines name the file and byte the same way; nothing else may differ.
  expect(n.stderr).toBe(t.stderr);
  expect(t.lookups.fastPathPackets).toBe(0);
});

test('not vacuous: most mutants replay, and the fast path finished packets in them', () => {
  const replayed = ts.filter((r) => r.status === 0).length;
  expect(replayed).toBeGreaterThan(mutants.length / 2);
  expect(native.filter((r) => r.lookups.fastPathPackets > 0).length).toBeGreaterThan(mutants.length / 3);
});
