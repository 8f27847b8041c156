/**
 * Writes a classic nanosecond pcap (pcap-savefile(5), magic a1b23c4d, little-endian) from
 * hand-built frames, so decoder tests can hand the same bytes to tshark and to hubcap.
 */
import { writeFileSync } from 'node:fs';
import type { Bytes } from './decode-build.js';

export interface PcapRecord {
  bytes: Bytes;
  /** Bytes kept; default all (the record then claims `length` on the wire). */
  caplen?: number;
  length?: number;
  tsSec?: number;
  tsNsec?: number;
}

export function pcapBytes(linkType: number, records: PcapRecord[], snaplen = 262144): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b23c4d, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(snaplen, 16);
  head.writeUInt32LE(linkType, 20);
  parts.push(head);
  let t = 1_700_000_000;
  for (const r of records) {
    const caplen = r.caplen ?? r.bytes.length;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(r.tsSec ?? t++, 0);
    rec.writeUInt32LE(r.tsNsec ?? 123456789, 4);
    rec.writeUInt32LE(caplen, 8);
    rec.writeUInt32LE(r.length ?? r.bytes.length, 12);
    parts.push(rec, Buffer.from(Uint8Array.from(r.bytes).subarray(0, caplen)));
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, linkType: number, records: PcapRecord[]): void {
  writeFileSync(path, pcapBytes(linkType, records));
}
