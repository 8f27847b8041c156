/**
 * '-' reads the capture from stdin: through a pipe (chunks of whatever size the pipe gives),
 * from a redirected file, and as an in-process stream.
 */
import { spawnSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureError } from '../../src/errors.js';
import { openCaptureStream, readAllFrames } from '../../src/capture/open.js';
import { encodePcap } from '../../src/capture/pcap-writer.js';
import { TCPDUMP_TESTS, makeTempDir, randomPackets } from '../helpers/capture-fixtures.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

const CHILD = join(import.meta.dirname, '../helpers/capture-stdin-child.ts');

function runChild(stdin: Buffer | number): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD], {
    input: typeof stdin === 'number' ? undefined : stdin,
    stdio: [typeof stdin === 'number' ? stdin : 'pipe', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function expected(path: string): Promise<Array<[number, number, number, number]>> {
  return (await readAllFrames(path)).map((f) => [f.tsSec, f.tsNsec, f.caplen, f.length]);
}

describe("'-' reads stdin", () => {
  // Big enough that the pipe delivers it in many chunks, with records cut across them.
  const big = join(tmp.dir, 'big.pcap');
  writeFileSync(big, encodePcap(randomPackets(21, 3000, 40, 1500), { nanosecond: true }));

  it('through a pipe', async () => {
    const r = runChild(readFileSync(big));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { frames: unknown[]; stats: { frames: number; truncatedTail: boolean } };
    expect(out.frames).toEqual(await expected(big));
    expect(out.stats.frames).toBe(3000);
    expect(out.stats.truncatedTail).toBe(false);
  });

  it('from a redirected file (stdin is a regular file)', async () => {
    const path = join(TCPDUMP_TESTS, 'tcp-handshake-nano.pcap');
    const fd = openSync(path, 'r');
    try {
      const r = runChild(fd);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).frames).toEqual(await expected(path));
    } finally {
      closeSync(fd);
    }
  });

  it('garbage on stdin: one line naming -, exit status 2', () => {
    const r = runChild(Buffer.from('this is not a capture at all\n'));
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe("hubcap: -: byte 0: unknown magic 0x74686973: not a pcap or pcapng capture\n");
  });

  it('a truncated capture on stdin is a warning in the stats', () => {
    const bytes = readFileSync(big);
    const r = runChild(bytes.subarray(0, bytes.length - 100));
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { stats: { frames: number; truncatedTail: boolean; warnings: string[] } };
    expect(out.stats.frames).toBe(2999);
    expect(out.stats.truncatedTail).toBe(true);
    expect(out.stats.warnings[0]).toMatch(/^-: byte \d+: capture ends inside its last record/);
  });
});

describe('any byte stream', () => {
  it('reads a capture written into a stream in odd pieces', async () => {
    const bytes = encodePcap(randomPackets(22, 200, 1, 2000));
    const stream = new PassThrough();
    const source = openCaptureStream('piped', stream);
    const seen: number[] = [];
    const done = source.run((f) => seen.push(f.caplen));
    for (let at = 0; at < bytes.length; at += 333) stream.write(bytes.subarray(at, at + 333));
    stream.end();
    const stats = await done;
    expect(stats.frames).toBe(200);
    expect(seen).toEqual(randomPackets(22, 200, 1, 2000).map((p) => p.data.length));
  });

  it('a stream error becomes a CaptureError naming the source', async () => {
    const stream = new PassThrough();
    let gotFrame!: () => void;
    const frameSeen = new Promise<void>((resolve) => (gotFrame = resolve));
    const done = openCaptureStream('piped', stream).run(() => gotFrame());
    stream.write(encodePcap([{ data: new Uint8Array(10) }])); // 24 + 16 + 10 bytes
    await frameSeen;
    stream.destroy(Object.assign(new Error('boom'), { code: 'EPIPE' }));
    const err = await done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CaptureError);
    expect((err as CaptureError).message).toBe('piped: byte 50: read failed: EPIPE');
  });
});
