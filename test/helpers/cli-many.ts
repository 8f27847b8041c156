/**
 * Many `hubcap` command lines in one child process (cli-many-child.ts): each run's exit status,
 * stdout and stderr as if it had been its own process, plus how many datapath lookups went to
 * each backend's maps.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const CLI_MANY_MARK = '\u0001hubcap-cli-many';

/** Datapath lookups of one run, by backend (policy map lookups, ipcache view lookups). */
export interface LookupCounts {
  tsPolicy: number;
  tsIpcache: number;
  nativePolicy: number;
  nativeIpcache: number;
  /** Packets the native fast path finished (src/datapath/fast-path.ts), not a lookup count. */
  fastPathPackets: number;
}

export interface ManyResult {
  status: number;
  stdout: string;
  stderr: string;
  lookups: LookupCounts;
}

const CHILD = join(import.meta.dirname, 'cli-many-child.ts');

/** Splits a stream at the marker lines: the text of each run, by index. */
function frames(text: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const begin = `${CLI_MANY_MARK} begin ${i}\n`;
    const at = text.indexOf(begin);
    const end = text.indexOf(`${CLI_MANY_MARK} end ${i}`, at);
    if (at < 0 || end < 0) throw new Error(`cli-many: run ${i} has no frame (the child stopped early?)`);
    out.push(text.slice(at + begin.length, end));
  }
  return out;
}

/**
 * Runs every argument vector through the CLI in one child, in order; `env` adds to the
 * environment. Asynchronous, so that several children can run side by side.
 */
export async function runMany(runs: string[][], env: Record<string, string> = {}): Promise<ManyResult[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(runs)], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const out = Buffer.concat(stdout).toString('utf8');
  const err = Buffer.concat(stderr).toString('utf8');
  if (code !== 0) throw new Error(`cli-many child exited ${String(code)}: ${err}`);
  const outs = frames(out, runs.length);
  const errs = frames(err, runs.length);
  return runs.map((_, i) => {
    const m = new RegExp(`${CLI_MANY_MARK} end ${i} (-?\\d+) (\\{.*\\})\\n`).exec(out);
    if (!m) throw new Error(`cli-many: run ${i} has no status`);
    return { status: Number(m[1]), stdout: outs[i]!, stderr: errs[i]!, lookups: JSON.parse(m[2]!) as LookupCounts };
  });
}
