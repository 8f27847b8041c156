/**
 * The end-to-end suite on both backends (issue #6, "the end-to-end suite runs on both backends";
 * design.md §3 `--backend ts|native`): every example capture the other test/e2e files replay,
 * with the clusters, policies and flags they use, through `hubcap replay -o json --summary`
 * under `--backend ts` and `--backend native`: the same exit status and byte-identical flows,
 * summary and stderr, and the examples' expect files hold (`--expect`) under native.
 *
 * Which backend ran the rest of test/e2e: none of those files passes `--backend`, so they run on
 * the default, which is native when the addon is built (the last test here checks that the
 * default run really looks up the native maps). This file also runs every case on ts, so both
 * backends are covered end to end. The addon must be built (CI builds it with `npm ci`): a
 * missing addon fails here rather than skipping (style.md).
 *
 * Cost: the replays of each backend run in one child process through the CLI's own entry point
 * (test/helpers/cli-many.ts), the two backends side by side; one case is cross-checked against a
 * fresh `hubcap` process, so the shared process changes nothing.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';
import { runMany, type ManyResult } from '../helpers/cli-many.js';
import { nativeOrFail } from '../maps/native-helpers.js';
import { EXAMPLE_REPLAYS as CASES, type ExampleReplay as Case } from './replay-case.js';

function replayArgs(c: Case, backend?: 'ts' | 'native'): string[] {
  const args = ['replay', `pcaps/${c.capture}`, '--cluster', `examples/${c.cluster}`, '--policy', `examples/${c.policy}`, '-o', 'json', '--summary'];
  if (c.expect !== undefined) args.push('--expect', `examples/${c.expect}`);
  args.push(...(c.extra ?? []));
  if (backend) args.push('--backend', backend);
  return args;
}

/** The case checked against a fresh process (it runs after all the others in its child). */
const LAST = CASES.length - 1;

let ts: ManyResult[];
let native: ManyResult[];
let byDefault: ManyResult;

beforeAll(async () => {
  nativeOrFail();
  const cases = CASES.map(([, c]) => c);
  const [t, n] = await Promise.all([
    runMany(cases.map((c) => replayArgs(c, 'ts'))),
    runMany([...cases.map((c) => replayArgs(c, 'native')), replayArgs(cases[0]!)]),
  ]);
  ts = t;
  native = n.slice(0, cases.length);
  byDefault = n[cases.length]!;
}, 300_000);

/** The flow lines of a run (the summary follows an empty line). */
function flowLines(r: ManyResult): string[] {
  const end = r.stdout.indexOf('\n\n');
  return (end < 0 ? r.stdout : r.stdout.slice(0, end)).split('\n').filter((l) => l !== '');
}

describe.each(CASES.map(([name, c], i) => [name, c, i] as const))('%s', (_name, c, i) => {
  test('ts and native: the same exit status, byte-identical flows, summary and stderr', () => {
    const t = ts[i]!;
    const n = native[i]!;
    expect(t.status, t.stderr).toBe(0);
    expect(flowLines(t).length).toBeGreaterThan(0);
    for (const l of flowLines(t)) expect(() => JSON.parse(l) as unknown).not.toThrow();
    expect(n.status).toBe(t.status);
    expect(n.stdout === t.stdout, 'the two backends printed different output').toBe(true);
    expect(n.stderr).toBe(t.stderr);
  });

  test('each run looked up its own backend\'s maps only', () => {
    const t = ts[i]!.lookups;
    const n = native[i]!.lookups;
    expect(t.nativePolicy + t.nativeIpcache).toBe(0);
    expect(n.tsPolicy + n.tsIpcache).toBe(0);
    // The same packets reach the same lookups (none when every packet is dropped before them,
    // as the lone later fragments of edge-frag-first-lost are).
    expect(n.nativePolicy).toBe(t.tsPolicy);
    expect(n.nativeIpcache).toBe(t.tsIpcache);
  });

  if (c.expect !== undefined) {
    test(`examples/${c.expect} holds under --backend native`, () => {
      expect(native[i]!.status, native[i]!.stderr).toBe(0);
      expect(native[i]!.stderr).toMatch(/expectations: all \d+ hold/);
    });
  }
});

test('the maps were consulted: all but the lone-fragments case look up both the ipcache and a policy map', () => {
  const without = (rs: ManyResult[], lookups: (r: ManyResult) => number): string[] => CASES.filter((_, i) => lookups(rs[i]!) === 0).map(([name]) => name);
  expect(without(ts, (r) => r.lookups.tsIpcache)).toEqual(['edge: first fragment lost']);
  expect(without(ts, (r) => r.lookups.tsPolicy)).toEqual(['edge: first fragment lost']);
  expect(without(native, (r) => r.lookups.nativeIpcache)).toEqual(['edge: first fragment lost']);
  expect(without(native, (r) => r.lookups.nativePolicy)).toEqual(['edge: first fragment lost']);
});

test('a run in the shared child prints what a fresh hubcap process prints', () => {
  const fresh = runHubcap(replayArgs(CASES[LAST]![1], 'native'));
  expect(fresh.status).toBe(native[LAST]!.status);
  expect(fresh.stdout === native[LAST]!.stdout, 'the shared child and a fresh process differ').toBe(true);
  expect(fresh.stderr).toBe(native[LAST]!.stderr);
});

test('the default backend, which the rest of test/e2e runs on, is native: no note, native lookups, the same output', () => {
  expect(byDefault.status).toBe(0);
  expect(byDefault.stderr).not.toMatch(/backend/);
  expect(byDefault.lookups.tsPolicy + byDefault.lookups.tsIpcache).toBe(0);
  expect(byDefault.lookups.nativeIpcache).toBeGreaterThan(0);
  expect(byDefault.stdout === native[0]!.stdout).toBe(true);
});
