/**
 * Child process for test/e2e/backends.test.ts: runs many `hubcap` command lines through the CLI's
 * own entry point (src/cli/main.ts `main`, what bin/hubcap.js calls) in one process, so a
 * differential suite pays Node's and tsx's start-up once instead of once per replay.
 *
 * argv[2] is a JSON array of argument vectors. Each run's stdout and stderr are framed by marker
 * lines (cli-many.ts CLI_MANY_MARK) on both streams; the end marker on stdout carries the exit status and how
 * many lookups went to each backend's maps during the run (counted by wrapping the lookup methods
 * of both backends' classes), so the parent can tell which backend really ran.
 */
import { writeSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { FastPath } from '../../src/datapath/fast-path.js';
import { IpcacheView } from '../../src/maps/ipcache.js';
import { NativeIpcacheView, NativePolicyMap } from '../../src/maps/native.js';
import { PolicyMap } from '../../src/maps/policy-map.js';
import { CLI_MANY_MARK, type LookupCounts } from './cli-many.js';

const counts: LookupCounts = { tsPolicy: 0, tsIpcache: 0, nativePolicy: 0, nativeIpcache: 0, fastPathPackets: 0 };

/** Wraps `proto[name]` so every call also bumps `counts[key]`. */
function count(proto: object, name: string, key: keyof LookupCounts): void {
  const p = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = p[name]!;
  p[name] = function (this: unknown, ...args: unknown[]): unknown {
    counts[key]++;
    return original.apply(this, args);
  };
}

// The lookups the datapath makes (program.ts policy(), state.ts identityOf()).
count(PolicyMap.prototype, 'lookup', 'tsPolicy');
count(IpcacheView.prototype, 'lookup4', 'tsIpcache');
count(IpcacheView.prototype, 'lookup', 'tsIpcache');
count(NativePolicyMap.prototype, 'lookup', 'nativePolicy');
count(NativeIpcacheView.prototype, 'lookup4', 'nativeIpcache');
count(NativeIpcacheView.prototype, 'lookup', 'nativeIpcache');

// The packets the fast path finished, added up when a replay ends (FastPath.finish).
const fastPath = FastPath.prototype as unknown as { finish(this: FastPath): void };
const finish = fastPath.finish;
fastPath.finish = function (this: FastPath): void {
  counts.fastPathPackets += this.finished;
  finish.call(this);
};

/** writeSync, retried while the pipe is full (the parent reads asynchronously). */
function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let at = 0;
  while (at < bytes.length) {
    try {
      at += writeSync(fd, bytes, at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

const runs = JSON.parse(process.argv[2] ?? '[]') as string[][];
for (let i = 0; i < runs.length; i++) {
  for (const k of Object.keys(counts) as Array<keyof LookupCounts>) counts[k] = 0;
  writeAll(1, `${CLI_MANY_MARK} begin ${i}\n`);
  writeAll(2, `${CLI_MANY_MARK} begin ${i}\n`);
  const status = await main(runs[i]!);
  writeAll(1, `${CLI_MANY_MARK} end ${i} ${status} ${JSON.stringify(counts)}\n`);
  writeAll(2, `${CLI_MANY_MARK} end ${i}\n`);
}
