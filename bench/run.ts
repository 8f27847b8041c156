/**
 * The benchmark runner: `npx tsx bench/run.ts [options] [suite...]`.
 *
 * Suites are modules `bench/<area>/<name>.ts` that export `suite` (bench/lib/suite.ts); they are
 * found by scanning, so adding a suite is adding a file. A suite argument matches a suite's full
 * name (`capture/read`) or its area (`capture`); no argument runs them all. Each suite's tables
 * are printed, then its section of bench/RESULTS.md is rewritten (and only its section).
 *
 * Options:
 *   --quick      smaller inputs, fewer runs; prints but does not record (a smoke check)
 *   --no-record  print only
 *   --list       list the suites and exit
 *
 * Knobs for single suites are environment variables (BENCH_*), documented in each suite.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeMachine, machineLine, renderSection, writeSection } from './lib/results.js';
import { formatTableText, type Suite } from './lib/suite.js';

const BENCH_DIR = import.meta.dirname;

async function discover(): Promise<Suite[]> {
  const suites: Suite[] = [];
  for (const area of readdirSync(BENCH_DIR).sort()) {
    const dir = join(BENCH_DIR, area);
    if (area === 'lib' || area.startsWith('.') || !statSync(dir).isDirectory()) continue;
    for (const file of readdirSync(dir).sort()) {
      if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
      const mod = (await import(pathToFileURL(join(dir, file)).href)) as { suite?: Suite };
      if (mod.suite) suites.push(mod.suite);
      else process.stderr.write(`bench: ${relative(BENCH_DIR, join(dir, file))} exports no suite; skipped\n`);
    }
  }
  return suites;
}

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith('--')));
  const wanted = argv.filter((a) => !a.startsWith('--'));
  for (const f of flags) {
    if (!['--quick', '--no-record', '--list'].includes(f)) {
      process.stderr.write(`bench: unknown option ${f}\n`);
      return 2;
    }
  }
  const all = await discover();
  if (flags.has('--list')) {
    for (const s of all) process.stdout.write(`${s.name}\n`);
    return 0;
  }
  const selected = wanted.length === 0 ? all : all.filter((s) => wanted.some((w) => s.name === w || s.name.startsWith(`${w}/`)));
  const unknown = wanted.filter((w) => !all.some((s) => s.name === w || s.name.startsWith(`${w}/`)));
  if (unknown.length > 0) {
    process.stderr.write(`bench: no suite named ${unknown.join(', ')} (have: ${all.map((s) => s.name).join(', ')})\n`);
    return 2;
  }
  const quick = flags.has('--quick');
  const record = !quick && !flags.has('--no-record');
  const machine = describeMachine();
  process.stdout.write(`${machineLine(machine)}\n`);
  let failed = 0;
  for (const s of selected) {
    process.stdout.write(`\n=== ${s.name}${quick ? ' (quick)' : ''}\n`);
    try {
      const report = await s.run({ quick, log: (m) => process.stderr.write(`  [${s.name}] ${m}\n`) });
      process.stdout.write(`${report.summary}\n\n`);
      for (const t of report.tables) process.stdout.write(`${formatTableText(t)}\n\n`);
      for (const n of report.notes ?? []) process.stdout.write(`- ${n}\n`);
      if (record) {
        writeSection(s.name, renderSection(s.name, report, machine));
        process.stdout.write(`(recorded in bench/RESULTS.md, section ${s.name})\n`);
      }
    } catch (err) {
      failed++;
      process.stderr.write(`bench: suite ${s.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
