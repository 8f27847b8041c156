/**
 * Streaming contract: frames point into the pushed chunk (no copy) unless cut by a chunk
 * boundary, the parser holds at most one record between pushes, indices and offsets are exact,
 * and reading a file does not grow memory with its size.
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CAPLEN, MAX_RECORD_BYTES } from '../../src/capture/format.js';
import { CaptureParser, openCapture } from '../../src/capture/open.js';
import { PcapEncoder, encodePcap } from '../../src/capture/pcap-writer.js';
import { makeTempDir, parseBytes, prng, randomPackets } from '../helpers/capture-fixtures.js';
import { PcapngBuilder } from '../helpers/capture-pcapng-writer.js';

const tmp = makeTempDir();
afterAll(tmp.cleanup);

describe('zero-copy frames', () => {
  it('a record inside the chunk is a view of the chunk; a cut one comes from the carry', () => {
    const packets = randomPackets(31, 50, 100, 100); // 116-byte records after a 24-byte header
    const bytes = encodePcap(packets);
    const chunkSize = 1000;
    const parser = new CaptureParser('z.pcap', { chunkSize });
    let inChunk = 0;
    let carried = 0;
    for (let at = 0; at < bytes.length; at += chunkSize) {
      const chunk = bytes.slice(at, at + chunkSize);
      parser.push(chunk, (f) => {
        const start = f.fileOffset;
        const end = start + 16 + f.caplen;
        if (start >= at && end <= at + chunkSize) {
          expect(f.data).toBe(chunk);
          expect(f.offset).toBe(start - at + 16);
          inChunk++;
        } else {
          expect(f.data).not.toBe(chunk);
          carried++;
        }
        expect(f.data.subarray(f.offset, f.offset + f.caplen)).toEqual(packets[f.index]!.data);
      });
    }
    parser.end();
    // 50 records over 6 chunks: the 5 inner boundaries each cut one record.
    expect({ inChunk, carried }).toEqual({ inChunk: 45, carried: 5 });
  });
});

describe('bounded buffering', () => {
  it('bufferedBytes stays under one maximum record for random chunkings, records up to 256 KiB', () => {
    const rnd = prng(5);
    const packets = randomPackets(32, 40, 1, 3000);
    packets.push({ data: new Uint8Array(MAX_CAPLEN) }, { data: new Uint8Array(MAX_CAPLEN - 1) }, { data: new Uint8Array(7) });
    const pcap = encodePcap(packets);
    const ng = new PcapngBuilder().iface({ linkType: 1 });
    for (const p of packets) ng.epb({ iface: 0, ts: 0n, data: p.data });
    for (const bytes of [pcap, ng.toBytes()]) {
      for (let round = 0; round < 8; round++) {
        const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(rnd() * (round < 4 ? 5000 : 400_000)));
        const r = parseBytes(bytes, sizes);
        expect(r.frames.length).toBe(packets.length);
        expect(r.maxBuffered).toBeLessThanOrEqual(Math.max(...sizes) + MAX_RECORD_BYTES);
        expect(r.maxBuffered).toBeLessThanOrEqual(MAX_RECORD_BYTES);
      }
    }
  });

  it('frame index and fileOffset are exact', () => {
    const packets = randomPackets(33, 300, 1, 500);
    const r = parseBytes(encodePcap(packets), [17, 1, 250]);
    let off = 24;
    expect(r.indices).toEqual(packets.map((_, i) => i));
    expect(r.offsets).toEqual(
      packets.map((p) => {
        const at = off;
        off += 16 + p.data.length;
        return at;
      }),
    );
  });

  it('rejects a nonsensical chunkSize', () => {
    expect(() => new CaptureParser('x', { chunkSize: 0 })).toThrow(RangeError);
    expect(() => new CaptureParser('x', { chunkSize: 1.5 })).toThrow(RangeError);
  });
});

describe('constant memory over a file', () => {
  it('reading a 64 MB file holds only a few chunks of it', async () => {
    const path = join(tmp.dir, 'large.pcap');
    const out = createWriteStream(path);
    const enc = new PcapEncoder({ bufferSize: 1 << 20 }, (b) => {
      out.write(Buffer.from(b)); // copies: the encoder reuses its buffer
    });
    const data = new Uint8Array(1400);
    const count = 45_000;
    for (let i = 0; i < count; i++) {
      data[0] = i & 0xff;
      enc.writeRecord(data, 0, data.length, data.length, i, 0);
    }
    enc.flush();
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));

    globalThis.gc?.();
    const base = process.memoryUsage().arrayBuffers;
    let peak = base;
    let n = 0;
    const stats = await openCapture(path, { chunkSize: 256 * 1024 }).run((f) => {
      expect(f.data[f.offset]).toBe(n & 0xff);
      if (++n % 2000 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    });
    expect(stats.frames).toBe(count);
    expect(stats.bytes).toBe(count * 1400);
    // Two 256 KiB read buffers plus the carry: far below the 64 MB of the file.
    expect(peak - base).toBeLessThan(8 << 20);
  });
});

describe('frame bytes until push returns (the native fast path batches frames)', () => {
  // Chunks that cut records everywhere, so some pushes complete a carried record and then leave
  // a partial one (the carry buffer's next contents) before they return.
  it.each([[[97]], [[120, 35, 300]], [[1000]], [[7, 500, 13]]])('chunk sizes %j: every frame of a push reads the same bytes after it returned', (sizes) => {
    for (const format of ['pcap', 'pcapng'] as const) {
      const packets = randomPackets(47, 120, 14, 260);
      const bytes = format === 'pcap' ? encodePcap(packets) : pcapngOf(packets);
      const parser = new CaptureParser(`keep.${format}`, { chunkSize: 4096 });
      let seen = 0;
      let fromCarry = 0;
      let k = 0;
      for (let at = 0; at < bytes.length; ) {
        const size = sizes[k++ % sizes.length]!;
        const chunk = bytes.slice(at, at + size);
        const kept: Array<{ data: Uint8Array; offset: number; caplen: number; index: number }> = [];
        parser.push(chunk, (f) => {
          if (f.data !== chunk) fromCarry++;
          kept.push({ data: f.data, offset: f.offset, caplen: f.caplen, index: f.index });
        });
        for (const f of kept) expect(f.data.subarray(f.offset, f.offset + f.caplen)).toEqual(packets[f.index]!.data.subarray(0, f.caplen));
        seen += kept.length;
        at += size;
      }
      parser.end();
      expect(seen).toBe(packets.length);
      expect(fromCarry).toBeGreaterThan(10);
    }
  });
});

/** `packets` as a pcapng file: one Ethernet interface, an EPB each. */
function pcapngOf(packets: ReturnType<typeof randomPackets>): Uint8Array {
  const b = new PcapngBuilder().iface({ linkType: 1 });
  packets.forEach((p, i) => b.epb({ iface: 0, ts: BigInt(i), data: p.data, length: p.length }));
  return b.toBytes();
}
