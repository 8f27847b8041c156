/**
 * TCP reassembly for the L7 proxy stage: turns the captured segments of one direction of a
 * redirected connection into the byte stream Envoy's socket would have read.
 *
 * Mirrors what the kernel's TCP receive path hands a listening proxy (net/ipv4/tcp_input.c
 * `tcp_data_queue`, `tcp_data_queue_ofo`): bytes in sequence order from the initial sequence
 * number, each byte once; segments ahead of the next expected byte wait in an out-of-order
 * queue until the gap fills; bytes already received are dropped (a retransmission, or the old
 * part of an overlapping segment); FIN ends the stream once every byte before it arrived; RST
 * ends it at once and throws away what was waiting. Sequence numbers are 32-bit and wrap.
 *
 * Interface (the datapath owns one reassembler per direction of a redirected connection):
 *
 *   const budget = new ReassemblyBudget(256 * MiB);               // one per proxy (all streams)
 *   const r = new TcpStreamReassembler(budget, maxBytes, sink);    // sink(bytes, off, len, ts)
 *   const res = r.segment(p.tcpSeq, p.tcpFlags, p.data, p.payloadOffset, p.payloadLength, ts);
 *   if (res & SegmentResult.ERROR) report(REASSEMBLY_ERROR_TEXT[r.error]);  // once per stream
 *   if (res & (SegmentResult.END | SegmentResult.RESET)) ...;              // stream is over
 *   r.close();                                                     // connection gone: free memory
 *
 * `sink` is called synchronously, zero or more times per segment, with a VIEW of the bytes: for
 * in-order data (the common case) the packet's own array at its payload offset, no copy and no
 * allocation; for data that waited out of order, the reassembler's copy. A view is valid only
 * during the call (the capture reader reuses its buffers). `ts` is passed through untouched:
 * it is the caller's clock (hubcap uses nanoseconds since the capture's first packet, which stay
 * exact in a double), the time of the segment whose arrival made the bytes deliverable.
 *
 * Memory is bounded twice: per stream by `maxBytes` (`--reassembly-max-bytes`, 1 MiB by
 * default) and across streams by a shared ReassemblyBudget (256 MiB by default). Only bytes
 * that wait out of order are held; in-order bytes are never copied. `bufferedBytes` counts what
 * a stream holds exactly: the held payload bytes plus HELD_CHUNK_OVERHEAD for each held chunk
 * (so a flood of one-byte segments is bounded by object count too, not just by payload); the
 * budget's `used` is the exact sum of its streams' `bufferedBytes`. When holding a segment would
 * pass either bound the stream goes to an error state (reported once, as SegmentResult.ERROR
 * with `error` set), its held chunks are freed at once and it accepts nothing more: the caller
 * reports one "reassembly buffer limit exceeded" event for the connection.
 *
 * Window: out-of-order bytes more than `window` (256 KiB by default, a typical receive window)
 * past the next expected byte are dropped as the kernel drops segments beyond its receive window
 * (SegmentResult.OUT_OF_WINDOW); they are counted, not held.
 *
 * Deliberate differences from the kernel:
 *  - No ACK/window bookkeeping and no PAWS or RFC 5961 checks: a capture shows what was sent; a
 *    RST is accepted at any sequence number.
 *  - A capture may start mid-connection: the first segment seen (any flags) sets the initial
 *    sequence; bytes before it count as retransmissions.
 *  - A SYN with a different initial sequence on a live stream (port reuse) is ignored here
 *    (SegmentResult.IGNORED): opening a new connection is the conntrack's business.
 *  - TCP Fast Open data on the SYN is delivered (the kernel hands it to the socket too).
 */

/** TCP flag bits as in the header's byte 13 (same values as decode/packet.ts TcpFlag). */
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;

/** Default per-stream bound (`--reassembly-max-bytes`). */
export const DEFAULT_REASSEMBLY_MAX_BYTES = 1024 * 1024;
/** Default bound across all streams of one proxy. */
export const DEFAULT_REASSEMBLY_TOTAL_BYTES = 256 * 1024 * 1024;
/** Default out-of-order window: bytes this far past the next expected one are dropped. */
export const DEFAULT_REASSEMBLY_WINDOW = 256 * 1024;
/**
 * What one held chunk costs beyond its payload, in the count: the chunk's Uint8Array object and
 * its two slots in the queue arrays (an estimate of V8's heap cost, charged exactly).
 */
