/**
 * The native fast path end to end (src/datapath/fast-path.ts): every example capture the e2e
 * suite replays, with its cluster, policies and flags, through `hubcap replay -o summary` three
 * ways — `--backend ts`, `--backend native` (the addon finishes the common packets) and
 * `--backend native --no-fast-path` — and once more each with `--per-packet` and with
 * `--dedup-window 0`: byte-identical summaries, the same stderr and exit status, and the fast
 * path really finishing packets where it should (only in the native runs without
 * --no-fast-path). With `--expect` too: the same report, passing or failing (its packet counts
 * include the packets the fast path finished).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runMany, type ManyResult } from '../helpers/cli-many.js';
import { nativeOrFail } from '../maps/native-helpers.js';
import { EXAMPLE_REPLAYS, type ExampleReplay } from './replay-case.js';

const MODES = {
  ts: ['--backend', 'ts'],
  fast: ['--backend', 'native'],
  noFast: ['--backend', 'native', '--no-fast-path'],
} as const;
type Mode = keyof typeof MODES;

const VARIANTS: Array<[string, string[]]> = [
  ['as the e2e suite runs it', []],
  ['--per-packet', ['--per-packet']],
  ['--dedup-window 0', ['--dedup-window', '0']],
];

function args(c: ExampleReplay, extra: string[], mode: Mode): string[] {
  return ['replay', `pcaps/${c.capture}`, '--cluster', `examples/${c.cluster}`, '--policy', `examples/${c.policy}`, '-o', 'summary', ...(c.extra ?? []), ...extra, ...MODES[mode]];
}

const runs: Record<Mode, ManyResult[]> = { ts: [], fast: [], noFast: [] };
let withExpect: ManyResult[];
let withExpectTs: ManyResult[];
let failing: ManyResult[];

/**
 * Expectations the Star Wars capture breaks both ways (tiefighter is allowed, xwing dropped:
 * the Cilium demo's outcomes), so the report lists connections with their packet counts.
 */
const WRONG = `- name: tiefighter expected dropped
  from: {pod: default/tiefighter}
  to: {selector: {namespace: default, matchLabels: {org: empire, class: deathstar}}}
  port: 80
  expect: dropped
- name: xwing expected allowed
  from: {pod: default/xwing}
  to: {selector: {namespace: default, matchLabels: {org: empire, class: deathstar}}}
  port: 80
  expect: allowed
`;
const dir = mkdtempSync(join(tmpdir(), 'hubcap-fast-expect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  nativeOrFail();
  const all = VARIANTS.flatMap(([, extra]) => EXAMPLE_REPLAYS.map(([, c]) => [c, extra] as const));
  const expecting = EXAMPLE_REPLAYS.filter(([, c]) => c.expect !== undefined).map(([, c]) => c);
  const wrong = join(dir, 'wrong.yaml');
  writeFileSync(wrong, WRONG);
  const starwars = EXAMPLE_REPLAYS.find(([, c]) => c.capture === 'starwars-deathstar.pcap')![1];
  const [ts, fast, noFast, expectRuns, expectTs] = await Promise.all([
    runMany(all.map(([c, extra]) => args(c, extra, 'ts'))),
    runMany([...all.map(([c, extra]) => args(c, extra, 'fast')), [...args(starwars, [], 'fast'), '--expect', wrong]]),
    runMany(all.map(([c, extra]) => args(c, extra, 'noFast'))),
    runMany(expecting.map((c) => [...args(c, [], 'fast'), '--expect', `examples/${c.expect}`])),
    runMany([...expecting.map((c) => [...args(c, [], 'ts'), '--expect', `examples/${c.expect}`]), [...args(starwars, [], 'ts'), '--expect', wrong]]),
  ]);
  runs.ts = ts;
  runs.fast = fast.slice(0, all.length);
  runs.noFast = noFast;
  withExpect = expectRuns;
  withExpectTs = expectTs.slice(0, expecting.length);
  failing = [expectTs[expecting.length]!, fast[all.length]!];
}, 600_000);

describe.each(VARIANTS.map(([name], v) => [name, v] as const))('%s', (_variant, v) => {
  test.each(EXAMPLE_REPLAYS.map(([name], i) => [name, v * EXAMPLE_REPLAYS.length + i] as const))('%s: the same summary with and without the fast path', (_name, i) => {
    const t = runs.ts[i]!;
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/verdict/i);
    for (const mode of ['fast', 'noFast'] as const) {
      const r = runs[mode][i]!;
      expect(r.status, `${mode}: ${r.stderr}`).toBe(t.status);
      expect(r.stdout === t.stdout, `${mode}: the summary differs from --backend ts`).toBe(true);
      expect(r.stderr).toBe(t.stderr);
    }
    expect(runs.ts[i]!.lookups.fastPathPackets).toBe(0);
    expect(runs.noFast[i]!.lookups.fastPathPackets).toBe(0);
  });

  test('the fast path finished packets in most replays', () => {
    const slice = runs.fast.slice(v * EXAMPLE_REPLAYS.length, (v + 1) * EXAMPLE_REPLAYS.length);
    const finished = slice.filter((r) => r.lookups.fastPathPackets > 0).length;
    expect(finished).toBeGreaterThan(EXAMPLE_REPLAYS.length / 2);
  });
});

test('--expect: the same report with and without the fast path, which finishes packets there too', () => {
  expect(withExpect.length).toBeGreaterThan(5);
  for (let i = 0; i < withExpect.length; i++) {
    const n = withExpect[i]!;
    const t = withExpectTs[i]!;
    expect(n.status, n.stderr).toBe(0);
    expect(n.stderr).toMatch(/expectations: all \d+ hold/);
    expect(n.stdout === t.stdout, 'the summaries differ').toBe(true);
    expect(n.stderr).toBe(t.stderr);
  }
  expect(withExpect.filter((r) => r.lookups.fastPathPackets > 0).length).toBeGreaterThan(withExpect.length / 2);
});

test('a failing --expect reports the same connections and packet counts with and without the fast path', () => {
  const [t, n] = failing;
  expect(t!.status).toBe(1);
  expect(n!.status).toBe(1);
  expect(t!.stderr).toMatch(/^FAIL .*xwing expected allowed/m);
  // The dropped connection's later packets are inherited drops, the fast path's to count.
  expect(t!.stderr).toMatch(/: dropped .*, (?:[2-9]|\d\d+) packet\(s\)$/m);
  expect(n!.stderr).toBe(t!.stderr);
  expect(n!.stdout === t!.stdout).toBe(true);
  expect(n!.lookups.fastPathPackets).toBeGreaterThan(0);
});
