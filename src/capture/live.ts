/**
 * Live capture from a network interface through the `cap` package (libpcap), as a CaptureSource
 * like a capture file: `openLive(iface, options).run(sink)` calls sink once per packet until the
 * capture is stopped, then resolves with the totals.
 *
 * Mirrors: `tcpdump -i IFACE [-s SNAPLEN] [-B BUFFER] [-c COUNT] [FILTER]`. cap opens the device
 * with libpcap's pcap_create/pcap_activate in promiscuous and immediate mode and polls its file
 * descriptor on the event loop, so packets arrive as 'packet' events between other callbacks.
 *
 * What cap gives and does not give, and what this module does about it (numbered, the code
 * refers to these):
 *  1. No timestamps: the 'packet' event carries only (nbytes, truncated). Frames carry their
 *     RECEIVE time in this process: a wall-clock anchor taken when the capture opens
 *     (Date.now(), millisecond accuracy) plus process.hrtime.bigint() elapsed since then
 *     (nanosecond resolution). Differences between frames are as precise as the event loop is
 *     prompt; the absolute time is as good as the anchor's millisecond. They are not the kernel's
 *     timestamps, which `tcpdump -w` would record. Reading hrtime.bigint() allocates a BigInt
 *     per packet; cap already allocates its event arguments per packet, so a live capture is not
 *     allocation-free in any case (file replays are).
 *  2. One packet buffer, owned by us: cap copies each packet into the Buffer handed to open()
 *     but keeps only a raw pointer to it. The capture holds that Buffer for as long as it is
 *     open; a collected Buffer would be written after it was freed.
 *  3. No snaplen: cap always asks libpcap for 65,535 bytes. Our buffer has 65,535 bytes, so cap
 *     never cuts a packet and `length` is the true wire length; `snaplen` is applied here
 *     (caplen = min(length, snaplen)), as tcpdump's -s. A packet above 65,535 bytes (GRO, BIG
 *     TCP) is cut by cap, which then reports only that it was cut: such frames have
 *     length = caplen = 65,535 and are counted in a warning.
 *  4. No drop counters: cap does not expose pcap_stats(), so packets the kernel dropped because
 *     the buffer (`bufferSize`) was full are invisible here; the stats count what reached us.
 *     A larger bufferSize is the only defence.
 *  5. cap never uv_close()s its libuv poll handle, not even when it closes the capture, and
 *     deletes the handle's memory when the Cap object is garbage collected: a collected Cap
 *     leaves a dangling entry in libuv's handle queue and corrupts the heap the next time any
 *     handle is created or closed (a failed open() is worse: its destructor stops a handle that
 *     was never initialised). Every Cap object created here is therefore kept in RETAINED for the
 *     life of the process, a few hundred bytes each; the packet buffer is released on stop.
 *  6. libpcap's pcap_lookupnet fails on an interface without an IPv4 address, and cap then prints
 *     "Warning: ... - This may not actually work" on stderr by itself. It is harmless (the
 *     netmask only matters to filters using `ip broadcast`) and cannot be silenced from here.
 *
 * Live frames have interfaceId 0 and fileOffset 0 (there is no file); `index` counts from 0.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { LiveCaptureError } from '../errors.js';
import { Frame, LINK_TYPE_NAMES, LinkType, type CaptureStats, type FrameSink } from './frame.js';
import type { CaptureSource } from './open.js';

export interface LiveCaptureOptions {
  /** A pcap-filter(7) expression, as tcpdump takes it. Default: every packet. */
  filter?: string;
  /** Bytes kept of each packet, 1..65535 (tcpdump -s). @default 65535 */
  snaplen?: number;
  /** libpcap's kernel buffer in bytes (tcpdump -B, in KiB there). @default 4 MiB */
  bufferSize?: number;
  /** Stop after this many frames (tcpdump -c). */
  count?: number;
  /** Stop this many milliseconds after run() starts. */
  durationMs?: number;
  /** Stop when this signal aborts. */
  signal?: AbortSignal;
}

/** The most cap asks libpcap for (its pcap_set_snaplen(65535)); also our buffer size (3). */
export const CAP_MAX_PACKET = 65535;
export const DEFAULT_BUFFER_SIZE = 4 * 1024 * 1024;

/** Linux capability CAP_NET_RAW (include/uapi/linux/capability.h), needed for packet sockets. */
const CAP_NET_RAW = 13;

/** The slice of cap's Cap class this module uses (the package ships no types). */
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): boolean;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): unknown;
  removeAllListeners(event?: string): unknown;
}
interface CapModule {
  Cap: new () => CapHandle;
}

/** Every Cap object ever created in this process, kept from the garbage collector (5). */
const RETAINED: CapHandle[] = [];

/** How many Cap objects this process keeps from the collector (5); for tests and diagnostics. */
export function retainedCapHandles(): number {
  return RETAINED.length;
}

let capModule: CapModule | undefined;

