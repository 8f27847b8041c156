/**
 * End-to-end replay throughput: a generated 1,000,000-packet capture whose traffic runs between
 * the pods of a generated 1,000-pod cluster with 200 policies (plus nodes, services through
 * their ClusterIPs, DNS and outside hosts), through read -> decode -> datapath -> summary, side
 * by side with read+decode alone in the same run. Target (issue 4): >= 1 Mpps end to end on one
 * core with `-o summary` (formatting excluded), TS backend.
 *
 * A second table splits the time by stage: each row runs the pipeline up to one more stage
 * (duplicate suppression, conntrack, the rest of the datapath, the summary), interleaved, so the
 * difference between two rows is what that stage costs in the pipeline (with the cache pressure
 * of the stages before it).
 *
 * Knobs: BENCH_REPLAY_PACKETS (1000000), BENCH_REPLAY_PODS (1000), BENCH_REPLAY_POLICIES (200),
 * BENCH_REPLAY_RUNS (5), BENCH_REPLAY_STAGES (1: the stage table; 0 skips it).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileMaps } from '../../src/agent/agent.js';
import { openCapture } from '../../src/capture/open.js';
import { decodeFrame } from '../../src/decode/decode.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import type { FlowEvent } from '../../src/datapath/events.js';
import { Deduplicator } from '../../src/datapath/dedup.js';
import { FastPath, hasFastPath } from '../../src/datapath/fast-path.js';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import { loadNative, nativeUnavailableReason, type Backend as MapBackend } from '../../src/maps/native.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary } from '../../src/flow/summary.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { Conntrack, CtTuple } from '../../src/maps/conntrack.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { ensureCapture } from '../lib/gen-capture.js';
import { poolsFor } from '../lib/cluster-pools.js';
import { generateCluster, writeGeneratedCluster, type GeneratedCluster } from '../lib/gen-cluster.js';
import { median } from '../lib/measure.js';
import { fmt, ratio, type Suite, type SuiteReport } from '../lib/suite.js';


interface PassResult {
  ms: number;
  packets: number;
  finals: number;
  dropped: number;
  /** The summary's JSON, for the gate (TS and native must agree on it). */
  summaryJson: string;
  /** Packets the native fast path finished (0 on the TS backend). */
  fastFinished: number;
}

async function readDecode(path: string): Promise<PassResult> {
  const pkt = new DecodedPacket();
  let n = 0;
  const t0 = process.hrtime.bigint();
  await openCapture(path).run((frame) => {
    decodeFrame(frame, pkt);
    n++;
  });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, packets: n, finals: 0, dropped: 0, summaryJson: '', fastFinished: 0 };
}

async function replay(path: string, doc: MapsDocument, perPacket: boolean, backend: MapBackend = 'ts'): Promise<PassResult> {
  const ctx = new FlowContext(doc);
  const state = new DatapathState(doc, { backend });
  let summary: FlowSummary | undefined;
  const sink = (ev: FlowEvent): void => {
    summary!.add(ev);
  };
  const dp = new Datapath(state, sink, { perPacket });
  summary = new FlowSummary(ctx, { counters: dp.counters });
  // As `hubcap replay --backend native -o summary` runs: the addon's fast path finishes the
  // common packets (src/datapath/fast-path.ts).
  const addon = backend === 'native' ? loadNative() : undefined;
  const fast = addon !== undefined && hasFastPath(addon) ? new FastPath(addon, dp, summary, undefined) : undefined;
  const pkt = new DecodedPacket();
  const t0 = process.hrtime.bigint();
  await openCapture(path).run(
    (frame) => {
      if (fast !== undefined) {
        fast.process(frame);
        return;
      }
      decodeFrame(frame, pkt);
      // As `hubcap replay` calls it: the frame lets dedup hash content and tell interfaces apart.
      dp.process(pkt, frame.tsSec, frame.tsNsec, frame);
    },
    fast !== undefined ? () => fast.chunkDone() : undefined,
    fast,
  );
  fast?.finish();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  summary.lines();
  const json = summary.toJSON();
  // The summary counts one final event per IP packet, by verdict.
  return { ms, packets: dp.counters.frames, finals: json.packets.total, dropped: json.packets.DROPPED ?? 0, summaryJson: JSON.stringify(json), fastFinished: fast?.finished ?? 0 };
}

