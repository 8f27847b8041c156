/**
 * Writes to a non-blocking pipe whose reader is slow: writeAllSync waits out EAGAIN and delivers
 * every byte in order (a full pipe makes writeSync throw EAGAIN instead of blocking).
 */
import { spawn } from 'node:child_process';
import { expect, test } from 'vitest';

test('writeAllSync delivers every byte through a full non-blocking pipe', async () => {
  // The child writes 4 MiB to its stdout (a pipe, made non-blocking by Node's stream setup when
  // the parent reads it lazily); the parent pauses before reading so the pipe fills.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import { writeAllSync } from ${JSON.stringify(new URL('../../src/capture/write-sync.ts', import.meta.url).pathname)};
       process.stdout._handle?.setBlocking?.(false);
       const block = Buffer.alloc(1 << 20);
       for (let i = 0; i < 4; i++) { block.fill(65 + i); writeAllSync(1, block); }`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  child.stdout.pause();
  await new Promise((r) => setTimeout(r, 300));
  const chunks: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stdout.resume();
  const code = await new Promise<number | null>((r) => child.on('close', r));
  expect(code).toBe(0);
  const all = Buffer.concat(chunks);
  expect(all.length).toBe(4 << 20);
  for (let i = 0; i < 4; i++) {
    const part = all.subarray(i << 20, (i + 1) << 20);
    expect(part.every((b) => b === 65 + i)).toBe(true);
  }
}, 30_000);
