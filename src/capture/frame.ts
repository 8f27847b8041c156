/**
 * A captured frame as the readers hand it to the pipeline.
 *
 * Hot path contract: a reader owns ONE Frame object and refills it for every record, and
 * `data` is a view into the reader's current chunk. Both are valid only during the sink call
 * (the bytes, where a reader says so, until its `chunkDone` callback: CaptureSource.run);
 * a consumer that keeps a frame must copy the bytes (`frame.data.slice(offset, offset + caplen)`;
 * the readers always hand out a plain Uint8Array, never a Buffer, so `slice` copies).
 * This is what keeps read+decode free of per-packet allocation.
 */

/** Link-layer header types (LINKTYPE_* from tcpdump.org/linktypes.html) that hubcap decodes. */
export const LinkType = {
  NULL: 0, // BSD loopback: 4-byte address family in host byte order of the writer
  ETHERNET: 1,
  RAW: 101, // raw IPv4 or IPv6, version from the first nibble
  LINUX_SLL: 113, // Linux cooked v1 (16-byte header)
  LOOP: 108, // OpenBSD loopback: family in network byte order
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276, // Linux cooked v2 (20-byte header), what `tcpdump -i any` writes
} as const;
export type LinkTypeNumber = number;

export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'NULL',
  1: 'EN10MB',
  101: 'RAW',
  108: 'LOOP',
  113: 'LINUX_SLL',
  228: 'IPV4',
  229: 'IPV6',
  276: 'LINUX_SLL2',
};

export class Frame {
  /** Bytes of the current chunk; the frame is data[offset, offset + caplen). */
  data: Uint8Array = new Uint8Array(0);
  offset = 0;
  /** Bytes present in the capture. */
  caplen = 0;
  /** Original length on the wire. */
  length = 0;
  /** Seconds since the epoch. */
  tsSec = 0;
  /** Nanoseconds within the second, 0..999,999,999 (exact for every supported resolution). */
  tsNsec = 0;
  linkType: LinkTypeNumber = LinkType.ETHERNET;
  /** pcapng interface index (0 for classic pcap and live capture). */
  interfaceId = 0;
  /** 0-based number of this frame in the capture. */
  index = 0;
  /** Byte offset of the record (its header) in the source, for error messages. */
  fileOffset = 0;
}

/** Called once per frame; the frame object is reused for the next record. */
export type FrameSink = (frame: Frame) => void;

/** How a classic pcap file lays out its records, as its header said. */
export interface PcapRecordLayout {
  littleEndian: boolean;
  /** Nanosecond timestamps (else microseconds). */
  nano: boolean;
  /** 16, or 24 for Kuznetzov's patched format. */
  recordHeaderLen: number;
  linkType: LinkTypeNumber;
}

/** What a PcapRecordSink took: records and the sum of their captured lengths. */
export interface RecordsTaken {
  frames: number;
  bytes: number;
}

/**
 * A consumer that takes whole classic pcap records in bulk instead of one sink call per frame
 * (the native fast path walks them itself). The records it takes are frames like the sink's,
 * delivered in order with the sink's; the bytes stay valid until `chunkDone` as for the sink.
 */
export interface PcapRecordSink {
  /**
   * Takes whole records from buf[pos, end), in order, as many as it will, and returns the
   * position after the last one taken (`pos`: none), their number and bytes in `taken`. A
   * record it leaves (cut short at the end, or with a captured length over the reader's
   * maximum) and all after it go to the sink, or to the reader's error, as usual. `fileOffset`
   * is where buf[pos] is in the source.
   */
  takePcapRecords(buf: Uint8Array, pos: number, end: number, layout: PcapRecordLayout, fileOffset: number, taken: RecordsTaken): number;
}

/** Totals a reader reports when it is done. */
export interface CaptureStats {
  frames: number;
  /** Captured bytes delivered: the sum of the frames' caplen. */
  bytes: number;
  /** Set when the last record was cut short (a warning, not an error). */
  truncatedTail: boolean;
  warnings: string[];
}