function loadCap(iface: string): CapModule {
  if (capModule) return capModule;
  try {
    const require = createRequire(import.meta.url);
    capModule = require('cap') as CapModule;
    return capModule;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new LiveCaptureError(
      `cannot capture on ${iface}: the cap package is not built against libpcap (install libpcap-dev, then npm rebuild cap): ${reason}`,
    );
  }
}

/**
 * cap's link type names (its pcap_datalink() switch) -> LINKTYPE_* numbers. Other link types
 * come back as "Unknown linktype N" with the DLT number, which equals the LINKTYPE number for
 * every type cap does not name (the two differ only below 104, where DLT_RAW lives).
 */
const CAP_LINK_TYPES: Readonly<Record<string, number>> = {
  NULL: LinkType.NULL,
  ETHERNET: LinkType.ETHERNET,
  RAW: LinkType.RAW,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
  IEEE802_11_RADIO: 127,
};

export function linkTypeFromCap(name: string): number | undefined {
  const known = CAP_LINK_TYPES[name];
  if (known !== undefined) return known;
  const m = /^Unknown linktype (\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** libpcap's error text -> the reason in "cannot capture on IFACE: REASON". */
export function describeOpenError(message: string, filter: string): string {
  const text = message.trim();
  if (/no such device/i.test(text)) return 'no such device';
  if (/permission|not permitted|EPERM/i.test(text)) return 'permission denied (needs root or CAP_NET_RAW)';
  if (/not up|network is down/i.test(text)) return 'interface is down';
  if (filter !== '' && /filter|syntax error|parse/i.test(text)) return `bad filter "${filter}": ${text}`;
  return text;
}

/** Interface names as Linux accepts them (IFNAMSIZ 16 with the NUL, no '/' or whitespace). */
const IFACE_NAME = /^[^/\s\0]{1,15}$/;

/** Checks cap cannot report cleanly on Linux, done before touching it (5). */
function precheck(iface: string): void {
  if (!IFACE_NAME.test(iface) || iface === '.' || iface === '..') {
    throw new LiveCaptureError(`cannot capture on ${JSON.stringify(iface)}: not an interface name`);
  }
  if (process.platform !== 'linux') return;
  // 'any' is libpcap's pseudo-device for every interface of the network namespace.
  if (iface !== 'any' && existsSync('/sys/class/net') && !existsSync(`/sys/class/net/${iface}`)) {
    throw new LiveCaptureError(`cannot capture on ${iface}: no such device`);
  }
  const effective = effectiveCapabilities();
  if (effective !== undefined && (effective & (1n << BigInt(CAP_NET_RAW))) === 0n) {
    throw new LiveCaptureError(`cannot capture on ${iface}: permission denied (needs root or CAP_NET_RAW)`);
  }
}

/** CapEff of this process from /proc/self/status, or undefined when unreadable. */
function effectiveCapabilities(): bigint | undefined {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/im.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? BigInt(`0x${m[1]}`) : undefined;
  } catch {
    return undefined;
  }
}

function checkInteger(iface: string, name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LiveCaptureError(`cannot capture on ${iface}: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

/**
 * Opens `iface` for capture now (so a bad interface, filter or permission fails here, with one
 * line) and returns a source whose run() delivers its packets. Packets that arrive before run()
 * is called are skipped and counted in a warning; call run() right away.
 */
export function openLive(iface: string, options: LiveCaptureOptions = {}): LiveCapture {
  return new LiveCapture(iface, options);
}

export class LiveCapture implements CaptureSource {
  /** The interface name. */
  readonly name: string;
  /** LINKTYPE_* of the frames (frame.ts), from libpcap's pcap_datalink(). */
  readonly linkType: number;

  readonly #cap: CapHandle;
  /** The buffer cap writes into; held while the capture is open (2), dropped on stop. */
  #buffer: Buffer | null;
  readonly #snaplen: number;
  readonly #limit: number;
  readonly #durationMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #frame = new Frame();

  // Wall-clock anchor (1): seconds and nanoseconds at #hr0.
  readonly #anchorSec: number;
  readonly #anchorNsec: number;
  readonly #hr0: bigint;

  #sink: FrameSink | null = null;
  #chunkDone: (() => void) | undefined;
  #open = true;
  #started = false;
  #frames = 0;
  #bytes = 0;
  #skipped = 0;
  #oversize = 0;
  #timer: NodeJS.Timeout | undefined;
  #resolve: ((stats: CaptureStats) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  #failure: { error: unknown } | undefined;
  readonly #onAbort = (): void => this.stop();

  constructor(iface: string, options: LiveCaptureOptions) {
    precheck(iface);
    checkInteger(iface, 'snaplen', options.snaplen, 1, CAP_MAX_PACKET);
    checkInteger(iface, 'bufferSize', options.bufferSize, CAP_MAX_PACKET, 2 ** 31 - 1);
    checkInteger(iface, 'count', options.count, 1, Number.MAX_SAFE_INTEGER);
    checkInteger(iface, 'durationMs', options.durationMs, 1, 2 ** 31 - 1);
    const filter = options.filter ?? '';
    this.name = iface;
    this.#snaplen = options.snaplen ?? CAP_MAX_PACKET;
    this.#limit = options.count ?? 0;
    this.#durationMs = options.durationMs ?? 0;
    this.#signal = options.signal;

    const { Cap } = loadCap(iface);
    const cap = new Cap();
    RETAINED.push(cap); // (5) before open(): a failed open must not be collected either
    const buffer = Buffer.alloc(CAP_MAX_PACKET); // (3)
    let capLinkType: string;
    try {
      capLinkType = cap.open(iface, filter, options.bufferSize ?? DEFAULT_BUFFER_SIZE, buffer);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new LiveCaptureError(`cannot capture on ${iface}: ${describeOpenError(message, filter)}`);
    }
    const linkType = linkTypeFromCap(capLinkType);
    if (linkType === undefined || LINK_TYPE_NAMES[linkType] === undefined) {
      cap.close();
      const shown = linkType === undefined ? capLinkType : `${capLinkType} (${linkType})`;
      throw new LiveCaptureError(`cannot capture on ${iface}: link type ${shown} is not one hubcap decodes`);
    }
    this.#cap = cap;
    this.#buffer = buffer;
    this.linkType = linkType;

    const frame = this.#frame;
    frame.data = buffer;
    frame.offset = 0;
    frame.linkType = linkType;
    frame.interfaceId = 0;
    frame.fileOffset = 0;

    const now = Date.now();
    this.#hr0 = process.hrtime.bigint();
    this.#anchorSec = Math.floor(now / 1000);
    this.#anchorNsec = (now - this.#anchorSec * 1000) * 1_000_000;

    cap.on('packet', (nbytes, truncated) => this.#onPacket(nbytes, truncated));
    if (this.#signal?.aborted) this.stop();
    else this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** True until stop() (or a limit, the signal, a failing sink) ends the capture. */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * Delivers packets to sink until the capture stops, then resolves with the totals. Rejects
   * with whatever the sink throws (the capture stops first). Can be called once.
   */
  run(sink: FrameSink, chunkDone?: () => void): Promise<CaptureStats> {
    if (this.#started) {
      return Promise.reject(new LiveCaptureError(`cannot capture on ${this.name}: run() was already called`));
    }
    this.#started = true;
    if (!this.#open) return Promise.resolve(this.#stats());
    return new Promise<CaptureStats>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#sink = sink;
      this.#chunkDone = chunkDone;
      if (this.#durationMs > 0) this.#timer = setTimeout(() => this.stop(), this.#durationMs);
    });
  }

  /** Stops the capture (idempotent); run() then resolves with the totals. */
  stop(): void {
    if (!this.#open) return;
    this.#open = false;
    // Safe inside a 'packet' callback: cap marks itself closing and releases libpcap after the
    // current dispatch, and never copies another packet into the buffer once close() returned.
    this.#cap.close();
    this.#cap.removeAllListeners('packet');
    this.#buffer = null; // (2) nothing writes to it any more
    this.#frame.data = new Uint8Array(0);
    this.#sink = null;
    this.#chunkDone = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const resolve = this.#resolve;
    const reject = this.#reject;
    this.#resolve = undefined;
    this.#reject = undefined;
    if (this.#failure) reject?.(this.#failure.error);
    else resolve?.(this.#stats());
  }

  #onPacket(nbytes: number, truncated: boolean): void {
    const sink = this.#sink;
    if (sink === null) {
      this.#skipped++;
      return;
    }
    const frame = this.#frame;
    // (1) receive time: anchor + monotonic time elapsed. Below 2^53 ns (104 days) the Number is
    // exact, and anchorNsec + elapsed stays below 2^53 as well.
    const nsec = this.#anchorNsec + Number(process.hrtime.bigint() - this.#hr0);
    const carry = Math.floor(nsec / 1_000_000_000);
    frame.tsSec = this.#anchorSec + carry;
    frame.tsNsec = nsec - carry * 1_000_000_000;
    // (3) our snaplen; cap's own cut only above 65,535 bytes, original length then unknown.
    if (truncated) this.#oversize++;
    frame.length = nbytes;
    frame.caplen = nbytes < this.#snaplen ? nbytes : this.#snaplen;
    frame.index = this.#frames;
    this.#frames++;
    this.#bytes += frame.caplen;
    try {
      sink(frame);
      // The next packet overwrites the buffer this one is in.
      this.#chunkDone?.();
    } catch (err) {
      this.#failure = { error: err };
      this.stop();
      return;
    }
    if (this.#limit > 0 && this.#frames >= this.#limit) this.stop();
  }

  #stats(): CaptureStats {
    const warnings: string[] = [];
    if (this.#skipped > 0) {
      warnings.push(`${this.name}: ${this.#skipped} packets arrived before run() and were skipped`);
    }
    if (this.#oversize > 0) {
      warnings.push(
        `${this.name}: ${this.#oversize} packets were longer than ${CAP_MAX_PACKET} bytes; cap cut them and their original length is unknown`,
      );
    }
    return { frames: this.#frames, bytes: this.#bytes, truncatedTail: false, warnings };
  }
}
