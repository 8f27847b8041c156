/**
 * Synchronous writes to a file descriptor that may be a non-blocking pipe (stdout or stderr read
 * by a slow consumer): there `writeSync` throws EAGAIN instead of blocking, so the write waits a
 * millisecond and is tried again rather than failing or spinning. Used by the pcap writers and
 * the CLI's line output.
 */
import { writeSync } from 'node:fs';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** One write of `bytes[from..]`: the bytes written, or 0 after waiting 1 ms on EAGAIN. Other errors throw. */
export function writeSomeSync(fd: number, bytes: Uint8Array, from: number): number {
  try {
    return writeSync(fd, bytes, from, bytes.length - from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
      Atomics.wait(sleepCell, 0, 0, 1);
      return 0;
    }
    throw err;
  }
}

/** Writes all of `bytes` (retrying partial writes and EAGAIN). Other errors throw. */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length; ) off += writeSomeSync(fd, bytes, off);
}
