/**
 * A small pcapng writer for tests: both byte orders, several sections, several IDBs with
 * if_tsresol / if_tsoffset, EPB, SPB, OPB, unknown blocks, and raw bytes for corrupt files.
 *
 * Mirrors: the block layouts of the pcapng spec (draft-ietf-opsawg-pcapng §4). Timestamps are
 * BigInt counts of the interface's units here: this is test code, where clarity beats speed.
 */

export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

export interface InterfaceSpec {
  linkType: number;
  snaplen?: number;
  /** Raw if_tsresol byte (MSB set = power of two); omitted = no option (microseconds). */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: bigint;
  /** Extra options written before the timestamp options (if_name, comments, ...). */
  options?: PcapngOption[];
}

export interface EpbSpec {
  iface: number;
  /** Timestamp as a count of the interface's units. */
  ts: bigint;
  data: Uint8Array;
  /** Original length; defaults to data.length. */
  length?: number;
  options?: PcapngOption[];
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

export class PcapngBuilder {
  private readonly parts: Uint8Array[] = [];
  private le = true;
  private ifaces: InterfaceSpec[] = [];

  constructor(options: { bigEndian?: boolean } = {}) {
    this.section({ bigEndian: options.bigEndian ?? false });
  }

  /** Starts a new section (SHB); interface ids restart at 0. */
  section(opts: { bigEndian?: boolean; options?: PcapngOption[]; major?: number } = {}): this {
    this.le = !(opts.bigEndian ?? false);
    this.ifaces = [];
    const body = new Uint8Array(16);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, 0x1a2b3c4d, this.le);
    dv.setUint16(4, opts.major ?? 1, this.le);
    dv.setUint16(6, 0, this.le);
    dv.setBigInt64(8, -1n, this.le); // section length unknown
    return this.block(0x0a0d0d0a, body, opts.options);
  }

  /** Adds an IDB; returns this (the interface id is the count of IDBs in the section so far). */
  iface(spec: InterfaceSpec): this {
    const body = new Uint8Array(8);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, spec.linkType, this.le);
    dv.setUint32(4, spec.snaplen ?? 262144, this.le);
    const opts: PcapngOption[] = [...(spec.options ?? [])];
    if (spec.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(spec.tsresol) });
    if (spec.tsoffset !== undefined) {
      const v = new Uint8Array(8);
      new DataView(v.buffer).setBigInt64(0, spec.tsoffset, this.le);
      opts.push({ code: 14, value: v });
    }
    this.ifaces.push(spec);
    return this.block(1, body, opts);
  }

  epb(spec: EpbSpec): this {
    const head = new Uint8Array(20);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, spec.iface, this.le);
    dv.setUint32(4, Number(spec.ts >> 32n), this.le);
    dv.setUint32(8, Number(spec.ts & 0xffffffffn), this.le);
    dv.setUint32(12, spec.data.length, this.le);
    dv.setUint32(16, spec.length ?? spec.data.length, this.le);
    return this.block(6, concat([head, padded(spec.data)]), spec.options);
  }

  /** Obsolete Packet Block (type 2): 16-bit interface id and drops count. */
  opb(spec: EpbSpec): this {
    const head = new Uint8Array(20);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, spec.iface, this.le);
    dv.setUint16(2, 0, this.le);
    dv.setUint32(4, Number(spec.ts >> 32n), this.le);
    dv.setUint32(8, Number(spec.ts & 0xffffffffn), this.le);
    dv.setUint32(12, spec.data.length, this.le);
    dv.setUint32(16, spec.length ?? spec.data.length, this.le);
    return this.block(2, concat([head, padded(spec.data)]), spec.options);
  }

  /** Simple Packet Block: original length + data (the block holds min(length, snaplen) bytes). */
  spb(data: Uint8Array, length = data.length): this {
    const head = new Uint8Array(4);
    new DataView(head.buffer).setUint32(0, length, this.le);
    return this.block(3, concat([head, padded(data)]));
  }

  /** Any block with a raw body (NRB, ISB, custom, unknown types). */
  block(type: number, body: Uint8Array, options?: PcapngOption[]): this {
    const opt = options && options.length > 0 ? encodeOptions(options, this.le) : new Uint8Array(0);
    const total = 12 + pad4(body.length) + opt.length;
    const out = new Uint8Array(total);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, type, this.le);
    dv.setUint32(4, total, this.le);
    out.set(body, 8);
    out.set(opt, 8 + pad4(body.length));
    dv.setUint32(total - 4, total, this.le);
    this.parts.push(out);
    return this;
  }

  /** Raw bytes, for corrupt files. */
  raw(bytes: Uint8Array): this {
    this.parts.push(bytes);
    return this;
  }

  /** Whether the current section is little-endian (for hand-built corrupt blocks). */
  get littleEndian(): boolean {
    return this.le;
  }

  toBytes(): Uint8Array {
    return concat(this.parts);
  }
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(pad4(data.length));
  out.set(data);
  return out;
}

function encodeOptions(options: PcapngOption[], le: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const o of options) {
    const head = new Uint8Array(4);
    const dv = new DataView(head.buffer);
    dv.setUint16(0, o.code, le);
    dv.setUint16(2, o.value.length, le);
    parts.push(head, padded(o.value));
  }
  parts.push(new Uint8Array(4)); // opt_endofopt
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A text option value (if_name, opt_comment). */
export function textOption(code: number, text: string): PcapngOption {
  return { code, value: new TextEncoder().encode(text) };
}
