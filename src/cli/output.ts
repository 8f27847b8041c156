/**
 * Buffered writing to stdout for millions of lines: strings are joined into ~64 KiB blocks and
 * written synchronously (stdout is synchronous for files and pipes on Linux), so output keeps
 * up with the pipeline and a closed pipe (`| head`) ends the program quietly instead of throwing.
 */
import { writeSomeSync, writeAllSync } from '../capture/write-sync.js';

const FLUSH_AT = 64 * 1024;

export class LineWriter {
  private parts: string[] = [];
  private size = 0;
  private closed = false;

  constructor(private readonly fd: number = 1) {}

  line(text: string): void {
    if (this.closed) return;
    this.parts.push(text, '\n');
    this.size += text.length + 1;
    if (this.size >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0 || this.closed) return;
    const block = Buffer.from(this.parts.join(''));
    this.parts = [];
    this.size = 0;
    let written = 0;
    while (written < block.length) {
      try {
        written += writeSomeSync(this.fd, block, written);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') {
          this.closed = true;
          return;
        }
        throw err;
      }
    }
  }

  /** True once the reader went away (EPIPE); producers may stop early. */
  get isClosed(): boolean {
    return this.closed;
  }
}

/** One line on stderr, unbuffered (warnings and notes). */
export function warn(text: string): void {
  try {
    // A non-blocking stderr pipe answers EAGAIN when full: the line waits instead of vanishing.
    writeAllSync(2, Buffer.from(`hubcap: ${text}\n`));
  } catch {
    // stderr gone (EPIPE, closed): nothing sensible left to do.
  }
}
