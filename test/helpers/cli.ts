/** Runs the real `hubcap` binary (bin/hubcap.js: dist/ when built, else the sources via tsx). */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runHubcap(args: string[], input?: string): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/hubcap.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    input,
    maxBuffer: 1 << 28,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
