/**
 * Child process for test/capture/stdin.test.ts: reads the capture on stdin ('-') and prints one
 * JSON line with the frames' timestamps and lengths and the stats; a CaptureError becomes one
 * line on stderr and exit status 2, as the CLI does.
 */
import { isHubcapError } from '../../src/errors.js';
import { openCapture } from '../../src/capture/open.js';

const frames: Array<[number, number, number, number]> = [];
try {
  const stats = await openCapture('-').run((f) => {
    frames.push([f.tsSec, f.tsNsec, f.caplen, f.length]);
  });
  process.stdout.write(`${JSON.stringify({ frames, stats })}\n`);
} catch (err) {
  if (!isHubcapError(err)) throw err;
  process.stderr.write(`hubcap: ${err.message}\n`);
  process.exitCode = 2;
}