export const HELD_CHUNK_OVERHEAD = 64;

/**
 * What a segment did, as bits (several can be set: a segment can fill a gap, deliver held bytes
 * and end the stream). 0 means nothing happened (an empty segment such as a pure ACK).
 */
export const SegmentResult = {
  NONE: 0,
  /** New bytes went to the sink (the segment's own and/or held ones it made deliverable). */
  DELIVERED: 1,
  /** Some or all of the segment's bytes were already delivered or held (counted). */
  RETRANSMISSION: 2,
  /** Out-of-order bytes were copied and held until the gap before them fills. */
  HELD: 4,
  /** FIN reached: every byte before it was delivered; the stream is over. Reported once. */
  END: 8,
  /** RST: the stream is over, held bytes discarded. Reported once. */
  RESET: 16,
  /** The stream went to the error state in this call (`error` says why). Reported once. */
  ERROR: 32,
  /** Bytes beyond the out-of-order window were dropped (counted in `outOfWindowBytes`). */
  OUT_OF_WINDOW: 64,
  /** The stream was already over (ended, reset, errored or closed); the segment was ignored. */
  CLOSED: 128,
  /** A SYN with another initial sequence on a live stream; ignored. */
  IGNORED: 256,
} as const;

/** Why a stream is in the error state; text in REASSEMBLY_ERROR_TEXT. */
export const ReassemblyError = {
  NONE: 0,
  /** Holding the segment would pass the stream's own bound (`--reassembly-max-bytes`). */
  STREAM_LIMIT: 1,
  /** Holding the segment would pass the bound shared by all streams. */
  TOTAL_LIMIT: 2,
} as const;

export const REASSEMBLY_ERROR_TEXT: readonly string[] = [
  '',
  'reassembly buffer limit exceeded (per connection, --reassembly-max-bytes)',
  'reassembly buffer limit exceeded (all connections)',
];

/** Stream states. */
const enum State {
  /** No segment seen yet: the first one sets the initial sequence. */
  NEW = 0,
  OPEN = 1,
  /** FIN reached in order. */
  ENDED = 2,
  RESET = 3,
  ERROR = 4,
  /** close() was called. */
  CLOSED = 5,
}

/**
 * The memory bound shared by every stream of one proxy. Streams reserve before they copy and
 * release when they deliver or free; `used` is exact.
 */
export class ReassemblyBudget {
  readonly cap: number;
  /** Bytes held now, across streams (sum of their `bufferedBytes`). */
  used = 0;
  /** Highest `used` seen. */
  peak = 0;
  /** Streams that went to the error state because this budget was exhausted. */
  exhausted = 0;

  constructor(cap: number = DEFAULT_REASSEMBLY_TOTAL_BYTES) {
    if (!(cap >= 0) || !Number.isSafeInteger(cap)) throw new RangeError(`reassembly budget must be a non-negative integer, not ${cap}`);
    this.cap = cap;
  }

  /** Reserves `n` bytes if they fit; false (and nothing reserved) if not. */
  tryReserve(n: number): boolean {
    if (this.used + n > this.cap) return false;
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    return true;
  }

  release(n: number): void {
    this.used -= n;
  }
}

/** Receives stream bytes: a view `bytes[offset, offset + length)` valid during the call only. */
export type StreamSink = (bytes: Uint8Array, offset: number, length: number, ts: number) => void;

export interface ReassemblerOptions {
  /** Out-of-order window in bytes. @default DEFAULT_REASSEMBLY_WINDOW */
  window?: number;
}

export class TcpStreamReassembler {
  private readonly budget: ReassemblyBudget;
  private readonly sink: StreamSink;
  /** The per-stream bound. */
  readonly maxBytes: number;
  readonly window: number;

  private state: State = State.NEW;
  /** Sequence number of the next expected byte (uint32). */
  private nextSeq = 0;
  /**
   * Stream offset of `nextSeq`: bytes delivered so far. Held chunks are keyed by stream offset
   * (a double, exact up to 2^53), so only the conversion from a sequence number needs 32-bit
   * arithmetic: offset = delivered + int32(seq - nextSeq).
   */
  private delivered = 0;
  /** Initial sequence number (the SYN's), -1 when the stream started mid-connection. */
  private isn = -1;
  /** Stream offset of the FIN, -1 until one is seen. */
  private finOffset = -1;

