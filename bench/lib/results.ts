/**
 * bench/RESULTS.md: one section per suite, delimited by `<!-- suite:NAME -->` and
 * `<!-- /suite:NAME -->`. A suite rewrites only its own section (design.md §6); other sections
 * and any text outside the markers stay byte for byte. Each section names the machine it ran on.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { formatTableMarkdown, type SuiteReport } from './suite.js';

export const RESULTS_FILE = join(import.meta.dirname, '..', 'RESULTS.md');

const HEADER = `# hubcap benchmark results

Each section below is written by one suite (\`npx tsx bench/run.ts SUITE\`) and rewritten only by
that suite; edit only outside the suite markers. Numbers are from the machine
named in each section, on a shared 2-core VM unless it says otherwise: compare ratios within a
section rather than absolute numbers across sections.
`;

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  os: string;
  memoryGiB: number;
  date: string;
}

export function describeMachine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!.trim();
  } catch {
    // not Linux: os.cpus() it is
  }
  return {
    cpu,
    cores: cpus().length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString().slice(0, 10),
  };
}

export function machineLine(m: Machine): string {
  return `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; run ${m.date}.`;
}

/** The Markdown body of a suite's section (without the markers). */
export function renderSection(name: string, report: SuiteReport, machine: Machine): string {
  const parts = [`## ${name}`, '', machineLine(machine), '', report.summary, ''];
  for (const t of report.tables) parts.push(formatTableMarkdown(t), '');
  if (report.notes && report.notes.length > 0) {
    for (const n of report.notes) parts.push(`- ${n}`);
    parts.push('');
  }
  return parts.join('\n').trimEnd();
}

/**
 * Replaces the text between the markers of `name` in `text` (appending a new section at the
 * end when there is none). Pure, for tests and for writeSection.
 */
export function replaceSection(text: string, name: string, body: string): string {
  const open = `<!-- suite:${name} -->`;
  const close = `<!-- /suite:${name} -->`;
  const block = `${open}\n${body}\n${close}`;
  const start = text.indexOf(open);
  if (start >= 0) {
    const end = text.indexOf(close, start);
    if (end < 0) throw new Error(`${RESULTS_FILE}: section ${name} has no closing marker`);
    return text.slice(0, start) + block + text.slice(end + close.length);
  }
  const base = text.length === 0 ? HEADER : text;
  return `${base.trimEnd()}\n\n${block}\n`;
}

/** Rewrites the section of `name` in bench/RESULTS.md (atomically: write, then rename). */
export function writeSection(name: string, body: string, file = RESULTS_FILE): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const next = replaceSection(text, name, body);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, next);
  renameSync(tmp, file);
}
