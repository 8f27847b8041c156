/**
 * Classic pcap writer: buffered, to a file path, an open fd, or memory.
 *
 * Mirrors: libpcap's sf-pcap.c pcap_dump_open / pcap_dump (file header: magic, version 2.4,
 * thiszone 0, sigfigs 0, snaplen, link type; record header: seconds, micro- or nanoseconds,
 * captured length, original length). Packets longer than the snaplen are cut to it with their
 * original length kept, as `tcpdump -s SNAPLEN -w` does.
 *
 * Used by tests, recorded samples and the "enforced output" capture. Writes are synchronous
 * (fs.writeSync of whole buffers): one syscall per `bufferSize` bytes, no promise per packet.
 */
import { closeSync, openSync } from 'node:fs';
import { CaptureError } from '../errors.js';
import { type Frame, LinkType } from './frame.js';
import { MAX_CAPLEN, PCAP_FILE_HEADER_LEN, PCAP_RECORD_HEADER_LEN, PcapMagic } from './format.js';
import { writeSomeSync } from './write-sync.js';

export interface PcapWriterOptions {
  /** LINKTYPE_* of every record. @default LinkType.ETHERNET (1) */
  linkType?: number;
  /** Longer packets are cut to this many bytes. @default 262144 (MAX_CAPLEN) */
  snaplen?: number;
  /** Write the nanosecond magic (a1b23c4d) and nanosecond fractions. @default false */
  nanosecond?: boolean;
  /** Write big-endian (as a SPARC or s390x tcpdump would). @default false */
  bigEndian?: boolean;
  /** Bytes buffered before a write. @default 1 MiB */
  bufferSize?: number;
}

/** One packet to write; timestamps default to 0, `length` (on the wire) to the data length. */
export interface PcapPacket {
  data: Uint8Array;
  tsSec?: number;
  tsNsec?: number;
  length?: number;
}

const DEFAULT_BUFFER = 1 << 20;

/** Encodes pcap into a buffer and hands full buffers to `flushTo`. */
export class PcapEncoder {
  readonly linkType: number;
  readonly snaplen: number;
  readonly nanosecond: boolean;
  readonly bigEndian: boolean;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;
  private count = 0;
  private written = 0;
  private readonly flushTo: (bytes: Uint8Array) => void;

  constructor(options: PcapWriterOptions, flushTo: (bytes: Uint8Array) => void) {
    this.linkType = options.linkType ?? LinkType.ETHERNET;
    this.snaplen = options.snaplen ?? MAX_CAPLEN;
    if (!Number.isInteger(this.snaplen) || this.snaplen < 1 || this.snaplen > MAX_CAPLEN) {
      throw new RangeError(`snaplen must be 1..${MAX_CAPLEN}, got ${this.snaplen}`);
    }
    this.nanosecond = options.nanosecond ?? false;
    this.bigEndian = options.bigEndian ?? false;
    this.flushTo = flushTo;
    const size = Math.max(options.bufferSize ?? DEFAULT_BUFFER, PCAP_RECORD_HEADER_LEN + this.snaplen);
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
    const le = !this.bigEndian;
    const dv = this.dv;
    dv.setUint32(0, this.nanosecond ? PcapMagic.NANO : PcapMagic.MICRO, le);
    dv.setUint16(4, 2, le);
    dv.setUint16(6, 4, le);
    dv.setInt32(8, 0, le); // thiszone: always 0 in practice (libpcap ignores it)
    dv.setUint32(12, 0, le); // sigfigs
    dv.setUint32(16, this.snaplen, le);
    dv.setUint32(20, this.linkType, le);
    this.used = PCAP_FILE_HEADER_LEN;
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /** Bytes produced so far (file header included), flushed or not. */
  get bytes(): number {
    return this.written + this.used;
  }

  /** Appends one record; `data[offset, offset + caplen)` holds the packet. */
  writeRecord(data: Uint8Array, offset: number, caplen: number, length: number, tsSec: number, tsNsec: number): void {
    if (caplen > data.length - offset) caplen = Math.max(0, data.length - offset);
    if (caplen > this.snaplen) caplen = this.snaplen;
    const total = PCAP_RECORD_HEADER_LEN + caplen;
    if (this.used + total > this.buf.length) this.flush();
    const le = !this.bigEndian;
    const dv = this.dv;
    const at = this.used;
    dv.setUint32(at, tsSec >>> 0, le);
    dv.setUint32(at + 4, this.nanosecond ? tsNsec >>> 0 : Math.floor(tsNsec / 1000), le);
    dv.setUint32(at + 8, caplen, le);
    dv.setUint32(at + 12, Math.max(length, caplen) >>> 0, le);
    this.buf.set(data.subarray(offset, offset + caplen), at + PCAP_RECORD_HEADER_LEN);
    this.used = at + total;
    this.count++;
  }

  writePacket(p: PcapPacket): void {
    this.writeRecord(p.data, 0, p.data.length, p.length ?? p.data.length, p.tsSec ?? 0, p.tsNsec ?? 0);
  }

  /** Copies a reader's frame (data, lengths, timestamp). */
  writeFrame(f: Frame): void {
    this.writeRecord(f.data, f.offset, f.caplen, f.length, f.tsSec, f.tsNsec);
  }

  flush(): void {
    if (this.used === 0) return;
    // The consumer must be done with the bytes when flushTo returns (the buffer is reused).
    this.flushTo(this.buf.subarray(0, this.used));
    this.written += this.used;
    this.used = 0;
  }
}

/** A pcap file being written. Call close() (or flush()) to get the tail onto disk. */
export class PcapWriter extends PcapEncoder {
  readonly name: string;
  private fd: number;
  private readonly ownsFd: boolean;

  /** `target`: a path (created or truncated) or an fd opened for writing (left open by close()). */
  constructor(target: string | number, options: PcapWriterOptions = {}) {
    const name = typeof target === 'number' ? `fd ${target}` : target;
    let fd: number;
    if (typeof target === 'number') {
      fd = target;
    } else {
      try {
        fd = openSync(target, 'w');
      } catch (err) {
        throw new CaptureError(name, 0, `cannot create: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
    let offset = 0;
    super(options, (bytes) => {
      writeFully(name, fd, bytes, offset);
      offset += bytes.length;
    });
    this.name = name;
    this.fd = fd;
    this.ownsFd = typeof target !== 'number';
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.flush();
    } finally {
      if (this.ownsFd) closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Encodes packets into an in-memory pcap file (tests, fixtures). */
export function encodePcap(packets: Iterable<PcapPacket>, options: PcapWriterOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const enc = new PcapEncoder(options, (bytes) => parts.push(bytes.slice()));
  for (const p of packets) enc.writePacket(p);
  enc.flush();
  let n = 0;
  for (const part of parts) n += part.length;
  // A plain Uint8Array, not a Buffer: callers slice it and expect copies.
  const out = new Uint8Array(n);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function writeFully(name: string, fd: number, bytes: Uint8Array, fileOffset: number): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSomeSync(fd, bytes, off);
    } catch (err) {
      throw new CaptureError(name, fileOffset + off, `write failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
}