  // Held out-of-order chunks, sorted by start, never overlapping; [head, length) are live.
  private heldStart: number[] = [];
  private heldData: Uint8Array[] = [];
  private head = 0;

  /** Bytes held (payload + HELD_CHUNK_OVERHEAD per chunk), exact. */
  bufferedBytes = 0;
  /** Payload bytes held. */
  heldPayloadBytes = 0;
  /** Bytes received again after they had been delivered or held. */
  retransmittedBytes = 0;
  /** Out-of-order bytes dropped because they lay beyond the window. */
  outOfWindowBytes = 0;
  /** Bytes after the FIN's sequence (never part of the stream). */
  afterFinBytes = 0;
  /** ReassemblyError code once the stream is in the error state. */
  error = 0;

  constructor(budget: ReassemblyBudget, maxBytes: number, sink: StreamSink, options: ReassemblerOptions = {}) {
    if (!(maxBytes >= 0) || !Number.isSafeInteger(maxBytes)) throw new RangeError(`reassembly max bytes must be a non-negative integer, not ${maxBytes}`);
    const window = options.window ?? DEFAULT_REASSEMBLY_WINDOW;
    if (!(window >= 0) || !Number.isSafeInteger(window) || window >= 0x40000000) throw new RangeError(`reassembly window must be an integer in [0, 2^30), not ${window}`);
    this.budget = budget;
    this.maxBytes = maxBytes;
    this.sink = sink;
    this.window = window;
  }

  /** Bytes delivered to the sink so far. */
  get deliveredBytes(): number {
    return this.delivered;
  }

  get errored(): boolean {
    return this.state === State.ERROR;
  }

  /** The stream is over (FIN reached, RST, error or close()). */
  get done(): boolean {
    return this.state >= State.ENDED;
  }

  get ended(): boolean {
    return this.state === State.ENDED;
  }

  get reset(): boolean {
    return this.state === State.RESET;
  }

  /** Chunks held out of order now. */
  get heldChunks(): number {
    return this.heldStart.length - this.head;
  }

  /** The stream started with a SYN (false: mid-connection capture, or nothing seen yet). */
  get sawSyn(): boolean {
    return this.isn >= 0;
  }

  /**
   * Bytes missing before the first held chunk (0 when nothing waits): what a stalled stream is
   * waiting for, e.g. when the capture lost a segment.
   */
  get missingBytes(): number {
    return this.head < this.heldStart.length ? this.heldStart[this.head]! - this.delivered : 0;
  }

  /**
   * Feeds one captured segment: `seq` and `flags` from its TCP header, payload
   * `data[offset, offset + length)`. Returns SegmentResult bits.
   */
  segment(seq: number, flags: number, data: Uint8Array, offset: number, length: number, ts: number): number {
    seq >>>= 0;
    if (this.state >= State.ENDED) return this.afterEnd(seq, flags, length);
    if ((flags & RST) !== 0) {
      // An RST ends the stream whatever its sequence; data it carries is not delivered (the
      // kernel discards RST payload).
      if (this.state === State.NEW) this.start(seq, -1);
      this.freeHeld();
      this.state = State.RESET;
      return SegmentResult.RESET;
    }
    let dataSeq = seq;
    if ((flags & SYN) !== 0) {
      if (this.state === State.NEW) {
        this.start((seq + 1) >>> 0, seq);
      } else if (seq !== this.isn) {
        return SegmentResult.IGNORED;
      }
      // The SYN occupies one sequence number; its data (Fast Open) starts after it.
      dataSeq = (seq + 1) >>> 0;
    } else if (this.state === State.NEW) {
      this.start(seq, -1);
    }

    let result = 0;
    // Position of the segment's first byte relative to the next expected one (32-bit wrap), and
    // its stream offset (taken before delivery moves `delivered`).
    const rel = (dataSeq - this.nextSeq) | 0;
    const start = this.delivered + rel;
    if ((flags & FIN) !== 0 && this.finOffset < 0) {
      // The FIN sits right after the segment's last byte; it is known before the bytes are
      // placed so nothing past it is delivered or held. A FIN before bytes already delivered
      // contradicts the stream and is ignored.
      const fin = start + length;
      if (fin >= this.delivered) {
        this.finOffset = fin;
        this.dropHeldAfterFin();
      }
    }
    if (length > 0) {
      if (rel <= 0) {
        const old = -rel;
        if (old >= length) {
          this.retransmittedBytes += length;
          result |= SegmentResult.RETRANSMISSION;
        } else {
          if (old > 0) {
            this.retransmittedBytes += old;
            result |= SegmentResult.RETRANSMISSION;
          }
          result |= this.deliverInOrder(data, offset + old, length - old, ts);
        }
      } else {
        result |= this.hold(data, offset, start, length);
        if (this.state === State.ERROR) return result;
      }
    }
    if (this.finOffset >= 0 && this.delivered >= this.finOffset) {
      this.freeHeld();
      this.state = State.ENDED;
      result |= SegmentResult.END;
    }
    return result;
  }

