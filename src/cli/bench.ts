/**
 * `hubcap bench [suite...]`: runs the benchmark suites of bench/ (bench/run.ts) with sizes as
 * flags. The suites live beside the sources, not in the package's compiled output: this command
 * needs a checkout with its dev dependencies (tsx, tinybench), and says so in one line otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliContext } from './main.js';

interface BenchFlags {
  quick?: boolean;
  record?: boolean;
  list?: boolean;
  packets?: string;
  sizes?: string;
  pods?: string;
  policies?: string;
  runs?: string;
}

/** The repository root: two levels above this file, in src/cli/ or dist/cli/. */
function repoRoot(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

function count(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`${flag} must be a positive whole number, got "${text}"`);
  return text;
}

/** Flags -> the suites' environment knobs (documented at the top of each bench/<area>/<suite>.ts). */
export function benchEnvironment(flags: BenchFlags): Record<string, string> {
  const env: Record<string, string> = {};
  const set = (names: string[], value: string | undefined): void => {
    if (value !== undefined) for (const n of names) env[n] = value;
  };
  set(['BENCH_PACKETS', 'BENCH_REPLAY_PACKETS'], count('--packets', flags.packets));
  set(['BENCH_COMPILE_PODS', 'BENCH_REPLAY_PODS'], count('--pods', flags.pods));
  set(['BENCH_COMPILE_POLICIES', 'BENCH_REPLAY_POLICIES'], count('--policies', flags.policies));
  set(['BENCH_RUNS', 'BENCH_COMPILE_RUNS', 'BENCH_REPLAY_RUNS', 'BENCH_HTTP_RUNS', 'BENCH_MAPS_RUNS'], count('--runs', flags.runs));
  if (flags.sizes !== undefined) {
    const sizes = flags.sizes.split(',').map((s) => s.trim());
    if (sizes.length === 0 || sizes.some((s) => !/^\d+$/.test(s) || Number(s) < 1)) {
      throw new UsageError(`--sizes must be a comma-separated list of entry counts, e.g. 1000,100000,1000000; got "${flags.sizes}"`);
    }
    env.BENCH_MAPS_SIZES = sizes.join(',');
  }
  return env;
}

export function registerBenchCommand(program: Command, ctx: CliContext): void {
  program
    .command('bench')
    .description('run the benchmark suites (bench/): capture read, agent compile, replay, proxy, map lookups; results in bench/RESULTS.md')
    .argument('[suites...]', 'suites or areas to run (default all; --list shows them)')
    .option('--quick', 'small inputs and few runs; nothing recorded')
    .option('--no-record', 'print only; do not rewrite bench/RESULTS.md')
    .option('--list', 'list the suites')
    .option('--packets <n>', 'packets in the generated captures (capture/read, datapath/replay)')
    .option('--sizes <list>', 'map sizes for the lookup benchmarks, e.g. 1000,10000,100000,512000,1000000')
    .option('--pods <n>', 'pods in the generated clusters (agent/compile, datapath/replay)')
    .option('--policies <n>', 'policies in the generated clusters')
    .option('--runs <n>', 'timed runs per case')
    .action((suites: string[], flags: BenchFlags) => {
      const root = repoRoot();
      const runner = join(root, 'bench', 'run.ts');
      if (!existsSync(runner)) throw new UsageError('hubcap bench needs the source checkout (bench/run.ts is not here)');
      let tsx: string;
      try {
        tsx = createRequire(join(root, 'package.json')).resolve('tsx/cli');
      } catch {
        throw new UsageError('hubcap bench needs the dev dependencies (tsx, tinybench): run `npm ci` in the checkout');
      }
      const args = [tsx, runner, ...suites];
      if (flags.quick) args.push('--quick');
      if (flags.record === false) args.push('--no-record');
      if (flags.list) args.push('--list');
      const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...benchEnvironment(flags) } });
      ctx.exitCode = r.status === 0 ? 0 : r.status === 2 ? 2 : 1;
    });
}
