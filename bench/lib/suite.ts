/**
 * What a benchmark suite is: a module `bench/<area>/<name>.ts` exporting `suite`, run by
 * bench/run.ts, which prints its tables and rewrites its own section of bench/RESULTS.md.
 *
 * House rules (style.md "Benchmarks"): every case passes a correctness gate before it is timed;
 * peers run in the same process and run (ratios side by side, one machine state); a case that
 * fails keeps its row with the error instead of numbers.
 */

export interface SuiteContext {
  /** `--quick`: smaller inputs and fewer runs, for a smoke check (results are not recorded). */
  quick: boolean;
  /** Progress lines (stderr), so stdout stays the tables. */
  log(message: string): void;
}

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Per column: 'l' or 'r' (default: numbers right, text left). */
  align?: Array<'l' | 'r'>;
}

export interface SuiteReport {
  /** One paragraph: what was measured and on what input. */
  summary: string;
  tables: Table[];
  /** Bullet notes after the tables (caveats, choices made from the numbers). */
  notes?: string[];
}

export interface Suite {
  /** `area/name`; also the RESULTS.md section key. */
  name: string;
  run(ctx: SuiteContext): Promise<SuiteReport>;
}

function cellText(c: Cell): string {
  return typeof c === 'number' ? String(c) : c;
}

function alignments(t: Table): Array<'l' | 'r'> {
  return t.columns.map((_, i) => t.align?.[i] ?? (t.rows.every((r) => typeof r[i] === 'number' || /^[\d.,x×±%\s-]+$/.test(String(r[i] ?? ''))) ? 'r' : 'l'));
}

/** Aligned plain text for the terminal. */
export function formatTableText(t: Table): string {
  const al = alignments(t);
  const cells = [t.columns, ...t.rows.map((r) => r.map(cellText))];
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (al[i] === 'r' ? (c ?? '').padStart(widths[i]!) : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [t.title, line(t.columns), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  return out.join('\n');
}

/** A GitHub-flavoured Markdown table. */
export function formatTableMarkdown(t: Table): string {
  const al = alignments(t);
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [
    `**${t.title}**`,
    '',
    `| ${t.columns.map(esc).join(' | ')} |`,
    `|${al.map((a) => (a === 'r' ? '---:' : ':---')).join('|')}|`,
    ...t.rows.map((r) => `| ${r.map((c) => esc(cellText(c))).join(' | ')} |`),
  ];
  return out.join('\n');
}

/** Formats a number with a fixed count of significant-looking decimals. */
export function fmt(n: number, decimals = 2): string {
  if (!Number.isFinite(n)) return '-';
  return n.toFixed(decimals);
}

/** "3.42x" — how many times a is faster than b (times: smaller is faster). */
export function ratio(fasterMs: number, slowerMs: number): string {
  if (!(fasterMs > 0) || !(slowerMs > 0)) return '-';
  return `${(slowerMs / fasterMs).toFixed(2)}x`;
}