  /** Frees held bytes and stops the stream (the connection is gone). Idempotent. */
  close(): void {
    this.freeHeld();
    if (this.state !== State.ERROR) this.state = State.CLOSED;
  }

  private start(nextSeq: number, isn: number): void {
    this.nextSeq = nextSeq;
    this.isn = isn;
    this.state = State.OPEN;
  }

  /** A segment for a stream that is over: count retransmissions of what it had; ignore the rest. */
  private afterEnd(seq: number, flags: number, length: number): number {
    if (this.state === State.ENDED && length > 0) {
      const dataSeq = (flags & SYN) !== 0 ? (seq + 1) >>> 0 : seq;
      const start = this.delivered + ((dataSeq - this.nextSeq) | 0);
      if (start + length <= this.finOffset) {
        this.retransmittedBytes += length;
        return SegmentResult.RETRANSMISSION;
      }
      const before = Math.max(0, this.finOffset - start);
      this.retransmittedBytes += before;
      this.afterFinBytes += length - before;
    }
    return SegmentResult.CLOSED;
  }

  /** Delivers bytes that start exactly at the next expected byte, then whatever they unblock. */
  private deliverInOrder(data: Uint8Array, offset: number, length: number, ts: number): number {
    let result = 0;
    if (this.finOffset >= 0 && this.delivered + length > this.finOffset) {
      const keep = Math.max(0, this.finOffset - this.delivered);
      this.afterFinBytes += length - keep;
      length = keep;
    }
    if (length > 0) {
      this.advance(length);
      this.sink(data, offset, length, ts);
      result |= SegmentResult.DELIVERED;
    }
    // Held chunks that now start at or before the next expected byte.
    while (this.head < this.heldStart.length && this.state === State.OPEN) {
      const start = this.heldStart[this.head]!;
      if (start > this.delivered) break;
      const chunk = this.heldData[this.head]!;
      this.heldData[this.head] = EMPTY;
      this.head++;
      this.releaseChunk(chunk.length);
      // Bytes of the chunk that the in-order data already carried were received twice.
      const skip = this.delivered - start;
      if (skip > 0) {
        this.retransmittedBytes += Math.min(skip, chunk.length);
        result |= SegmentResult.RETRANSMISSION;
      }
      if (skip < chunk.length) {
        const n = chunk.length - skip;
        this.advance(n);
        this.sink(chunk, skip, n, ts);
        result |= SegmentResult.DELIVERED;
      }
    }
    this.compact();
    return result;
  }

  private advance(n: number): void {
    this.delivered += n;
    this.nextSeq = (this.nextSeq + n) >>> 0;
  }

