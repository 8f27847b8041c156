/**
 * The capture push parser: bytes in (any chunking), frames out, no I/O.
 *
 * Mirrors: libpcap's sf-pcap.c (classic pcap: magic, byte order, record headers, the
 * MAXIMUM_SNAPLEN check) and Wireshark's wiretap/pcapng.c (block walk, byte order per section,
 * interface table per section, if_tsresol / if_tsoffset, SPB captured length). Deliberate
 * differences:
 *  - records are never copied when they lie inside the pushed chunk: the Frame points into it.
 *    Only a record cut by a chunk boundary is copied, into one of two reusable carry buffers, so
 *    memory is the chunk plus at most two records (MAX_RECORD_BYTES), whatever the file size;
 *  - a file that ends inside its last record is not an error: every whole record before it is
 *    delivered and CaptureStats carries a warning (tcpdump prints "truncated dump file" and
 *    Wireshark "cut short in the middle of a packet" and both keep the packets before it);
 *  - anything else that cannot be a valid capture (bad magic, impossible lengths, mismatched
 *    block lengths, a packet for an interface that was never described) is a CaptureError
 *    naming the file and the byte offset of the offending header.
 *
 * Contract for the sink: the Frame object is valid only during the call (see frame.ts); the
 * bytes it points to stay as they are until `push` returns (a sink may keep the frames' places
 * and read them when push is done: the native fast path decides frames in batches). That is
 * why a record completed from the carry buffer is never overwritten by the partial record the
 * same push leaves: the two carry buffers alternate.
 */
import { CaptureError } from '../errors.js';
import { Frame, type CaptureStats, type FrameSink, type PcapRecordLayout, type PcapRecordSink, type RecordsTaken } from './frame.js';
import {
  BlockType,
  IdbOption,
  MAX_CAPLEN as MAX_CAPLENBinding,
  MAX_RECORD_BYTES,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_MIN_BLOCK_LEN,
  PCAPNG_SHB,
  PCAPNG_SHB_MIN_LEN,
  PCAP_FILE_HEADER_LEN,
  PCAP_KUZNETZOV_RECORD_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  PcapMagic,
  pad4,
} from './format.js';
import { TimestampUnit } from './timestamp.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const MAX_CAPLEN = MAX_CAPLENBinding;

export interface ReaderOptions {
  /**
   * Bytes per read from the source. The parser itself accepts chunks of any size.
   * @default 1 MiB (DEFAULT_CHUNK_SIZE)
   */
  chunkSize?: number;
}

/**
 * 1 MiB: on the benchmark file (bench/capture/read.ts) 256 KiB, 1 MiB and 4 MiB reads run
 * within a few percent of each other; 1 MiB is the smallest at the top and keeps two read
 * buffers (double buffering) at 2 MiB.
 */
export const DEFAULT_CHUNK_SIZE = 1 << 20;

const Mode = { HEADER: 0, PCAP: 1, PCAPNG: 2 } as const;

const NS_PER_US = 1000;
const US_PER_SEC = 1_000_000;
const NS_PER_SEC = 1_000_000_000;
const TWO32 = 4294967296;
const INITIAL_CARRY = 64 * 1024;
/**
 * pcapng times (64-bit units, if_tsresol, a signed if_tsoffset) can land anywhere; flows print
 * them as RFC 3339 (Hubble's protobuf Timestamp: years 0001..9999), so a time outside that is a
 * corrupt block, not a time to print: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
 */
const MIN_TS_SEC = -62135596800;
const MAX_TS_SEC = 253402300799;

function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

export class CaptureParser {
  readonly name: string;
  readonly chunkSize: number;

  private mode: number = Mode.HEADER;
  /** Byte order of the classic pcap file or of the current pcapng section. */
  private le = true;

  // --- classic pcap
  private nano = false;
  private recordHeaderLen = PCAP_RECORD_HEADER_LEN;
  private linkType = 0;
  /** Takes classic pcap records in bulk before the per-frame loop (takeRecordsWith). */
  private records: PcapRecordSink | undefined = undefined;
  private readonly layout: PcapRecordLayout = { littleEndian: true, nano: false, recordHeaderLen: PCAP_RECORD_HEADER_LEN, linkType: 0 };
  private readonly taken: RecordsTaken = { frames: 0, bytes: 0 };

  // --- pcapng: the interface table of the current section. Interface ids are per section, as
  // the spec defines them and as tshark 4.0 prints frame.interface_id.
  private sawShb = false;
  private ifCount = 0;
  private readonly ifLinkType: number[] = [];
  private readonly ifSnaplen: number[] = [];
  private readonly ifUnit: TimestampUnit[] = [];

