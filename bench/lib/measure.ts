/**
 * Timing helpers shared by the suites.
 *
 * Throughput (items per second over a whole input) is timed as whole passes with
 * process.hrtime: a warm-up pass, then several measured passes, reporting the median (and the
 * min and max, since the machine is shared). Micro operations use tinybench (warm-up, many
 * samples, ±rme) through `runMicro`.
 */
import { Bench } from 'tinybench';
import { fmt, type Cell, type Table } from './suite.js';

export interface PassStats {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Items processed per pass (as the pass function returned it). */
  items: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Times `runs` passes of `pass` after `warmup` untimed ones. `pass` returns the number of items
 * it processed; every pass must return the same number (a cheap correctness check).
 */
export async function timePasses(pass: () => Promise<number> | number, runs: number, warmup = 1): Promise<PassStats> {
  let items = -1;
  for (let i = 0; i < warmup; i++) items = await pass();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const n = await pass();
    const t1 = process.hrtime.bigint();
    if (items >= 0 && n !== items) throw new Error(`pass ${i} processed ${n} items, an earlier one ${items}`);
    items = n;
    times.push(Number(t1 - t0) / 1e6);
  }
  return { runs, medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times), items };
}

export interface PassCase {
  name: string;
  pass: () => Promise<number> | number;
}

export interface PassResult {
  name: string;
  stats?: PassStats;
  /** Set when a pass threw; the row is kept with the error (style.md: keep errored rows). */
  error?: string;
}

/**
 * Times several cases round-robin (case A pass 1, case B pass 1, ..., case A pass 2, ...), so
 * a change in machine load during the run hits every case alike instead of the ones that
 * happened to run last. One untimed warm-up pass per case first.
 */
export async function timeInterleaved(cases: PassCase[], runs: number): Promise<PassResult[]> {
  const times = cases.map(() => [] as number[]);
  const items = cases.map(() => -1);
  const errors: Array<string | undefined> = cases.map(() => undefined);
  for (let r = -1; r < runs; r++) {
    for (let i = 0; i < cases.length; i++) {
      if (errors[i] !== undefined) continue;
      try {
        const t0 = process.hrtime.bigint();
        const n = await cases[i]!.pass();
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (items[i]! >= 0 && n !== items[i]) throw new Error(`a pass processed ${n} items, an earlier one ${items[i]}`);
        items[i] = n;
        if (r >= 0) times[i]!.push(ms);
      } catch (err) {
        errors[i] = err instanceof Error ? err.message : String(err);
      }
    }
  }
  return cases.map((c, i) =>
    errors[i] !== undefined
      ? { name: c.name, error: errors[i] }
      : {
          name: c.name,
          stats: { runs, medianMs: median(times[i]!), minMs: Math.min(...times[i]!), maxMs: Math.max(...times[i]!), items: items[i]! },
        },
  );
}

export interface MicroTask {
  name: string;
  fn: () => void;
}

/**
 * tinybench over `tasks`: ops/s, ±rme, samples, and speed relative to the slowest task. A task
 * that throws keeps its row with the error.
 */
export async function runMicro(title: string, tasks: MicroTask[], timeMs = 500): Promise<{ table: Table; hz: Map<string, number> }> {
  const bench = new Bench({ time: timeMs, warmupTime: 100, throws: false });
  for (const t of tasks) bench.add(t.name, t.fn);
  await bench.run();
  const rows: Array<{ name: string; hz: number; rme: number; samples: number; error?: string }> = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state === 'errored') {
      rows.push({ name: task.name, hz: 0, rme: 0, samples: 0, error: String(r.error?.message ?? r.error) });
    } else if (r.state === 'completed' || r.state === 'aborted-with-statistics') {
      rows.push({ name: task.name, hz: r.throughput.mean, rme: r.latency.rme, samples: r.latency.samplesCount });
    } else {
      rows.push({ name: task.name, hz: 0, rme: 0, samples: 0, error: r.state });
    }
  }
  const slowest = Math.min(...rows.filter((r) => !r.error && r.hz > 0).map((r) => r.hz));
  const out: Cell[][] = rows.map((r) =>
    r.error
      ? [r.name, `error: ${r.error}`, '-', '-', '-']
      : [r.name, formatOps(r.hz), `±${fmt(r.rme, 2)}%`, r.samples, `${fmt(r.hz / slowest, 2)}x`],
  );
  return {
    table: { title, columns: ['task', 'ops/s', 'rme', 'samples', 'vs slowest'], rows: out },
    hz: new Map(rows.filter((r) => !r.error).map((r) => [r.name, r.hz])),
  };
}

export function formatOps(hz: number): string {
  if (hz >= 1e6) return `${fmt(hz / 1e6, 2)} M`;
  if (hz >= 1e3) return `${fmt(hz / 1e3, 1)} k`;
  return fmt(hz, 1);
}
