/**
 * capture/read: packets per second reading a 1,000,000-packet Ethernet pcap (bench/lib/
 * gen-capture.ts: ~100k flows, IPv4/IPv6, TCP/UDP/DNS/ICMP, some VLAN), side by side with
 * pcap-parser (the npm baseline) and tcpdump (`tcpdump -r FILE -w /dev/null`, wall time), in one
 * run. Also: read + decode (src/decode/decode.ts), the same file as pcapng, the read chunk size,
 * and two micro operations of the hot path.
 *
 * Correctness gate first: our reader, pcap-parser and tcpdump must all see N packets, and ours
 * and pcap-parser the same checksum over (caplen, length, timestamp, first/last byte).
 *
 * Knobs: BENCH_PACKETS (default 1000000), BENCH_RUNS (default 7). Passes of the different
 * readers are interleaved (bench/lib/measure.ts timeInterleaved) so load changes on the shared
 * machine hit them alike.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import * as pcapParser from 'pcap-parser';
import type { Frame } from '../../src/capture/frame.js';
import { CaptureParser, DEFAULT_CHUNK_SIZE, openCapture } from '../../src/capture/open.js';
import { TimestampUnit } from '../../src/capture/timestamp.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { ensureCapture } from '../lib/gen-capture.js';
import { runMicro, timeInterleaved, type PassCase } from '../lib/measure.js';
import { fmt, ratio, type Cell, type Suite, type SuiteContext, type SuiteReport, type Table } from '../lib/suite.js';

const MiB = 1 << 20;

/** A digest over what two readers must agree on, cheap enough not to dominate a pass. */
class Digest {
  n = 0;
  h = 0;
  add(caplen: number, length: number, tsSec: number, tsNsec: number, first: number, last: number): void {
    this.n++;
    this.h = (Math.imul(this.h, 31) + caplen + length * 7 + tsSec * 13 + tsNsec + first * 17 + last) | 0;
  }
}

function readOurs(path: string, chunkSize: number, digest?: Digest): Promise<number> {
  let n = 0;
  let acc = 0;
  const sink = digest
    ? (f: Frame): void => {
        digest.add(f.caplen, f.length, f.tsSec, f.tsNsec, f.data[f.offset]!, f.data[f.offset + f.caplen - 1]!);
      }
    : (f: Frame): void => {
        n++;
        acc += f.caplen; // touch the frame so the loop is not optimized away
      };
  return openCapture(path, { chunkSize })
    .run(sink)
    .then((stats) => {
      if (acc < 0) throw new Error('unreachable');
      return digest ? digest.n : Math.min(n, stats.frames);
    });
}

function readDecode(path: string, kinds?: number[]): Promise<number> {
  const out = new DecodedPacket();
  let errors = 0;
  return openCapture(path)
    .run((f) => {
      decodeFrame(f, out);
      if (out.error !== 0) errors++;
      if (kinds) kinds[out.kind] = (kinds[out.kind] ?? 0) + 1;
    })
    .then((stats) => {
      if (errors > 0) throw new Error(`${errors} packets failed to decode`);
      return stats.frames;
    });
}

function readPcapParser(path: string, digest?: Digest): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const p = pcapParser.parse(path);
    p.on('packet', (pkt) => {
      n++;
      const h = pkt.header;
      if (digest) {
        digest.add(h.capturedLength, h.originalLength, h.timestampSeconds, h.timestampMicroseconds * 1000, pkt.data[0]!, pkt.data[pkt.data.length - 1]!);
      }
    });
    p.on('error', reject);
    p.on('end', () => resolve(n));
  });
}

function tcpdump(args: string[]): string {
  const r = spawnSync('tcpdump', args, { encoding: 'utf8', maxBuffer: 16 * MiB });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tcpdump exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  return `${r.stdout}${r.stderr}`;
}