  // --- carried partial record (copied out of the previous chunk)
  private carry: Uint8Array = new Uint8Array(0);
  /** The other carry buffer: the next partial record goes there (see the module comment). */
  private spareCarry: Uint8Array = new Uint8Array(0);
  private carryLen = 0;
  /** Bytes the carried record needs in total (header size until its length is known). */
  private carryNeed = 0;

  // --- a large block of a type hubcap ignores, streaming past without being buffered
  private skipping = false;
  private skipRemaining = 0;
  private skipBlockLen = 0;
  private skipBlockStart = 0;
  private readonly trailer = new Uint8Array(4);
  private readonly trailerView = new DataView(this.trailer.buffer);
  private trailerGot = 0;

  /** Absolute source offset of the next byte not yet consumed (= start of the next record). */
  private fileOffset = 0;
  private frames = 0;
  private bytes = 0;
  private failed: unknown = undefined;
  private ended = false;

  private readonly frame = new Frame();
  private dvBuf: Uint8Array | undefined = undefined;
  private dv: DataView = new DataView(new ArrayBuffer(0));

  constructor(name: string, options: ReaderOptions = {}) {
    this.name = name;
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
    this.chunkSize = chunkSize;
  }

  /** Bytes held between pushes: the carried partial record (never more than MAX_RECORD_BYTES). */
  get bufferedBytes(): number {
    return this.carryLen + (this.skipping ? this.trailerGot : 0);
  }

  /** Offers every run of whole classic pcap records to `records` first (frame.ts PcapRecordSink). */
  takeRecordsWith(records: PcapRecordSink): void {
    this.records = records;
  }

