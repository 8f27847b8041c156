/**
 * `hubcap replay --backend ts|native` (design.md §3): both names accepted and giving the same
 * flows; native by default when the addon is built; without the addon the default falls back to
 * ts with one note line on stderr (none with -q), while an explicit `--backend native` is exit 2
 * with one line naming the reason; any other name is exit 2 with one line. HUBCAP_NATIVE_ADDON
 * (src/maps/native.ts) points the loader at a missing file or at a file that is not an addon.
 *
 * The runs of one environment share a child process (test/helpers/cli-many.ts); the explicit
 * native error also runs as its own `hubcap` process, for the exit status the shell sees.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { runMany, type ManyResult } from '../helpers/cli-many.js';
import { nativeOrFail } from '../maps/native-helpers.js';

const REPLAY = [
  'replay',
  'pcaps/netpol-01-deny-all.pcap',
  '--cluster',
  'examples/netpol-recipes/cluster',
  '--policy',
  'examples/netpol-recipes/01-deny-all-traffic-to-an-application/policies',
  '-o',
  'json',
];
const MISSING = '/nonexistent/hubcap.node';
/** A file that exists but is no addon (not a shared object): the loader's own message. */
const NOT_AN_ADDON = join(mkdtempSync(join(tmpdir(), 'hubcap-backend-')), 'hubcap.node');
writeFileSync(NOT_AN_ADDON, 'not an ELF shared object\n');

const BUILT_RUNS = {
  ts: [...REPLAY, '--backend', 'ts'],
  native: [...REPLAY, '--backend', 'native'],
  byDefault: REPLAY,
  bogus: [...REPLAY, '--backend', 'bogus'],
  empty: [...REPLAY, '--backend', ''],
  bogusBeforeInputs: ['replay', 'pcaps/no-such.pcap', '--cluster', 'examples/nowhere', '--policy', 'examples/nowhere', '--backend', 'wasm'],
};
const MISSING_RUNS = {
  native: [...REPLAY, '--backend', 'native'],
  byDefault: REPLAY,
  quiet: [...REPLAY, '-q'],
  ts: [...REPLAY, '--backend', 'ts'],
};

type Results<T> = { [K in keyof T]: ManyResult };