  /**
   * Holds out-of-order bytes [start, start + length) (stream offsets, start > delivered): copies
   * only the parts not held already, within the window and before a known FIN.
   */
  private hold(data: Uint8Array, offset: number, start: number, length: number): number {
    let result = 0;
    let end = start + length;
    if (this.finOffset >= 0 && end > this.finOffset) {
      const cut = end - Math.max(start, this.finOffset);
      this.afterFinBytes += cut;
      end -= cut;
    }
    const limit = this.delivered + this.window;
    if (end > limit) {
      const cut = end - Math.max(start, limit);
      this.outOfWindowBytes += cut;
      end -= cut;
      result |= SegmentResult.OUT_OF_WINDOW;
    }
    if (end <= start) return result;

    // Walk the held chunks overlapping [start, end) and collect the uncovered pieces. Chunks are
    // few in practice; the first candidate is found by binary search.
    const hs = this.heldStart;
    const hd = this.heldData;
    let i = this.firstEndingAfter(start);
    let cur = start;
    let pieces = 0;
    let newBytes = 0;
    // First pass: count what would be added (to check the bounds before copying anything).
    for (let j = i; cur < end; j++) {
      const cs = j < hs.length ? hs[j]! : Infinity;
      if (cs > cur) {
        const pe = Math.min(cs, end);
        pieces++;
        newBytes += pe - cur;
        cur = pe;
      }
      if (j >= hs.length) break;
      const ce = cs + hd[j]!.length;
      if (ce > cur) cur = ce;
    }
    const retrans = end - start - newBytes;
    if (retrans > 0) {
      this.retransmittedBytes += retrans;
      result |= SegmentResult.RETRANSMISSION;
    }
    if (pieces === 0) return result;

    const cost = newBytes + pieces * HELD_CHUNK_OVERHEAD;
    if (this.bufferedBytes + cost > this.maxBytes) return result | this.fail(ReassemblyError.STREAM_LIMIT);
    if (!this.budget.tryReserve(cost)) {
      this.budget.exhausted++;
      return result | this.fail(ReassemblyError.TOTAL_LIMIT);
    }
    this.bufferedBytes += cost;
    this.heldPayloadBytes += newBytes;

    // Second pass: copy the uncovered pieces and insert them in order.
    cur = start;
    for (; cur < end; i++) {
      const cs = i < hs.length ? hs[i]! : Infinity;
      if (cs > cur) {
        const pe = Math.min(cs, end);
        const from = offset + (cur - start);
        const copy = data.slice(from, from + (pe - cur));
        hs.splice(i, 0, cur);
        hd.splice(i, 0, copy);
        cur = pe;
        continue; // i now points at the inserted piece; the loop's i++ moves to the old chunk
      }
      if (i >= hs.length) break;
      const ce = cs + hd[i]!.length;
      if (ce > cur) cur = ce;
    }
    return result | SegmentResult.HELD;
  }

  /** Index of the first live held chunk whose end is after `pos`. */
  private firstEndingAfter(pos: number): number {
    let lo = this.head;
    let hi = this.heldStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.heldStart[mid]! + this.heldData[mid]!.length > pos) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** A FIN fixes the end of the stream: held bytes past it are never part of it. */
  private dropHeldAfterFin(): void {
    const fin = this.finOffset;
    for (let j = this.heldStart.length - 1; j >= this.head; j--) {
      const s = this.heldStart[j]!;
      const chunk = this.heldData[j]!;
      if (s + chunk.length <= fin) break;
      this.releaseChunk(chunk.length);
      if (s >= fin) {
        this.afterFinBytes += chunk.length;
        this.heldStart.splice(j, 1);
        this.heldData.splice(j, 1);
      } else {
        const keep = fin - s;
        this.afterFinBytes += chunk.length - keep;
        const trimmed = chunk.slice(0, keep);
        this.heldData[j] = trimmed;
        this.bufferedBytes += keep + HELD_CHUNK_OVERHEAD;
        this.heldPayloadBytes += keep;
        this.budget.used += keep + HELD_CHUNK_OVERHEAD; // fits: it is smaller than what was released
      }
    }
  }

  private releaseChunk(payload: number): void {
    const cost = payload + HELD_CHUNK_OVERHEAD;
    this.bufferedBytes -= cost;
    this.heldPayloadBytes -= payload;
    this.budget.release(cost);
  }

  private fail(code: number): number {
    this.freeHeld();
    this.error = code;
    this.state = State.ERROR;
    return SegmentResult.ERROR;
  }

  private freeHeld(): void {
    if (this.bufferedBytes !== 0) this.budget.release(this.bufferedBytes);
    this.bufferedBytes = 0;
    this.heldPayloadBytes = 0;
    this.heldStart = [];
    this.heldData = [];
    this.head = 0;
  }

  /** Drops delivered chunks from the front of the queue arrays once they pile up. */
  private compact(): void {
    if (this.head === 0) return;
    if (this.head === this.heldStart.length) {
      this.heldStart.length = 0;
      this.heldData.length = 0;
      this.head = 0;
    } else if (this.head >= 32 && this.head * 2 >= this.heldStart.length) {
      this.heldStart.splice(0, this.head);
      this.heldData.splice(0, this.head);
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