  /**
   * Parses everything whole in `chunk` and calls `sink` once per frame. The chunk may be reused
   * by the caller after push returns; the partial record at its end, if any, is copied.
   */
  push(chunk: Uint8Array, sink: FrameSink): void {
    if (this.failed !== undefined) throw this.failed;
    if (this.ended) throw new Error('CaptureParser.push() after end()');
    // Frames point into the chunk; make it a plain Uint8Array so that a consumer's
    // `frame.data.slice()` copies (Buffer#slice would return a view of a reused buffer).
    if (Object.getPrototypeOf(chunk) !== Uint8Array.prototype) {
      chunk = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    try {
      this.pushChunk(chunk, sink);
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }

  /** Ends the input: returns the totals, or throws CaptureError when the header never completed. */
  end(): CaptureStats {
    if (this.failed !== undefined) throw this.failed;
    this.ended = true;
    const warnings: string[] = [];
    let truncatedTail = false;
    const headerDone = this.mode === Mode.PCAP || (this.mode === Mode.PCAPNG && this.sawShb);
    if (!headerDone) {
      const have = this.fileOffset + this.carryLen;
      const err =
        have === 0
          ? new CaptureError(this.name, 0, 'empty file: not a pcap or pcapng capture')
          : this.mode === Mode.PCAPNG
            ? new CaptureError(this.name, 0, `file ends inside the pcapng section header block (${have} bytes)`)
            : new CaptureError(this.name, 0, `file too short for a capture file header (${have} bytes)`);
      this.failed = err;
      throw err;
    }
    if (this.skipping) {
      truncatedTail = true;
      const have = this.fileOffset - this.skipBlockStart;
      warnings.push(
        `${this.name}: byte ${this.skipBlockStart}: capture ends inside its last block (${have} of ${this.skipBlockLen} bytes); ignored it`,
      );
    } else if (this.carryLen > 0) {
      truncatedTail = true;
      const what = this.mode === Mode.PCAP ? 'record' : 'block';
      const need = this.carryNeed > this.carryLen ? ` of ${this.carryNeed}` : '';
      warnings.push(
        `${this.name}: byte ${this.fileOffset}: capture ends inside its last ${what} (${this.carryLen}${need} bytes); ignored it`,
      );
    }
    return { frames: this.frames, bytes: this.bytes, truncatedTail, warnings };
  }

  // ---------------------------------------------------------------------------------------

  private pushChunk(chunk: Uint8Array, sink: FrameSink): void {
    const n = chunk.length;
    let pos = 0;
    for (;;) {
      if (this.skipping) {
        pos = this.skip(chunk, pos, n);
        if (this.skipping) return; // the chunk went into the skipped block
      }
      if (this.carryLen > 0) {
        // Complete the carried record from the front of the chunk: first up to its header,
        // then (once its length is known) up to its end.
        const need = this.need(this.carry, 0, this.carryLen);
        this.carryNeed = need;
        // need < carryLen when a huge skipped block turns out to need only its head.
        const take = Math.max(0, Math.min(need - this.carryLen, n - pos));
        this.ensureCarry(this.carryLen + take);
        this.carry.set(chunk.subarray(pos, pos + take), this.carryLen);
        this.carryLen += take;
        pos += take;
        if (this.carryLen < need) {
          if (pos >= n) return;
          continue; // the header is complete now; ask again how long the record is
        }
        const used = this.run(this.carry, 0, this.carryLen, sink);
        if (this.skipping) this.skip(this.carry, used, this.carryLen);
        else if (used === 0) continue; // header parsed without consuming (pcapng mode switch)
        this.carryLen = 0;
        this.carryNeed = 0;
        continue;
      }
      pos = this.run(chunk, pos, n, sink);
      if (this.skipping) continue;
      if (pos < n) {
        const rest = n - pos;
        // A record this push completed from the carry buffer may still be read by the sink.
        const spare = this.spareCarry;
        this.spareCarry = this.carry;
        this.carry = spare;
        this.ensureCarry(rest);
        this.carry.set(chunk.subarray(pos, n), 0);
        this.carryLen = rest;
        this.carryNeed = this.need(this.carry, 0, rest);
      }
      return;
    }
  }

  private ensureCarry(size: number): void {
    if (size <= this.carry.length) return;
    let cap = Math.max(INITIAL_CARRY, this.carry.length * 2);
    while (cap < size) cap *= 2;
    const next = new Uint8Array(Math.min(Math.max(cap, size), MAX_RECORD_BYTES));
    next.set(this.carry.subarray(0, this.carryLen));
    this.carry = next;
  }

  private view(buf: Uint8Array): DataView {
    if (buf !== this.dvBuf) {
      this.dvBuf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    return this.dv;
  }

  private fail(offset: number, reason: string): never {
    throw new CaptureError(this.name, offset, reason);
  }

  /**
   * How many bytes, starting at buf[pos], the next record needs before run() can consume it:
   * the header size while the header is incomplete, then the whole record. Validates the
   * header (throws) as soon as it is complete.
   */
  private need(buf: Uint8Array, pos: number, avail: number): number {
    const dv = this.view(buf);
    switch (this.mode) {
      case Mode.HEADER: {
        if (avail < 4) return 4;
        const magic = dv.getUint32(pos, false);
        if (magic === PCAPNG_SHB) return this.needBlock(dv, pos, avail);
        return PCAP_FILE_HEADER_LEN;
      }
      case Mode.PCAP: {
        const hdr = this.recordHeaderLen;
        if (avail < hdr) return hdr;
        return hdr + this.checkCaplen(dv.getUint32(pos + 8, this.le), this.fileOffset);
      }
      default:
        return this.needBlock(dv, pos, avail);
    }
  }

  private needBlock(dv: DataView, pos: number, avail: number): number {
    if (avail < PCAPNG_MIN_BLOCK_LEN) return PCAPNG_MIN_BLOCK_LEN;
    const type = this.blockType(dv, pos);
    const len = this.blockLength(dv, pos, type);
    if (len <= MAX_RECORD_BYTES) return len;
    // A huge block of a type hubcap does not need: only its head is buffered, the rest skipped.
    return type === PCAPNG_SHB ? 16 : 8;
  }

  /** Reads a block's type; for an SHB also sets the section's byte order from its magic. */
  private blockType(dv: DataView, pos: number): number {
    const type = dv.getUint32(pos, this.le);
    if (type === PCAPNG_SHB) {
      const bom = dv.getUint32(pos + 8, false);
      if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.le = false;
      else if (bom === 0x4d3c2b1a) this.le = true;
      else this.fail(this.fileOffset, `bad pcapng byte-order magic ${hex32(bom)} in section header block`);
    }
    return type;
  }

  /** Reads and checks a block's total length (the trailing copy is checked once it is read). */
  private blockLength(dv: DataView, pos: number, type: number): number {
    const len = dv.getUint32(pos + 4, this.le);
    const at = this.fileOffset;
    if (len < PCAPNG_MIN_BLOCK_LEN) this.fail(at, `pcapng block total length ${len} is less than ${PCAPNG_MIN_BLOCK_LEN}`);
    if ((len & 3) !== 0) this.fail(at, `pcapng block total length ${len} is not a multiple of 4`);
    if (type === PCAPNG_SHB && len < PCAPNG_SHB_MIN_LEN) this.fail(at, `section header block length ${len} is less than ${PCAPNG_SHB_MIN_LEN}`);
    if (
      len > MAX_RECORD_BYTES &&
      (type === BlockType.EPB || type === BlockType.SPB || type === BlockType.OPB || type === BlockType.IDB)
    ) {
      this.fail(at, `pcapng block ${hex32(type)} of ${len} bytes exceeds the maximum of ${MAX_RECORD_BYTES}`);
    }
    return len;
  }

  private checkCaplen(caplen: number, at: number): number {
    if (caplen > MAX_CAPLEN) this.fail(at, `record captured length ${caplen} exceeds the maximum of ${MAX_CAPLEN}`);
    return caplen;
  }

  /** Consumes every whole record in buf[pos, end); returns the position of the first byte left. */
  private run(buf: Uint8Array, pos: number, end: number, sink: FrameSink): number {
    if (this.mode === Mode.HEADER) {
      pos = this.runHeader(buf, pos, end);
      if (this.mode === Mode.HEADER) return pos;
    }
    if (this.mode === Mode.PCAP) return this.runPcap(buf, pos, end, sink);
    return this.runPcapng(buf, pos, end, sink);
  }

  /** Detects the format from the magic; consumes the classic pcap file header. */
  private runHeader(buf: Uint8Array, pos: number, end: number): number {
    if (end - pos < 4) return pos;
    const dv = this.view(buf);
    const magic = dv.getUint32(pos, false);
    if (magic === PCAPNG_SHB) {
      this.mode = Mode.PCAPNG;
      return pos;
    }
    let le: boolean;
    let nano = false;
    let recHdr = PCAP_RECORD_HEADER_LEN;
    switch (magic) {
      case PcapMagic.MICRO:
        le = false;
        break;
      case PcapMagic.MICRO_SWAPPED:
        le = true;
        break;
      case PcapMagic.NANO:
        le = false;
        nano = true;
        break;
      case PcapMagic.NANO_SWAPPED:
        le = true;
        nano = true;
        break;
      case PcapMagic.KUZNETZOV:
        le = false;
        recHdr = PCAP_KUZNETZOV_RECORD_HEADER_LEN;
        break;
      case PcapMagic.KUZNETZOV_SWAPPED:
        le = true;
        recHdr = PCAP_KUZNETZOV_RECORD_HEADER_LEN;
        break;
      default: {
        const hint = (magic >>> 16) === 0x1f8b ? ' (gzip-compressed? decompress it first)' : '';
        this.fail(0, `unknown magic ${hex32(magic)}: not a pcap or pcapng capture${hint}`);
      }
    }
    if (end - pos < PCAP_FILE_HEADER_LEN) return pos;
    const major = dv.getUint16(pos + 4, le);
    const minor = dv.getUint16(pos + 6, le);
    if (major !== 2) this.fail(4, `unsupported pcap version ${major}.${minor} (expected 2.4)`);
    // The link-type field carries FCS flags in its top bits (pcap-savefile(5)); the type is the low 16.
    this.linkType = dv.getUint32(pos + 20, le) & 0xffff;
    this.le = le;
    this.nano = nano;
    this.recordHeaderLen = recHdr;
    const layout = this.layout;
    layout.littleEndian = le;
    layout.nano = nano;
    layout.recordHeaderLen = recHdr;
    layout.linkType = this.linkType;
    this.mode = Mode.PCAP;
    this.fileOffset += PCAP_FILE_HEADER_LEN;
    return pos + PCAP_FILE_HEADER_LEN;
  }

  /** Classic pcap records: the hot loop. */
  private runPcap(buf: Uint8Array, pos: number, end: number, sink: FrameSink): number {
    if (this.records !== undefined) {
      const taken = this.taken;
      const at = this.records.takePcapRecords(buf, pos, end, this.layout, this.fileOffset, taken);
      this.frames += taken.frames;
      this.bytes += taken.bytes;
      this.fileOffset += at - pos;
      pos = at;
    }
    const dv = this.view(buf);
    const le = this.le === true;
    const hdr = this.recordHeaderLen;
    const nano = this.nano === true;
    const frame = this.frame;
    frame.data = buf;
    frame.linkType = this.linkType;
    frame.interfaceId = 0;
    while (end - pos >= hdr) {
      const caplen = dv.getUint32(pos + 8, le);
      if (caplen > MAX_CAPLEN) this.checkCaplen(caplen, this.fileOffset);
      const total = hdr + caplen;
      if (end - pos < total) break;
      const sec = dv.getUint32(pos, le);
      const frac = dv.getUint32(pos + 4, le);
      if (nano) {
        if (frac < NS_PER_SEC) {
          frame.tsSec = sec;
          frame.tsNsec = frac;
        } else {
          // Out-of-range fraction (a sloppy writer): carry whole seconds over, as libpcap's
          // readers effectively do when they add it to the seconds.
          const carry = Math.floor(frac / NS_PER_SEC);
          frame.tsSec = sec + carry;
          frame.tsNsec = frac - carry * NS_PER_SEC;
        }
      } else if (frac < US_PER_SEC) {
        frame.tsSec = sec;
        frame.tsNsec = frac * NS_PER_US;
      } else {
        const carry = Math.floor(frac / US_PER_SEC);
        frame.tsSec = sec + carry;
        frame.tsNsec = (frac - carry * US_PER_SEC) * NS_PER_US;
      }
      frame.offset = pos + hdr;
      frame.caplen = caplen;
      frame.length = dv.getUint32(pos + 12, le);
      frame.index = this.frames;
      frame.fileOffset = this.fileOffset;
      this.frames++;
      this.bytes += caplen;
      this.fileOffset += total;
      pos += total;
      sink(frame);
    }
    return pos;
  }

  /** pcapng blocks. */
  private runPcapng(buf: Uint8Array, pos: number, end: number, sink: FrameSink): number {
    const dv = this.view(buf);
    const frame = this.frame;
    frame.data = buf;
    for (;;) {
      const avail = end - pos;
      if (avail < PCAPNG_MIN_BLOCK_LEN) return pos;
      const type = this.blockType(dv, pos);
      const le = this.le === true;
      const len = this.blockLength(dv, pos, type);
      const at = this.fileOffset;
      if (len > avail) {
        if (len <= MAX_RECORD_BYTES) return pos;
        // Huge and of a type hubcap ignores (blockLength refused the others): stream past it.
        if (type === PCAPNG_SHB) {
          if (avail < 16) return pos;
          this.startSection(dv, pos, le);
          this.startSkip(at, len, 16);
          return pos + 16;
        }
        this.startSkip(at, len, 8);
        return pos + 8;
      }
      const trailing = dv.getUint32(pos + len - 4, le);
      if (trailing !== len) this.fail(at, `pcapng block total length mismatch: ${len} at the start, ${trailing} at the end`);

      if (type === BlockType.EPB || type === BlockType.OPB) {
        // EPB: interface id u32; OPB: interface id u16 + drops u16. Then ts high, ts low,
        // captured length, original length, data padded to 32 bits, options.
        if (len < 32) this.fail(at, `packet block length ${len} is less than 32`);
        const ifId = type === BlockType.EPB ? dv.getUint32(pos + 8, le) : dv.getUint16(pos + 8, le);
        if (ifId >= this.ifCount) {
          this.fail(at, `packet block for interface ${ifId}, but the section describes ${this.ifCount} interface${this.ifCount === 1 ? '' : 's'}`);
        }
        const caplen = dv.getUint32(pos + 20, le);
        if (caplen > MAX_CAPLEN) this.checkCaplen(caplen, at);
        if (32 + pad4(caplen) > len) this.fail(at, `packet block captured length ${caplen} overruns its block of ${len} bytes`);
        this.ifUnit[ifId]!.convert(dv.getUint32(pos + 12, le), dv.getUint32(pos + 16, le), frame);
        if (!(frame.tsSec >= MIN_TS_SEC && frame.tsSec <= MAX_TS_SEC)) {
          this.fail(at, `packet time ${frame.tsSec} s since 1970 is outside the years 0001..9999 (interface ${ifId}'s if_tsresol / if_tsoffset)`);
        }
        frame.offset = pos + 28;
        frame.caplen = caplen;
        frame.length = dv.getUint32(pos + 24, le);
        frame.linkType = this.ifLinkType[ifId]!;
        frame.interfaceId = ifId;
        this.emit(frame, at, caplen, sink);
      } else if (type === BlockType.SPB) {
        // Simple Packet Block: original length, then data; interface 0; no timestamp. The
        // captured length is min(original length, interface 0's snaplen, what the block holds).
        if (len < 16) this.fail(at, `simple packet block length ${len} is less than 16`);
        if (this.ifCount === 0) this.fail(at, 'simple packet block, but the section describes no interface');
        const origLen = dv.getUint32(pos + 8, le);
        let caplen = Math.min(origLen, len - 16);
        const snaplen = this.ifSnaplen[0]!;
        if (snaplen > 0 && snaplen < caplen) caplen = snaplen;
        if (caplen > MAX_CAPLEN) this.checkCaplen(caplen, at);
        frame.tsSec = 0;
        frame.tsNsec = 0;
        frame.offset = pos + 12;
        frame.caplen = caplen;
        frame.length = origLen;
        frame.linkType = this.ifLinkType[0]!;
        frame.interfaceId = 0;
        this.emit(frame, at, caplen, sink);
      } else if (type === BlockType.IDB) {
        this.readInterface(dv, pos, len, le, at);
      } else if (type === PCAPNG_SHB) {
        this.startSection(dv, pos, le);
      }
      // Every other block type (NRB, ISB, DSB, custom, unknown) is skipped.
      this.fileOffset += len;
      pos += len;
    }
  }

  private emit(frame: Frame, at: number, caplen: number, sink: FrameSink): void {
    frame.index = this.frames;
    frame.fileOffset = at;
    this.frames++;
    this.bytes += caplen;
    sink(frame);
  }

  /** SHB: checks the version and starts a new interface table (ids are per section). */
  private startSection(dv: DataView, pos: number, le: boolean): void {
    const major = dv.getUint16(pos + 12, le);
    const minor = dv.getUint16(pos + 14, le);
    if (major !== 1) this.fail(this.fileOffset, `unsupported pcapng version ${major}.${minor} (expected 1.0)`);
    this.ifCount = 0;
    this.ifLinkType.length = 0;
    this.ifSnaplen.length = 0;
    this.ifUnit.length = 0;
    this.sawShb = true;
  }

  /** IDB: link type u16, reserved u16, snaplen u32, options (if_tsresol, if_tsoffset). */
  private readInterface(dv: DataView, pos: number, len: number, le: boolean, at: number): void {
    if (len < 20) this.fail(at, `interface description block length ${len} is less than 20`);
    const linkType = dv.getUint16(pos + 8, le);
    const snaplen = dv.getUint32(pos + 12, le);
    let tsresol = 6;
    let offsetSec = 0;
    const optEnd = pos + len - 4;
    let o = pos + 16;
    while (o + 4 <= optEnd) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === IdbOption.END) break;
      const v = o + 4;
      if (v + olen > optEnd) {
        this.fail(at + (o - pos), `interface option ${code} of ${olen} bytes overruns its block`);
      }
      if (code === IdbOption.IF_TSRESOL && olen === 1) {
        tsresol = dv.getUint8(v);
      } else if (code === IdbOption.IF_TSOFFSET && olen === 8) {
        const hi = le ? dv.getInt32(v + 4, true) : dv.getInt32(v, false);
        const lo = le ? dv.getUint32(v, true) : dv.getUint32(v + 4, false);
        offsetSec = hi * TWO32 + lo;
      }
      o = v + pad4(olen);
    }
    this.ifLinkType.push(linkType);
    this.ifSnaplen.push(snaplen);
    this.ifUnit.push(new TimestampUnit(tsresol, offsetSec));
    this.ifCount++;
  }

  private startSkip(at: number, len: number, consumed: number): void {
    this.skipping = true;
    this.skipBlockStart = at;
    this.skipBlockLen = len;
    this.skipRemaining = len - consumed - 4;
    this.trailerGot = 0;
    this.fileOffset += consumed;
  }

  /** Streams past the body of a skipped block, then checks its trailing length. */
  private skip(buf: Uint8Array, pos: number, end: number): number {
    if (this.skipRemaining > 0) {
      const n = Math.min(this.skipRemaining, end - pos);
      this.skipRemaining -= n;
      this.fileOffset += n;
      pos += n;
      if (this.skipRemaining > 0) return pos;
    }
    while (this.trailerGot < 4 && pos < end) {
      this.trailer[this.trailerGot++] = buf[pos++]!;
      this.fileOffset++;
    }
    if (this.trailerGot === 4) {
      const trailing = this.trailerView.getUint32(0, this.le);
      if (trailing !== this.skipBlockLen) {
        this.fail(this.skipBlockStart, `pcapng block total length mismatch: ${this.skipBlockLen} at the start, ${trailing} at the end`);
      }
      this.skipping = false;
    }
    return pos;
  }
}
