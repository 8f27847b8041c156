/**
 * The native fast path end to end (src/datapath/fast-path.ts): every example capture the e2e
 * suite replays, with its cluster, policies and flags, through `hubcap replay -o summary` three
 * ways — `--backend ts`, `--backend native` (the addon finishes the common packets) and
 * `--backend native --no-fast-path` — and once more each with `--per-packet` and with
 * `--dedup-window 0`: byte-identical summaries, the same stderr and exit status, and the fast
 * path really finishing packets where it should (only in the native runs without
 * --no-fast-path). `--expect` and the flow formats need every event, so the fast path stays off
 * there: checked too.
 */
import { beforeAll, describe, expect, test } from 'vitest';
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

beforeAll(async () => {
  nativeOrFail();
  const all = VARIANTS.flatMap(([, extra]) => EXAMPLE_REPLAYS.map(([, c]) => [c, extra] as const));
  const [ts, fast, noFast, expectRuns] = await Promise.all([
    runMany(all.map(([c, extra]) => args(c, extra, 'ts'))),
    runMany(all.map(([c, extra]) => args(c, extra, 'fast'))),
    runMany(all.map(([c, extra]) => args(c, extra, 'noFast'))),
    runMany(EXAMPLE_REPLAYS.filter(([, c]) => c.expect !== undefined).map(([, c]) => [...args(c, [], 'fast'), '--expect', `examples/${c.expect}`])),
  ]);
  runs.ts = ts;
  runs.fast = fast;
  runs.noFast = noFast;
  withExpect = expectRuns;
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

test('--expect keeps every event: the fast path stays off, and the expectations hold', () => {
  expect(withExpect.length).toBeGreaterThan(5);
  for (const r of withExpect) {
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/expectations: all \d+ hold/);
    expect(r.lookups.fastPathPackets).toBe(0);
  }
});
