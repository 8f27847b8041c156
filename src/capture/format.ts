/**
 * On-disk constants of the two capture formats hubcap reads and writes.
 *
 * Mirrors: pcap-savefile(5) and libpcap's sf-pcap.c (classic pcap), the pcapng spec
 * (draft-ietf-opsawg-pcapng) and Wireshark's wiretap/pcapng.c (block types, option codes and
 * the sanity limits below).
 */

/** Classic pcap magic numbers as read big-endian from the first four bytes. */
export const PcapMagic = {
  /** Microsecond timestamps, written big-endian (a1 b2 c3 d4). */
  MICRO: 0xa1b2c3d4,
  /** The same written little-endian reads as d4 c3 b2 a1. */
  MICRO_SWAPPED: 0xd4c3b2a1,
  /** Nanosecond timestamps (a1 b2 3c 4d), libpcap 1.5+ and editcap `-F nsecpcap`. */
  NANO: 0xa1b23c4d,
  NANO_SWAPPED: 0x4d3cb2a1,
  /** Alexey Kuznetsov's patched libpcap: 24-byte record headers (editcap `-F modpcap`). */
  KUZNETZOV: 0xa1b2cd34,
  KUZNETZOV_SWAPPED: 0x34cdb2a1,
} as const;

/** The pcapng Section Header Block type, a byte palindrome so it reads the same either way. */
export const PCAPNG_SHB = 0x0a0d0d0a;
/** The SHB's byte-order magic; read in the wrong order it shows as 0x4d3c2b1a. */
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** pcapng block types hubcap interprets; every other block is skipped after its length checks. */
export const BlockType = {
  SHB: PCAPNG_SHB,
  IDB: 0x00000001,
  /** Obsolete Packet Block (pcapng drafts before EPB): 16-bit interface id. */
  OPB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
} as const;

/** IDB option codes used here (opt_endofopt ends every option list). */
export const IdbOption = {
  END: 0,
  IF_TSRESOL: 9,
  IF_TSOFFSET: 14,
} as const;

/** Classic pcap file header and record header sizes. */
export const PCAP_FILE_HEADER_LEN = 24;
export const PCAP_RECORD_HEADER_LEN = 16;
export const PCAP_KUZNETZOV_RECORD_HEADER_LEN = 24;

/** Minimum pcapng block: type, total length, trailing total length. */
export const PCAPNG_MIN_BLOCK_LEN = 12;
/** SHB fixed part: type, length, byte-order magic, major, minor, section length, trailer. */
export const PCAPNG_SHB_MIN_LEN = 28;

/**
 * The largest captured length hubcap accepts: libpcap's MAXIMUM_SNAPLEN and Wireshark's
 * WTAP_MAX_PACKET_SIZE_STANDARD (256 KiB). Larger values are corrupt headers, and refusing them
 * is what keeps memory bounded whatever the file says.
 */
export const MAX_CAPLEN = 262_144;

/**
 * The largest record the parser ever buffers: a packet block at MAX_CAPLEN plus 64 KiB of block
 * header and options. Bigger blocks of types hubcap does not need (name resolution, statistics,
 * custom, unknown) are skipped as they stream past without being buffered; a bigger packet or
 * interface block is a CaptureError.
 */
export const MAX_RECORD_BYTES = MAX_CAPLEN + 65_536;

/** Rounds a pcapng field length up to the 32-bit boundary blocks and options are padded to. */
export function pad4(n: number): number {
  return (n + 3) & ~3;
}
