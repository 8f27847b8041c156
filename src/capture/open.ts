/**
 * Capture sources: a file path or '-' (stdin) streamed through CaptureParser.
 *
 * Mirrors: what `tcpdump -r FILE` / `tcpdump -r -` accept (pcap in either byte order, micro or
 * nanosecond magic, pcapng), detected by the magic as libpcap's pcap_open_offline does.
 *
 * Regular files are read with two preallocated buffers of `chunkSize` bytes: while the parser
 * walks one, the next read fills the other (double buffering), so memory is two chunks plus the
 * parser's carry buffer whatever the file size. Pipes, FIFOs and stdin are read as streams.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { CaptureError } from '../errors.js';
import type { CaptureStats, Frame, FrameSink, PcapRecordSink } from './frame.js';
import { CaptureParser, type ReaderOptions } from './parser.js';

export { CaptureParser, DEFAULT_CHUNK_SIZE, type ReaderOptions } from './parser.js';

export interface CaptureSource {
  /** File path or '-' (used in error messages). */
  readonly name: string;
  /**
   * Streams the whole source, calling sink once per frame (the Frame object is reused; see
   * frame.ts), and `chunkDone`, when given, whenever the bytes of the frames delivered so far
   * stop being valid (after each chunk: the reader reuses its buffer next; until then they stay
   * as they are). Rejects with CaptureError on a
   * capture that cannot be read. `records`, when given, takes whole classic pcap records in
   * bulk where the source has them (files and streams; frame.ts PcapRecordSink); the rest still
   * go to `sink`.
   */
  run(sink: FrameSink, chunkDone?: () => void, records?: PcapRecordSink): Promise<CaptureStats>;
}

/** Opens a capture file, or stdin for '-'; pcap vs pcapng is detected by the magic. */
export function openCapture(path: string, options: ReaderOptions = {}): CaptureSource {
  if (path === '-') {
    // Reading a capture from a terminal would wait forever for bytes nobody will type.
    if (process.stdin.isTTY) {
      return { name: '-', run: () => Promise.reject(new CaptureError('-', 0, 'stdin is a terminal; pipe a capture into it or name a file')) };
    }
    return openCaptureStream('-', process.stdin, options);
  }
  return new FileCaptureSource(path, options);
}

/** A capture arriving on any byte stream (stdin, a socket, a child's stdout). */
export function openCaptureStream(
  name: string,
  stream: AsyncIterable<Uint8Array | string>,
  options: ReaderOptions = {},
): CaptureSource {
  return {
    name,
    async run(sink: FrameSink, chunkDone?: () => void, records?: PcapRecordSink): Promise<CaptureStats> {
      const parser = new CaptureParser(name, options);
      if (records !== undefined) parser.takeRecordsWith(records);
      let offset = 0;
      try {
        for await (const chunk of stream) {
          if (typeof chunk === 'string') throw new CaptureError(name, offset, 'stream delivers text, not bytes');
          offset += chunk.length;
          parser.push(chunk, sink);
          chunkDone?.();
        }
      } catch (err) {
        if (err instanceof CaptureError) throw err;
        // Our own errors pass through; a failing stream becomes one line naming the source.
        if (isErrnoError(err)) throw new CaptureError(name, offset, `read failed: ${err.code ?? err.message}`);
        throw err;
      }
      return parser.end();
    },
  };
}

class FileCaptureSource implements CaptureSource {
  readonly name: string;
  private readonly options: ReaderOptions;

  constructor(path: string, options: ReaderOptions) {
    this.name = path;
    this.options = options;
  }

  async run(sink: FrameSink, chunkDone?: () => void, records?: PcapRecordSink): Promise<CaptureStats> {
    const parser = new CaptureParser(this.name, this.options);
    if (records !== undefined) parser.takeRecordsWith(records);
    let fh: FileHandle;
    try {
      fh = await open(this.name, 'r');
    } catch (err) {
      throw new CaptureError(this.name, 0, `cannot open: ${describeErrno(err)}`);
    }
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new CaptureError(this.name, 0, 'is a directory, not a capture file');
      if (!st.isFile()) {
        // A FIFO or character device: no positioned reads, stream it.
        const source = openCaptureStream(this.name, fh.createReadStream({ highWaterMark: parser.chunkSize, autoClose: false }), this.options);
        return await source.run(sink, chunkDone, records);
      }
      await readDoubleBuffered(fh, parser, sink, chunkDone);
      return parser.end();
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}

async function readDoubleBuffered(fh: FileHandle, parser: CaptureParser, sink: FrameSink, chunkDone: (() => void) | undefined): Promise<void> {
  const size = parser.chunkSize;
  // Plain Uint8Arrays (not Buffers): frames point into them, and Uint8Array#slice copies.
  const bufs = [new Uint8Array(size), new Uint8Array(size)] as const;
  let position = 0;
  let which = 0;
  const read = (buf: Uint8Array, at: number): Promise<number> =>
    fh.read(buf, 0, size, at).then(
      (r) => r.bytesRead,
      (err: unknown) => {
        throw new CaptureError(parser.name, at, `read failed: ${describeErrno(err)}`);
      },
    );
  let pending: Promise<number> | undefined = read(bufs[0], 0);
  try {
    for (;;) {
      const n: number = await pending;
      pending = undefined;
      if (n === 0) return;
      const cur = bufs[which]!;
      position += n;
      which ^= 1;
      // Start the next read before parsing this chunk, so I/O overlaps the parse.
      pending = read(bufs[which]!, position);
      parser.push(n === size ? cur : cur.subarray(0, n), sink);
      chunkDone?.();
    }
  } finally {
    // Never leave a read in flight on a handle about to close (its error is moot now).
    if (pending) await pending.catch(() => 0);
  }
}

function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

function describeErrno(err: unknown): string {
  if (isErrnoError(err)) {
    switch (err.code) {
      case 'ENOENT':
        return 'no such file';
      case 'EACCES':
      case 'EPERM':
        return 'permission denied';
      case 'EISDIR':
        return 'is a directory, not a capture file';
      default:
        return err.code ?? err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** One frame copied out of the reader (tests and tools; not for the hot path). */
export interface CopiedFrame {
  data: Uint8Array;
  caplen: number;
  length: number;
  tsSec: number;
  tsNsec: number;
  linkType: number;
  interfaceId: number;
}

/** Reads a whole capture into memory, copying every frame. */
export async function readAllFrames(path: string): Promise<CopiedFrame[]> {
  const out: CopiedFrame[] = [];
  await openCapture(path).run((f) => out.push(copyFrame(f)));
  return out;
}

export function copyFrame(f: Frame): CopiedFrame {
  return {
    data: f.data.slice(f.offset, f.offset + f.caplen),
    caplen: f.caplen,
    length: f.length,
    tsSec: f.tsSec,
    tsNsec: f.tsNsec,
    linkType: f.linkType,
    interfaceId: f.interfaceId,
  };
}
