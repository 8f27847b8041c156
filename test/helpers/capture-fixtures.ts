/**
 * Shared fixtures of the capture tests: seeded packets, temp files, an in-memory parse with
 * arbitrary chunking, and the two outside oracles (pcap-parser and tshark).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pcapParser from 'pcap-parser';
import type { CaptureStats, Frame } from '../../src/capture/frame.js';
import { CaptureParser, copyFrame, type CopiedFrame } from '../../src/capture/open.js';
import type { PcapPacket } from '../../src/capture/pcap-writer.js';
import { mulberry32 } from '../../bench/lib/random.js';

/** A small deterministic PRNG (mulberry32), so fixtures are the same on every run. */
export const prng = mulberry32;

export const TCPDUMP_TESTS = '/work/shared/captures/tcpdump-tests';

/** The tcpdump test captures, by magic: microsecond little-endian ones and the nanosecond one. */
export function tcpdumpCaptures(): string[] {
  return readdirSync(TCPDUMP_TESTS)
    .filter((f) => f.endsWith('.pcap'))
    .sort()
    .map((f) => join(TCPDUMP_TESTS, f));
}

export function makeTempDir(prefix = 'hubcap-capture-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `count` packets of random bytes and lengths in [minLen, maxLen], timestamps increasing from
 * 2024-01-01 with nanosecond fractions (microsecond writers drop the last three digits).
 */
export function randomPackets(seed: number, count: number, minLen = 14, maxLen = 1514): PcapPacket[] {
  const rnd = prng(seed);
  const out: PcapPacket[] = [];
  let sec = 1_704_067_200;
  let nsec = 0;
  for (let i = 0; i < count; i++) {
    const len = minLen + Math.floor(rnd() * (maxLen - minLen + 1));
    const data = new Uint8Array(len);
    for (let j = 0; j < len; j++) data[j] = Math.floor(rnd() * 256);
    nsec += Math.floor(rnd() * 400_000_000);
    if (nsec >= 1e9) {
      sec += Math.floor(nsec / 1e9);
      nsec %= 1e9;
    }
    out.push({ data, tsSec: sec, tsNsec: nsec, length: len + (rnd() < 0.1 ? Math.floor(rnd() * 100) : 0) });
  }
  return out;
}

export interface ParsedCapture {
  frames: CopiedFrame[];
  stats: CaptureStats;
  /** The largest bufferedBytes seen after any push. */
  maxBuffered: number;
  /** Frame indices and file offsets as the reader reported them. */
  indices: number[];
  offsets: number[];
}

/**
 * Parses `bytes` in memory, pushed in chunks of the given sizes (cycled), and copies every
 * frame. `name` is what errors will name.
 */
export function parseBytes(bytes: Uint8Array, chunkSizes: number[] = [bytes.length || 1], name = 'mem.pcap'): ParsedCapture {
  const parser = new CaptureParser(name, { chunkSize: Math.max(...chunkSizes) });
  const frames: CopiedFrame[] = [];
  const indices: number[] = [];
  const offsets: number[] = [];
  const sink = (f: Frame): void => {
    frames.push(copyFrame(f));
    indices.push(f.index);
    offsets.push(f.fileOffset);
  };
  let maxBuffered = 0;
  let pos = 0;
  let k = 0;
  while (pos < bytes.length) {
    const size = chunkSizes[k++ % chunkSizes.length]!;
    // A fresh copy per chunk, so a frame that kept a view into a previous chunk would show.
    const chunk = new Uint8Array(bytes.subarray(pos, pos + size));
    parser.push(chunk, sink);
    chunk.fill(0xee);
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    pos += size;
  }
  const stats = parser.end();
  return { frames, stats, maxBuffered, indices, offsets };
}

/** What pcap-parser reports for a classic microsecond pcap. */
export interface OracleFrame {
  tsSec: number;
  tsUsec: number;
  caplen: number;
  length: number;
  data: Uint8Array;
}

export function readWithPcapParser(path: string): Promise<{ linkType: number; frames: OracleFrame[] }> {
  return new Promise((resolve, reject) => {
    const frames: OracleFrame[] = [];
    let linkType = -1;
    const p = pcapParser.parse(path);
    p.on('globalHeader', (h) => {
      linkType = h.linkLayerType;
    });
    p.on('packet', (pkt) => {
      frames.push({
        tsSec: pkt.header.timestampSeconds,
        tsUsec: pkt.header.timestampMicroseconds,
        caplen: pkt.header.capturedLength,
        length: pkt.header.originalLength,
        data: new Uint8Array(pkt.data),
      });
    });
    p.on('error', reject);
    p.on('end', () => resolve({ linkType, frames }));
  });
}

/** Runs a tool and returns its stdout (throws with stderr on failure). */
export function tool(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** tshark's view of each frame: epoch seconds and nanoseconds, lengths, interface id. */
export interface TsharkFrame {
  tsSec: number;
  tsNsec: number;
  length: number;
  caplen: number;
  interfaceId: number;
}

export function readWithTshark(path: string): TsharkFrame[] {
  const out = tool('tshark', [
    '-r', path, '-T', 'fields', '-E', 'separator=,',
    '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id',
  ]);
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [epoch, len, cap, iface] = l.split(',');
      const [s, frac = ''] = epoch!.split('.');
      return {
        tsSec: Number(s),
        tsNsec: Number(frac.padEnd(9, '0').slice(0, 9)),
        length: Number(len),
        caplen: Number(cap),
        interfaceId: iface ? Number(iface) : 0,
      };
    });
}

/** The fields two readers must agree on, as plain data for toEqual. */
export function frameSummary(f: CopiedFrame): { tsSec: number; tsNsec: number; caplen: number; length: number; linkType: number; bytes: string } {
  return {
    tsSec: f.tsSec,
    tsNsec: f.tsNsec,
    caplen: f.caplen,
    length: f.length,
    linkType: f.linkType,
    bytes: Buffer.from(f.data).toString('hex'),
  };
}