async function runNamed<T extends Record<string, string[]>>(runs: T, env: Record<string, string> = {}): Promise<Results<T>> {
  const names = Object.keys(runs) as Array<keyof T>;
  const results = await runMany(
    names.map((n) => runs[n]!),
    env,
  );
  return Object.fromEntries(names.map((n, i) => [n, results[i]!])) as Results<T>;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/**
 * The recipe's policy has no metadata.namespace, which the agent notes on every run (not -q);
 * what these tests look at is the rest of stderr.
 */
const POLICY_NOTE = /^hubcap: note: NetworkPolicy\/default\/web-deny-all \(\S+:3\): metadata\.namespace is not set; using "default"/;
function besidesPolicyNote(text: string): string[] {
  return lines(text).filter((l) => !POLICY_NOTE.test(l));
}

let built: Results<typeof BUILT_RUNS>;
let missing: Results<typeof MISSING_RUNS>;
let notAddon: ManyResult;

beforeAll(async () => {
  nativeOrFail();
  [built, missing, [notAddon]] = (await Promise.all([
    runNamed(BUILT_RUNS),
    runNamed(MISSING_RUNS, { HUBCAP_NATIVE_ADDON: MISSING }),
    runMany([[...REPLAY, '--backend', 'native']], { HUBCAP_NATIVE_ADDON: NOT_AN_ADDON }),
  ])) as [Results<typeof BUILT_RUNS>, Results<typeof MISSING_RUNS>, ManyResult[]];
}, 120_000);

describe('with the addon built', () => {
  test('--backend ts and --backend native are both accepted and print the same flows, with nothing else on stderr', () => {
    for (const r of [built.ts, built.native]) {
      expect(r.status, r.stderr).toBe(0);
      expect(lines(r.stderr).filter((l) => POLICY_NOTE.test(l))).toHaveLength(1);
      expect(besidesPolicyNote(r.stderr)).toEqual([]);
    }
    expect(lines(built.ts.stdout).length).toBeGreaterThan(10);
    expect(built.native.stdout).toBe(built.ts.stdout);
  });

  test('each runs on the maps it names', () => {
    expect(built.ts.lookups.tsPolicy).toBeGreaterThan(0);
    expect(built.ts.lookups.nativePolicy + built.ts.lookups.nativeIpcache).toBe(0);
    expect(built.native.lookups.nativePolicy).toBeGreaterThan(0);
    expect(built.native.lookups.tsPolicy + built.native.lookups.tsIpcache).toBe(0);
  });

  test('the default is native, without a note', () => {
    expect(built.byDefault.status).toBe(0);
    expect(besidesPolicyNote(built.byDefault.stderr)).toEqual([]);
    expect(built.byDefault.lookups.nativePolicy).toBeGreaterThan(0);
    expect(built.byDefault.lookups.tsPolicy).toBe(0);
    expect(built.byDefault.stdout).toBe(built.native.stdout);
  });

  test.each([
    ['bogus', 'bogus'],
    ['empty', ''],
  ] as const)('--backend %s: exit 2, one line, nothing on stdout', (name, value) => {
    const r = built[name];
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([`hubcap: --backend must be ts or native, got ${value}`]);
  });

  test('a bad --backend is reported before the inputs are read', () => {
    expect(built.bogusBeforeInputs.status).toBe(2);
    expect(lines(built.bogusBeforeInputs.stderr)).toEqual(['hubcap: --backend must be ts or native, got wasm']);
  });
});

describe('without the addon (HUBCAP_NATIVE_ADDON names a missing file)', () => {
  test('--backend native: exit 2, one line naming the file and why', () => {
    const r = missing.native;
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    const err = lines(r.stderr);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^hubcap: --backend native: the native addon is unavailable: \/nonexistent\/hubcap\.node is not built/);
  });

  test('--backend native as its own process: exit status 2 and the same line', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/hubcap.js'), ...MISSING_RUNS.native], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', HUBCAP_NATIVE_ADDON: MISSING },
    });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(missing.native.stderr);
  });

  test('the default falls back to ts with one note line and the same flows', () => {
    const r = missing.byDefault;
    expect(r.status).toBe(0);
    expect(besidesPolicyNote(r.stderr)).toEqual([
      `hubcap: native backend unavailable (${MISSING} is not built (\`npm install\` builds it with node-gyp; it needs python3, make and g++)); using the TypeScript backend`,
    ]);
    expect(r.lookups.tsPolicy).toBeGreaterThan(0);
    expect(r.lookups.nativePolicy + r.lookups.nativeIpcache).toBe(0);
    expect(r.stdout).toBe(built.native.stdout);
  });

  test('-q leaves the note out', () => {
    expect(missing.quiet.status).toBe(0);
    expect(missing.quiet.stderr).toBe('');
    expect(missing.quiet.stdout).toBe(built.native.stdout);
  });

  test('--backend ts needs no addon and prints no note', () => {
    expect(missing.ts.status).toBe(0);
    expect(besidesPolicyNote(missing.ts.stderr)).toEqual([]);
    expect(missing.ts.stdout).toBe(built.ts.stdout);
  });
});

test('HUBCAP_NATIVE_ADDON naming a file that is not an addon: --backend native is exit 2 with the loader\'s reason', () => {
  expect(notAddon.status).toBe(2);
  expect(notAddon.stdout).toBe('');
  const err = lines(notAddon.stderr);
  expect(err).toHaveLength(1);
  expect(err[0]).toMatch(/^hubcap: --backend native: the native addon is unavailable: loading .*hubcap\.node failed: \S/);
});