/** The same traffic as pcapng (editcap), cached beside the pcap. */
function ensurePcapng(path: string): string {
  const ng = path.replace(/\.pcap$/, '.pcapng');
  if (existsSync(ng) && statSync(ng).mtimeMs >= statSync(path).mtimeMs) return ng;
  const tmp = `${ng}.${process.pid}.tmp`;
  const r = spawnSync('editcap', ['-F', 'pcapng', path, tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`editcap failed: ${r.stderr.trim()}`);
  renameSync(tmp, ng);
  return ng;
}

async function run(ctx: SuiteContext): Promise<SuiteReport> {
  const packets = ctx.quick ? 100_000 : Number(process.env.BENCH_PACKETS ?? 1_000_000);
  const runs = ctx.quick ? 2 : Number(process.env.BENCH_RUNS ?? 7);
  ctx.log(`input: ${packets} packets (generating if not cached)`);
  const cap = ensureCapture({ packets });
  const mb = cap.bytes / 1e6;
  ctx.log(`${cap.path}: ${fmt(mb, 1)} MB${cap.generated ? ' (generated)' : ' (cached)'}`);

  // --- correctness gate
  const ours = new Digest();
  await readOurs(cap.path, MiB, ours);
  const theirs = new Digest();
  await readPcapParser(cap.path, theirs);
  const counted = /(\d+) packets?/.exec(tcpdump(['-r', cap.path, '--count']))?.[1];
  const gate = { ours: ours.n, pcapParser: theirs.n, tcpdump: Number(counted) };
  if (gate.ours !== packets || gate.pcapParser !== packets || gate.tcpdump !== packets || ours.h !== theirs.h) {
    throw new Error(`correctness gate failed: ${JSON.stringify({ ...gate, expected: packets, digestOurs: ours.h, digestPcapParser: theirs.h })}`);
  }
  ctx.log(`gate passed: ${packets} packets, identical digests (ours, pcap-parser), tcpdump count ${gate.tcpdump}`);
  const kinds: number[] = [];
  await readDecode(cap.path, kinds).catch(() => 0);

  // --- throughput, one table, peers in the same run
  let ngPath = '';
  let ngError = '';
  try {
    ngPath = ensurePcapng(cap.path);
  } catch (err) {
    ngError = err instanceof Error ? err.message : String(err);
  }
  ctx.log(`timing: ${runs} interleaved passes of each reader`);
  const cases: PassCase[] = [
    { name: 'hubcap CaptureParser, read only', pass: () => readOurs(cap.path, DEFAULT_CHUNK_SIZE) },
    { name: 'hubcap read + decodeFrame', pass: () => readDecode(cap.path) },
    {
      name: 'hubcap CaptureParser, same traffic as pcapng',
      pass: () => {
        if (!ngPath) throw new Error(ngError);
        return readOurs(ngPath, DEFAULT_CHUNK_SIZE);
      },
    },
    { name: 'pcap-parser 0.2.1, read only', pass: () => readPcapParser(cap.path) },
    {
      name: 'tcpdump -r FILE -w /dev/null (wall, incl. process start)',
      pass: () => {
        tcpdump(['-r', cap.path, '-w', '/dev/null']);
        return packets;
      },
    },
  ];
  const rows = await timeInterleaved(cases, runs);
  const base = (name: string): number => rows.find((r) => r.name.startsWith(name))?.stats?.medianMs ?? NaN;
  const pp = base('pcap-parser');
  const td = base('tcpdump');
  const throughput: Table = {
    title: `Read ${packets.toLocaleString('en-US')} packets (${fmt(mb, 1)} MB), median of ${runs} interleaved passes`,
    columns: ['reader', 'median ms', 'min ms', 'Mpps', 'MB/s', 'vs pcap-parser', 'vs tcpdump'],
    rows: rows.map((r): Cell[] =>
      r.stats
        ? [
            r.name,
            fmt(r.stats.medianMs, 1),
            fmt(r.stats.minMs, 1),
            fmt(r.stats.items / r.stats.medianMs / 1000, 2),
            fmt(mb / (r.stats.medianMs / 1000), 0),
            ratio(r.stats.medianMs, pp),
            ratio(r.stats.medianMs, td),
          ]
        : [r.name, `error: ${r.error}`, '-', '-', '-', '-', '-'],
    ),
  };

  // --- chunk size (how DEFAULT_CHUNK_SIZE was picked)
  ctx.log('timing: chunk sizes');
  const chunkSizes = [64 * 1024, 256 * 1024, MiB, 4 * MiB];
  const chunkResults = await timeInterleaved(
    chunkSizes.map((size) => ({ name: `${size / 1024} KiB`, pass: () => readOurs(cap.path, size) })),
    runs,
  );
  const chunkMedians = new Map<number, number>();
  const chunkRows: Cell[][] = chunkResults.map((r, i) => {
    if (!r.stats) return [r.name, `error: ${r.error}`, '-', '-'];
    chunkMedians.set(chunkSizes[i]!, r.stats.medianMs);
    return [r.name, fmt(r.stats.medianMs, 1), fmt(r.stats.minMs, 1), fmt(r.stats.items / r.stats.medianMs / 1000, 2)];
  });
  const fastest = [...chunkMedians.entries()].sort((a, b) => a[1] - b[1])[0];
  const defaultMs = chunkMedians.get(DEFAULT_CHUNK_SIZE);
  const chunks: Table = { title: 'Read chunk size (hubcap reader, read only)', columns: ['chunk', 'median ms', 'min ms', 'Mpps'], rows: chunkRows };

  // --- micro: the parse alone over 4 MiB in memory, and one timestamp conversion
  ctx.log('timing: micro operations');
  const file = readFileSync(cap.path);
  const slice = new Uint8Array(file.subarray(0, Math.min(file.length, 4 * MiB)));
  let framesInSlice = 0;
  {
    const p = new CaptureParser('slice');
    p.push(slice, () => framesInSlice++);
  }
  let sink = 0;
  const unit = new TimestampUnit(9);
  const out = { tsSec: 0, tsNsec: 0 };
  const tsList = Array.from({ length: 1024 }, (_, i) => 1_732_240_000_000_000_000n + BigInt(i) * 7_777_777n);
  const his = Uint32Array.from(tsList, (t) => Number(t >> 32n));
  const los = Uint32Array.from(tsList, (t) => Number(t & 0xffffffffn));
  const parseName = `CaptureParser.push of 4 MiB in memory (${framesInSlice} frames, no I/O)`;
  const parse = await runMicro(
    'Parse alone (tinybench)',
    [
      {
        name: parseName,
        fn: () => {
          const p = new CaptureParser('slice');
          p.push(slice, (f) => {
            sink += f.caplen;
          });
        },
      },
    ],
    ctx.quick ? 200 : 1000,
  );
  const stamps = await runMicro(
    'pcapng nanosecond timestamps -> (tsSec, tsNsec), 1024 conversions per op (tinybench)',
    [
      {
        name: 'TimestampUnit: multiply by 1/D, exact remainder mod 2^32',
        fn: () => {
          for (let i = 0; i < 1024; i++) {
            unit.convert(his[i]!, los[i]!, out);
            sink += out.tsNsec;
          }
        },
      },
      {
        name: 'BigInt division',
        fn: () => {
          for (let i = 0; i < 1024; i++) {
            const t = (BigInt(his[i]!) << 32n) | BigInt(los[i]!);
            out.tsSec = Number(t / 1_000_000_000n);
            out.tsNsec = Number(t % 1_000_000_000n);
            sink += out.tsNsec;
          }
        },
      },
    ],
    ctx.quick ? 200 : 1000,
  );
  if (sink === -1) ctx.log('unreachable');
  const parseHz = parse.hz.get(parseName) ?? NaN;

  const ourRow = rows[0]?.stats;
  const notes = [
    `Correctness gate: all three readers counted ${packets.toLocaleString('en-US')} packets; ours and pcap-parser produced the same digest over caplen, length, timestamp and first/last byte of every packet.`,
    `Decoded packet kinds (read + decode gate, 0 decode errors required): ${kinds
      .map((n, kind) => (n ? `${['other', 'tcp', 'udp', 'sctp', 'icmp', 'icmpv6', 'arp', 'ip-other'][kind]} ${n}` : ''))
      .filter(Boolean)
      .join(', ')}.`,
    `"vs X" is X's median time divided by this row's (how many times faster than X). tcpdump's time includes starting the process (a few ms).`,
    `Parsing a 4 MiB slice already in memory (and in cache) runs at ${fmt((parseHz * framesInSlice) / 1e6, 1)} Mpps: the file rows also pay for the read syscalls and the copy out of the page cache (overlapped with parsing by double buffering).`,
    fastest && defaultMs
      ? `Chunk size: fastest in this run ${fastest[0] / 1024} KiB (${fmt(fastest[1], 1)} ms); DEFAULT_CHUNK_SIZE (${DEFAULT_CHUNK_SIZE / 1024} KiB) took ${fmt(defaultMs, 1)} ms (${fmt(((defaultMs - fastest[1]) / fastest[1]) * 100, 0)}% slower than the fastest).`
      : 'Chunk size: no comparison (a row errored).',
  ];
  if (ourRow) {
    notes.unshift(
      `hubcap reads ${fmt(ourRow.items / ourRow.medianMs / 1000, 2)} Mpps on one core at the median pass, ${fmt(ourRow.items / ourRow.minMs / 1000, 2)} Mpps at the best one (target: well above 5 Mpps).`,
    );
  }
  return {
    summary: `Reading a ${packets.toLocaleString('en-US')}-packet Ethernet pcap (${fmt(mb, 1)} MB, generated by bench/lib/gen-capture.ts, from the page cache) with the hubcap reader, pcap-parser and tcpdump in the same run.`,
    tables: [throughput, chunks, parse.table, stamps.table],
    notes,
  };
}

export const suite: Suite = { name: 'capture/read', run };