/** read + decode + dedup (the datapath's table and window). */
async function upToDedup(path: string): Promise<number> {
  const pkt = new DecodedPacket();
  const dedup = new Deduplicator(1_000_000, 8192);
  const t0 = process.hrtime.bigint();
  await openCapture(path).run((frame) => {
    decodeFrame(frame, pkt);
    dedup.isDuplicate(pkt, frame.tsSec, frame.tsNsec, frame);
  });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** read + decode + dedup + conntrack (lookup, create, touch of every packet's connection). */
async function upToConntrack(path: string): Promise<number> {
  const pkt = new DecodedPacket();
  const dedup = new Deduplicator(1_000_000, 8192);
  const ct = new Conntrack();
  const tuple = new CtTuple();
  const t0 = process.hrtime.bigint();
  await openCapture(path).run((frame) => {
    decodeFrame(frame, pkt);
    if (pkt.ipVersion === 0 || dedup.isDuplicate(pkt, frame.tsSec, frame.tsNsec, frame)) return;
    const now = ct.clockMs(frame.tsSec, frame.tsNsec);
    tuple.setFromPacket(pkt);
    let row = ct.lookupRow(tuple, now, pkt.tcpFlags);
    const dir = ct.lastDir;
    if (row < 0) row = ct.createRow(tuple, now);
    ct.touchRow(row, dir, pkt.tcpFlags, pkt.ipLength, now);
  });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The whole datapath with a sink that drops every event (no summary). */
async function datapathOnly(path: string, doc: MapsDocument): Promise<number> {
  const dp = new Datapath(new DatapathState(doc), () => {});
  const pkt = new DecodedPacket();
  const t0 = process.hrtime.bigint();
  await openCapture(path).run((frame) => {
    decodeFrame(frame, pkt);
    dp.process(pkt, frame.tsSec, frame.tsNsec, frame);
  });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export const suite: Suite = {
  name: 'datapath/replay',
  async run(ctx) {
    const packets = Number(process.env.BENCH_REPLAY_PACKETS ?? (ctx.quick ? 100_000 : 1_000_000));
    const pods = Number(process.env.BENCH_REPLAY_PODS ?? 1000);
    const policies = Number(process.env.BENCH_REPLAY_POLICIES ?? 200);
    const runs = Number(process.env.BENCH_REPLAY_RUNS ?? (ctx.quick ? 2 : 5));
    const stages = (process.env.BENCH_REPLAY_STAGES ?? '1') !== '0';

    ctx.log(`generating a ${pods}-pod cluster with ${policies} policies`);
    const cluster = generateCluster({ pods, policies });
    const objects = loadClusterText(`${cluster.clusterYaml}\n---\n${cluster.policyYaml}`, 'generated.yaml');
    const doc = compileMaps(objects, parsePolicies(objects.policies));
    ctx.log(`generating a ${packets}-packet capture between its pods`);
    const capture = ensureCapture({ packets, pools: poolsFor(cluster, doc), seed: 7 });

    // Correctness gate: one final event per IP packet, and a mix of verdicts.
    const gate = await replay(capture.path, doc, false);
    // The native backend (issue 6: end-to-end pps native versus TS), when the addon is built;
    // same verdicts first.
    const native = loadNative() !== undefined;
    let nativeFinished = 0;
    if (native) {
      const g = await replay(capture.path, doc, false, 'native');
      if (g.summaryJson !== gate.summaryJson) throw new Error(`gate: the native backend's summary differs from TS's (${g.dropped} vs ${gate.dropped} drops)`);
      nativeFinished = g.fastFinished;
    } else ctx.log(`native backend unavailable (${nativeUnavailableReason() ?? 'unknown'}): its row is left out`);
    if (gate.packets !== packets) throw new Error(`gate: read ${gate.packets} of ${packets} packets`);
    if (gate.finals !== packets) throw new Error(`gate: ${gate.finals} final events for ${packets} packets`);
    if (gate.dropped === 0 || gate.dropped === packets) throw new Error(`gate: ${gate.dropped} drops: the traffic does not exercise policy`);

    const rd: number[] = [];
    const rp: number[] = [];
    const pp: number[] = [];
    const np: number[] = [];
    const sd: number[] = [];
    const sc: number[] = [];
    const sp: number[] = [];
    for (let i = 0; i < runs; i++) {
      rd.push((await readDecode(capture.path)).ms);
      rp.push((await replay(capture.path, doc, false)).ms);
      pp.push((await replay(capture.path, doc, true)).ms);
      if (native) np.push((await replay(capture.path, doc, false, 'native')).ms);
      if (stages) {
        sd.push(await upToDedup(capture.path));
        sc.push(await upToConntrack(capture.path));
        sp.push(await datapathOnly(capture.path, doc));
      }
      ctx.log(`run ${i + 1}/${runs}: read+decode ${fmt(rd.at(-1)!, 0)} ms, replay ${fmt(rp.at(-1)!, 0)} ms, per-packet ${fmt(pp.at(-1)!, 0)} ms`);
    }
    const mpps = (ms: number): string => fmt(packets / ms / 1000, 2);

    // The CLI as a user runs it (compile from YAML included), once.
    const dir = mkdtempSync(join(tmpdir(), 'hubcap-bench-replay-'));
    let cliMs = NaN;
    try {
      const files = writeGeneratedCluster(dir, cluster);
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'hubcap.js'), 'replay', capture.path, '--cluster', files.clusterFile, '--policy', files.policyFile, '-o', 'summary', '-q'], {
        encoding: 'utf8',
        maxBuffer: 1 << 28,
      });
      cliMs = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`hubcap replay failed: ${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const medRd = median(rd);
    const medRp = median(rp);
    const medPp = median(pp);
    const tables: SuiteReport['tables'] = [];
    if (stages) {
      // Each row adds one stage. "stage ms" is the median over the rounds of the row's pass minus
      // the row above's pass of the same round: this VM's speed drifts by up to 2x between
      // phases lasting minutes, and a difference of two medians taken from different rounds
      // can come out negative; passes of one round (seconds apart) see the same phase.
      const rows: Array<[string, number[]]> = [
        ['read + decode', rd],
        ['+ duplicate suppression (dedup table)', sd],
        ['+ conntrack (lookup, create, touch)', sc],
        ['+ the rest of the datapath (services, endpoints, policy, events; no sink)', sp],
        ['+ summary (`-o summary` counting, no formatting)', rp],
      ];
      tables.push({
        title: 'Where the time goes: the pipeline up to each stage',
        columns: ['up to', 'median ms', 'stage ms (median of per-round differences)', 'ns per packet (stage)', 'Mpps'],
        rows: rows.map(([name, passes], i) => {
          const stage = i === 0 ? median(passes) : median(passes.map((ms, round) => ms - rows[i - 1]![1][round]!));
          return [name, fmt(median(passes), 0), fmt(stage, 0), fmt((stage * 1e6) / packets, 0), mpps(median(passes))];
        }),
      });
    }
    return {
      summary:
        `Replaying ${packets.toLocaleString('en-US')} packets (${fmt(capture.bytes / 1e6, 1)} MB, ~100k connections between ${pods} pods, nodes, ` +
        `ClusterIPs, DNS and outside hosts) against ${pods} pods and ${policies} policies (TS backend unless a row says native), median of ${runs} interleaved passes.`,
      tables: [
        {
          title: 'Throughput, one core',
          columns: ['pipeline', 'median ms', 'min ms', 'Mpps', 'vs read+decode'],
          rows: [
            ['read + decode only', fmt(medRd, 0), fmt(Math.min(...rd), 0), mpps(medRd), '1.00x'],
            ['read + decode + datapath + summary (connection-aware)', fmt(medRp, 0), fmt(Math.min(...rp), 0), mpps(medRp), ratio(medRp, medRd)],
            ['same, --per-packet', fmt(medPp, 0), fmt(Math.min(...pp), 0), mpps(medPp), ratio(medPp, medRd)],
            ...(native ? [['same, --backend native (connection-aware)', fmt(median(np), 0), fmt(Math.min(...np), 0), mpps(median(np)), ratio(median(np), medRd)]] : []),
            ['`hubcap replay -o summary` (CLI, compile from YAML included), once', fmt(cliMs, 0), fmt(cliMs, 0), mpps(cliMs), ratio(cliMs, medRd)],
          ],
        },
        ...tables,
      ],
      notes: [
        `End to end ${mpps(medRp)} Mpps (target >= 1 Mpps): ${packets / medRp / 1000 >= 1 ? 'met' : 'NOT met'}.`,
        ...(native
          ? [
              `Native backend end to end ${mpps(median(np))} Mpps (issue 6 target >= 3 Mpps and >= 2x TS): ` +
                `${packets / median(np) / 1000 >= 3 && medRp / median(np) >= 2 ? 'met' : 'NOT met'} (${fmt(medRp / median(np), 2)}x TS). ` +
                `The addon's fast path (native/fastpath/) finished ${nativeFinished.toLocaleString('en-US')} of ${packets.toLocaleString('en-US')} packets (${fmt((100 * nativeFinished) / packets, 1)}%) itself: decode, duplicate suppression, service translation, conntrack (new connections' entries included), endpoints, both stages' policy for new connections and the summary's counting, on the TypeScript structures' own arrays. ` +
                'The rest (proxied connections, the first connections of a conntrack table, packets whose TypeScript tables must grow) goes through the TypeScript program. ' +
                'The gate above checks that the native run\'s summary equals the TS run\'s, byte for byte.',
            ]
          : []),
        `Gate: ${gate.finals.toLocaleString('en-US')} final events for ${packets.toLocaleString('en-US')} packets; ${gate.dropped.toLocaleString('en-US')} dropped.`,
        '"vs read+decode" below 1.00x is the cost of the datapath relative to reading alone (the ratio is read+decode time / pipeline time).',
      ],
    };
  },
};
