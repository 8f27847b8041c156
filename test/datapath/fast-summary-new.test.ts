/**
 * The summary port's new-connection half (native/fastpath/summary.h SummaryCheck/Commit
 * PolicyVerdict, Translated and NewFinal) against src/flow/summary.ts FlowSummary.add: the same
 * event streams (connections opening: a translation, policy verdicts per direction with rule
 * ids in and out of range, the first final event with a new endpoint pair, then later packets)
 * go to a pure TypeScript summary and to a twin whose policy-verdict, translation and final
 * events are first offered to the native check (+ commit), over the twin's own typed arrays and
 * scalar block; TypeScript counts whatever the check refuses. After every event every array and
 * scalar must be identical, and toJSON() / lines() at checkpoints and at the end. A refusal
 * must be justified (TypeScript then grew an array, or the connection has no dense record, or
 * the drop needed a victim), so the check is not merely cautious. The addon must be built (a
 * missing addon fails, style.md).
 */
import { describe, expect, it } from 'vitest';
import { EventKind, FlowEvent, ObservationPoint, TrafficDirection, Verdict } from '../../src/datapath/events.js';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { FlowContext } from '../../src/flow/context.js';
import {
  FlowSummary,
  SUMMARY_LAYOUT,
  SUMMARY_SCALAR_WORDS,
  summaryArrayArgs,
  summaryNewArrayArgs,
  type SummaryNativeArrays,
  type SummaryOptions,
} from '../../src/flow/summary.js';
import { event, packet, starWarsDoc, type Proto } from '../flow/fixtures.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';
import { outcome, packFinal } from '../helpers/summary-events.js';
import { SummaryTwin } from '../helpers/summary-twin.js';

/** summary_testing.cc addNew's ops. */
const OP_FINAL = 0;
const OP_POLICY_VERDICT = 1;
const OP_TRANSLATED = 2;

type AddNew = (op: number, ev: Float64Array, mode?: number) => number;
interface SummaryTesting {
  summaryNewBind: (...args: unknown[]) => AddNew;
  summaryEventWords: number;
  summaryScalarWords: number;
}

function testing(): SummaryTesting {
  return nativeOrFail().fastpathTesting as unknown as SummaryTesting;
}

const ctx = new FlowContext(starWarsDoc());
const RULES = ctx.doc.rules.length;
const L = SUMMARY_LAYOUT;

/** summaryNewBind's arguments: the fast path's arrays, the new connection's, the block and where. */
function bindArgs(a: SummaryNativeArrays, block: Float64Array, at: number): unknown[] {
  return [...summaryArrayArgs(a), ...summaryNewArrayArgs(a), block, at];
}

function packVerdict(ev: FlowEvent, out: Float64Array): Float64Array {
  out[0] = ev.verdict;
  out[1] = ev.trafficDirection;
  out[2] = ev.rule;
  out[3] = ev.connection;
  return out;
}

/** Every array nativeArrays gives and the scalars (from `block` when the native side has them). */
function internals(s: FlowSummary, block?: Float64Array, at = 0): Record<string, unknown> {
  const a = s.nativeArrays() as unknown as Record<string, unknown>;
  const scalars = new Float64Array(SUMMARY_SCALAR_WORDS);
  if (block !== undefined) scalars.set(block.subarray(at, at + SUMMARY_SCALAR_WORDS));
  else s.saveScalars(scalars, 0);
  return { ...a, scalars };
}

/** A copy of internals(), to compare later with sameInternals. */
function snapshot(x: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = ArrayBuffer.isView(v) ? (v as unknown as Float64Array).slice() : v;
  return out;
}

function sameInternals(a: Record<string, unknown>, b: Record<string, unknown>, context: string): void {
  for (const k of Object.keys(a)) {
    const u = a[k];
    const v = b[k];
    if (ArrayBuffer.isView(u) && ArrayBuffer.isView(v)) {
      const bu = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
      const bv = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (!bu.equals(bv)) {
        const ua = Array.from(u as unknown as ArrayLike<number>);
        const va = Array.from(v as unknown as ArrayLike<number>);
        const i = ua.findIndex((n, j) => !Object.is(n, va[j]));
        expect({ key: k, index: i, twin: va[i], lengths: va.length }, context).toEqual({ key: k, index: i, twin: ua[i], lengths: ua.length });
      }
    } else if (!Object.is(u, v)) {
      expect(v, `${context}: ${k}`).toEqual(u);
    }
  }
}

interface Stats {
  offered: { final: number; verdict: number; translated: number };
  commits: { final: number; verdict: number; translated: number };
  refusals: { final: number; verdict: number; translated: number };
  tsDirect: number;
  checkOnly: number;
  rebinds: number;
  /** Final commits that inserted a pair, went to "(other pairs)", flushed a pending count... */
  newPairCommits: number;
  foundPairCommits: number;
  otherPairsCommits: number;
  uncachedCommits: number;
  truncatingCommits: number;
  evictionCommits: number;
  ruleCounted: number;
  ruleOutOfRange: number;
  ignoredVerdicts: number;
  translatedCounted: number;
  growthRefusals: number;
}

function newStats(): Stats {
  return {
    offered: { final: 0, verdict: 0, translated: 0 },
    commits: { final: 0, verdict: 0, translated: 0 },
    refusals: { final: 0, verdict: 0, translated: 0 },
    tsDirect: 0,
    checkOnly: 0,
    rebinds: 0,
    newPairCommits: 0,
    foundPairCommits: 0,
    otherPairsCommits: 0,
    uncachedCommits: 0,
    truncatingCommits: 0,
    evictionCommits: 0,
    ruleCounted: 0,
    ruleOutOfRange: 0,
    ignoredVerdicts: 0,
    translatedCounted: 0,
    growthRefusals: 0,
  };
}

/**
 * A FlowSummary whose policy-verdict, translation and final events go to the native port first.
 * Its scalars live in `block` while the native side counts.
 */
class NativeTwin extends SummaryTwin<AddNew> {
  private readonly finalWords: Float64Array;
  private readonly verdictWords = new Float64Array(4);
  private readonly connWords = new Float64Array(1);
  readonly stats = newStats();

  constructor(
    private readonly t: SummaryTesting,
    options: SummaryOptions,
  ) {
    super(new FlowSummary(ctx, options), SUMMARY_SCALAR_WORDS + 6);
    this.finalWords = new Float64Array(t.summaryEventWords);
  }

  /** The fast path's "bind again?" test: the three arrays it watches, and the pair buckets. */
  protected watchedArrays(): readonly unknown[] {
    const s = this.s;
    return [s.nativeRecords, s.nativePairPackets, s.nativePairConnections, s.nativePairBuckets];
  }

  protected bind(): AddNew {
    return this.t.summaryNewBind(...bindArgs(this.s.nativeArrays(), this.block, this.at));
  }

  protected rebound(): void {
    this.stats.rebinds++;
  }

  internals(): Record<string, unknown> {
    return this.nativeOwnsScalars ? internals(this.s, this.block, this.at) : internals(this.s);
  }

  private denseRecord(conn: number): number {
    return conn > 0 && conn < L.DENSE_LIMIT && Number.isInteger(conn) && conn * L.REC < this.s.nativeRecords.length ? conn * L.REC : -1;
  }

  /** TypeScript counts `ev` after a refusal, which must have had a reason. */
  private refused(ev: FlowEvent, what: 'final' | 'verdict' | 'translated', victim: boolean): void {
    const st = this.stats;
    st.refusals[what]++;
    const dense = this.denseRecord(ev.connection) >= 0;
    const before = { r: this.s.nativeRecords, p: this.s.nativePairPackets, c: this.s.nativePairConnections, b: this.s.nativePairBuckets };
    this.toTs();
    this.s.add(ev);
    const grew = before.r !== this.s.nativeRecords || before.p !== this.s.nativePairPackets || before.c !== this.s.nativePairConnections || before.b !== this.s.nativePairBuckets;
    if (grew && dense) st.growthRefusals++;
    expect(!dense || grew || victim, `refused ${what} event of connection ${ev.connection} without a reason`).toBe(true);
  }

  /** Counts `ev`; `route`: 0 native first, 1 TypeScript, 2 native check only then TypeScript, 3 split check (final). */
  add(ev: FlowEvent, route: number): void {
    const st = this.stats;
    const isVerdict = ev.kind === EventKind.POLICY_VERDICT;
    const isTranslated = !isVerdict && ev.kind !== EventKind.L7 && ev.verdict === Verdict.TRANSLATED;
    const isFinal =
      !isVerdict && !isTranslated && ev.isFinal && (ev.kind === EventKind.DROP || ev.kind === EventKind.TRACE) && ev.packet !== undefined;
    if ((!isVerdict && !isTranslated && !isFinal) || route === 1) {
      if (route === 1) st.tsDirect++;
      this.toTs();
      this.s.add(ev);
      return;
    }
    const fn = this.toNative();
    const mode = route === 2 ? 1 : route === 3 ? 2 : 0;
    const conn = ev.connection;
    const rec = this.denseRecord(conn);
    const recs = this.s.nativeRecords;
    const at = this.at;
    if (isVerdict) {
      st.offered.verdict++;
      const before = rec >= 0 ? recs[rec + L.R_MASK]! : 0;
      const got = fn(OP_POLICY_VERDICT, packVerdict(ev, this.verdictWords), mode);
      if (got === 1 && mode !== 1) {
        st.commits.verdict++;
        if (rec < 0) st.ignoredVerdicts++;
        else if (recs[rec + L.R_MASK] !== before) {
          st.ruleCounted++;
          if (ev.rule < 0 || ev.rule >= RULES) st.ruleOutOfRange++;
        }
        return;
      }
      if (got === 1) st.checkOnly++;
      if (got === 1) {
        this.toTs();
        this.s.add(ev);
      } else this.refused(ev, 'verdict', false);
      return;
    }
    if (isTranslated) {
      st.offered.translated++;
      this.connWords[0] = conn;
      const n = this.block[at + 3]!;
      const got = fn(OP_TRANSLATED, this.connWords, mode);
      if (got === 1 && mode !== 1) {
        st.commits.translated++;
        if (this.block[at + 3]! > n) st.translatedCounted++;
        return;
      }
      if (got === 1) {
        st.checkOnly++;
        this.toTs();
        this.s.add(ev);
      } else this.refused(ev, 'translated', false);
      return;
    }
    st.offered.final++;
    const pairs = this.block[at + 4]!;
    const truncated = this.block[at + 5]!;
    const evictions = this.block[at + 2]!;
    const capacity = this.s.nativeArrays().capacity;
    const victim = outcome(ev) === Verdict.DROPPED && capacity > 0 && rec >= 0 && recs[rec + L.R_DROP_SLOT] === 0 && this.block[at + 1]! >= capacity;
    const pairBefore = rec >= 0 ? recs[rec + L.R_PAIR]! : 0;
    let srcSide = ev.srcEndpoint >= 0 ? ev.srcEndpoint : -1 - ev.srcIdentity;
    let dstSide = ev.dstEndpoint >= 0 ? ev.dstEndpoint : -1 - ev.dstIdentity;
    if (ev.isReply) [srcSide, dstSide] = [dstSide, srcSide];
    const hit = rec >= 0 && pairBefore !== 0 && recs[rec + L.R_SRC_SIDE] === srcSide && recs[rec + L.R_DST_SIDE] === dstSide;
    const got = fn(OP_FINAL, packFinal(ev, this.finalWords), mode);
    if (got === 1 && mode !== 1) {
      st.commits.final++;
      if (!hit) {
        // The pair was inserted, or the sides are beyond int32 (never cached), or the record now
        // caches "(other pairs)" (pair 0), or an existing pair was found.
        if (this.block[at + 4]! > pairs) st.newPairCommits++;
        else if ((srcSide | 0) !== srcSide || (dstSide | 0) !== dstSide) st.uncachedCommits++;
        else if (recs[rec + L.R_PAIR] === 1) st.otherPairsCommits++;
        else st.foundPairCommits++;
        if (this.block[at + 5]! > truncated) st.truncatingCommits++;
      }
      if (this.block[at + 2]! > evictions) st.evictionCommits++;
      return;
    }
    if (got === 1) {
      st.checkOnly++;
      this.toTs();
      this.s.add(ev);
    } else this.refused(ev, 'final', victim);
  }

  checkBlock(): void {
    const b = this.block;
    if (b[0] !== -7 || b[this.at - 1] !== -7 || b[this.at + SUMMARY_SCALAR_WORDS] !== -7) {
      expect([b[0], b[this.at - 1], b[this.at + SUMMARY_SCALAR_WORDS]], 'words around the scalars').toEqual([-7, -7, -7]);
    }
  }
}

// ---- Event streams of new connections -----------------------------------------------------------

const IDENTITIES = [1, 2, 6, 9, 6530, 19440, 34545, 16777217, 16777300, 0x80000005, 0xfffffff0];
const REASONS = [133, 181, 153, 167, 130, 205];
/** Verdicts of policy-verdict events: the four counted ones, and three addPolicyVerdict ignores. */
const PV_VERDICTS = [Verdict.FORWARDED, Verdict.FORWARDED, Verdict.DROPPED, Verdict.AUDIT, Verdict.REDIRECTED, Verdict.TRACED, Verdict.UNKNOWN, Verdict.ERROR];

interface Conn {
  id: number;
  fwd: DecodedPacket;
  rev: DecodedPacket;
  srcEndpoint: number;
  dstEndpoint: number;
  srcIdentity: number;
  dstIdentity: number;
  denied: boolean;
  audited: boolean;
  reason: number;
}

function addr(r: () => number, v6: boolean): string {
  return v6 ? `fd00:${(r() % 0xffff).toString(16)}::${(r() % 0xffff).toString(16)}` : `10.${r() % 256}.${r() % 256}.${r() % 256}`;
}

interface StreamOptions {
  seed: number;
  events: number;
  summary: SummaryOptions;
  /** Endpoints the sides are drawn from (more: more pairs). */
  endpoints: number;
  /** Chance in 100 of each route: TypeScript only, check only, split check. */
  tsDirect: number;
  checkOnly: number;
  split: number;
  /** Events between toJSON / lines() checkpoints (0: only at the end). */
  checkpoint: number;
}

/** Connection numbers as conntrack gives them (increasing), with a few synthetic and sparse ones. */
function makeConn(r: () => number, next: () => number, endpoints: number): Conn {
  const k = r() % 100;
  const id = k < 2 ? 0 : k < 3 ? -1 - (r() % 5) : k < 4 ? L.DENSE_LIMIT + (r() % 1000) : next();
  const v6 = r() % 5 === 0;
  const sel = r() % 10;
  const proto: Proto = sel < 6 ? 'tcp' : sel < 9 ? 'udp' : v6 ? 'icmpv6' : 'icmp';
  const a = addr(r, v6);
  const b = addr(r, v6);
  const sport = 1024 + (r() % 60000);
  const dport = [80, 443, 53, 8080][r() % 4]!;
  return {
    id,
    fwd: packet({ src: a, dst: b, proto, sport, dport }),
    rev: packet({ src: b, dst: a, proto, sport: dport, dport: sport }),
    srcEndpoint: r() % 3 === 0 ? -1 : r() % endpoints,
    dstEndpoint: r() % 3 === 0 ? -1 : r() % endpoints,
    srcIdentity: IDENTITIES[r() % IDENTITIES.length]!,
    dstIdentity: IDENTITIES[r() % IDENTITIES.length]!,
    denied: r() % 3 === 0,
    audited: r() % 10 === 0,
    reason: REASONS[r() % REASONS.length]!,
  };
}

function sides(c: Conn, reply: boolean): Pick<FlowEvent, 'srcEndpoint' | 'dstEndpoint' | 'srcIdentity' | 'dstIdentity'> {
  return reply
    ? { srcEndpoint: c.dstEndpoint, dstEndpoint: c.srcEndpoint, srcIdentity: c.dstIdentity, dstIdentity: c.srcIdentity }
    : { srcEndpoint: c.srcEndpoint, dstEndpoint: c.dstEndpoint, srcIdentity: c.srcIdentity, dstIdentity: c.dstIdentity };
}

function finalEvent(r: () => number, c: Conn, reply: boolean, first: boolean): FlowEvent {
  const p = reply ? c.rev : c.fwd;
  if (c.denied) {
    return event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: c.reason,
      inherited: !first,
      isFinal: true,
      isReply: reply,
      connection: c.id,
      packet: p,
      ...sides(c, reply),
    });
  }
  const y = r() % 100;
  return event({
    kind: EventKind.TRACE,
    verdict: Verdict.FORWARDED,
    observationPoint: y < 5 ? ObservationPoint.TO_PROXY : y < 50 ? ObservationPoint.TO_ENDPOINT : ObservationPoint.TO_STACK,
    audited: c.audited,
    dropReason: c.audited ? c.reason : 0,
    isFinal: true,
    isReply: reply,
    connection: c.id,
    packet: p,
    ...sides(c, reply),
  });
}

function runStream(o: StreamOptions): { stats: Stats; pure: FlowSummary; twin: NativeTwin } {
  const t = testing();
  const r = rng(o.seed);
  const pure = new FlowSummary(ctx, o.summary);
  const twin = new NativeTwin(t, o.summary);
  let nextId = 0;
  const next = (): number => (nextId += 1 + (r() % 3 === 0 ? r() % 4 : 0));
  const live: Conn[] = [];
  let i = 0;
  const both = (ev: FlowEvent, route: number): void => {
    pure.add(ev);
    twin.add(ev, route);
    twin.checkBlock();
    sameInternals(internals(pure), twin.internals(), `event ${i} (kind ${ev.kind}, connection ${ev.connection})`);
    if (o.checkpoint > 0 && ++i % o.checkpoint === 0) {
      twin.toTs();
      expect(JSON.stringify(twin.s.toJSON()), `toJSON at event ${i}`).toBe(JSON.stringify(pure.toJSON()));
      expect(twin.s.lines()).toEqual(pure.lines());
      sameInternals(internals(pure), twin.internals(), `after toJSON at event ${i}`);
    }
  };
  const route = (): number => {
    const x = r() % 100;
    return x < o.tsDirect ? 1 : x < o.tsDirect + o.checkOnly ? 2 : x < o.tsDirect + o.checkOnly + o.split ? 3 : 0;
  };
  while (i < o.events) {
    if (live.length === 0 || r() % 3 === 0) {
      // A new connection: its first packet's events in the datapath's order.
      const c = makeConn(r, next, o.endpoints);
      live.push(c);
      if (live.length > 400) live.splice(r() % live.length, 1);
      if (r() % 5 === 0) both(event({ kind: EventKind.TRACE, verdict: Verdict.TRANSLATED, connection: c.id, packet: c.fwd }), route());
      const stages = 1 + (r() % 2);
      for (let s = 0; s < stages; s++) {
        const verdict = c.denied && s === stages - 1 ? Verdict.DROPPED : c.audited ? Verdict.AUDIT : PV_VERDICTS[r() % PV_VERDICTS.length]!;
        both(
          event({
            kind: EventKind.POLICY_VERDICT,
            verdict,
            trafficDirection: [TrafficDirection.EGRESS, TrafficDirection.INGRESS, TrafficDirection.UNKNOWN][r() % 3]!,
            rule: (r() % (RULES + 4)) - 1 + (r() % 20 === 0 ? 1000 : 0),
            connection: c.id,
            packet: c.fwd,
            ...sides(c, false),
          }),
          route(),
        );
      }
      both(finalEvent(r, c, false, true), route());
      continue;
    }
    const c = live[r() % live.length]!;
    const x = r() % 100;
    if (x < 3) {
      // The connection's sides change (an identity change, an endpoint going away): a new pair.
      if (r() % 2 === 0) c.srcIdentity = IDENTITIES[r() % IDENTITIES.length]!;
      else c.dstEndpoint = c.dstEndpoint >= 0 ? -1 : r() % o.endpoints;
      continue;
    }
    if (x < 5) {
      // A translation or policy verdict again (the record's bit is set: nothing counted).
      if (r() % 2 === 0) both(event({ kind: EventKind.TRACE, verdict: Verdict.TRANSLATED, connection: c.id, packet: c.fwd }), route());
      else both(event({ kind: EventKind.POLICY_VERDICT, verdict: Verdict.FORWARDED, trafficDirection: TrafficDirection.EGRESS, rule: r() % RULES, connection: c.id, packet: c.fwd }), route());
      continue;
    }
    if (x < 6) {
      both(event({ kind: EventKind.L7, verdict: Verdict.FORWARDED, l7: { type: 'REQUEST' }, connection: c.id, packet: c.fwd }), route());
      continue;
    }
    if (x < 7) {
      const ev = finalEvent(r, c, false, false);
      ev.packet = undefined as unknown as DecodedPacket; // a final event without a packet: TypeScript's
      both(ev, route());
      continue;
    }
    if (x < 9) c.denied = !c.denied; // the verdict changes (a policy change)
    both(finalEvent(r, c, r() % 2 === 0, false), route());
  }
  twin.toTs();
  twin.checkBlock();
  sameInternals(internals(pure), twin.internals(), 'after the stream');
  expect(JSON.stringify(twin.s.toJSON())).toBe(JSON.stringify(pure.toJSON()));
  expect(twin.s.lines()).toEqual(pure.lines());
  sameInternals(internals(pure), twin.internals(), 'after toJSON');
  // FSUMNEW_STATS=1 prints how the events went.
  if (process.env.FSUMNEW_STATS) console.log(o.seed, JSON.stringify(twin.stats));
  return { stats: twin.stats, pure, twin };
}

describe('summary port, new connections: differential against FlowSummary.add', () => {
  // Arrays are compared after every event, so TopDropped is kept at 1000 slots (its arrays are
  // most of the bytes compared); maxPairs is the default.
  it('default maxPairs: pairs inserted without growth, PairTable growth and rehash left to TypeScript', { timeout: 240_000 }, () => {
    const { stats, pure } = runStream({ seed: 21, events: 24_000, summary: { trackedDropped: 1000 }, endpoints: 40, tsDirect: 10, checkOnly: 5, split: 20, checkpoint: 1000 });
    expect(stats.commits.final).toBeGreaterThan(10_000);
    expect(stats.commits.verdict).toBeGreaterThan(3000);
    expect(stats.commits.translated).toBeGreaterThan(500);
    expect(stats.newPairCommits).toBeGreaterThan(200);
    expect(stats.foundPairCommits).toBeGreaterThan(1000);
    expect(stats.uncachedCommits).toBeGreaterThan(50);
    expect(stats.ruleCounted).toBeGreaterThan(2000);
    expect(stats.ruleOutOfRange).toBeGreaterThan(200);
    expect(stats.translatedCounted).toBeGreaterThan(500);
    expect(stats.growthRefusals).toBeGreaterThan(5); // dense records, pair rows, buckets
    expect(stats.rebinds).toBeGreaterThan(5);
    expect(stats.checkOnly).toBeGreaterThan(500);
    const j = pure.toJSON();
    expect(j.pairs_truncated).toBe(false);
    expect(j.rules.some((x) => x.rule === '(no rule: default deny)')).toBe(true);
    expect(j.rules.some((x) => x.audited > 0)).toBe(true);
    expect(j.rules.some((x) => x.denied > 0)).toBe(true);
  });

  it('few pairs and slots: the "(other pairs)" row, Space-Saving evictions', { timeout: 240_000 }, () => {
    const { stats, pure } = runStream({
      seed: 22,
      events: 30_000,
      summary: { maxPairs: 7, trackedDropped: 6, top: 4 },
      endpoints: 30,
      tsDirect: 10,
      checkOnly: 5,
      split: 20,
      checkpoint: 500,
    });
    const j = pure.toJSON();
    expect(j.pairs_truncated).toBe(true);
    expect(j.top_dropped_approximate).toBe(true);
    expect(stats.truncatingCommits).toBe(1); // the first event beyond maxPairs: natively
    expect(stats.otherPairsCommits).toBeGreaterThan(1000);
    expect(stats.newPairCommits).toBeGreaterThan(0);
    expect(stats.evictionCommits).toBeGreaterThan(200);
    expect(stats.refusals.final).toBeGreaterThan(100);
  });

  it.each([
    ['maxPairs 0: every pair is "(other pairs)"', 23, { maxPairs: 0, trackedDropped: 3 }],
    ['maxPairs 1, one slot', 24, { maxPairs: 1, trackedDropped: 1 }],
    ['maxPairs 16: the table fills exactly at the first growth', 25, { maxPairs: 16, trackedDropped: 0 }],
    ['maxPairs 200, many endpoints', 26, { maxPairs: 200, trackedDropped: 50 }],
  ] as Array<[string, number, SummaryOptions]>)('%s', { timeout: 120_000 }, (_name, seed, summary) => {
    const { stats } = runStream({ seed, events: 12_000, summary, endpoints: 60, tsDirect: 5, checkOnly: 5, split: 30, checkpoint: 700 });
    expect(stats.commits.final).toBeGreaterThan(6000);
  });
});

describe('summary port, new connections: edges', () => {
  const fwdPacket = packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 1000, dport: 80 });

  function forwarded(conn: number, srcEndpoint: number, dstEndpoint: number): FlowEvent {
    return event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      isFinal: true,
      connection: conn,
      packet: fwdPacket,
      srcEndpoint,
      dstEndpoint,
    });
  }

  function bound(s: FlowSummary, block: Float64Array): AddNew {
    s.saveScalars(block, 0);
    return testing().summaryNewBind(...bindArgs(s.nativeArrays(), block, 0));
  }

  it.each([
    ['allowed egress, rule 0', Verdict.FORWARDED, TrafficDirection.EGRESS, 0, 1 * 6 + 3 + 0],
    ['redirected ingress, last rule', Verdict.REDIRECTED, TrafficDirection.INGRESS, RULES - 1, RULES * 6 + 0],
    ['denied, rule -1: slot 0', Verdict.DROPPED, TrafficDirection.INGRESS, -1, 0 * 6 + 1],
    ['audited, rule = rules: slot 0', Verdict.AUDIT, TrafficDirection.EGRESS, RULES, 0 * 6 + 3 + 2],
    ['direction UNKNOWN counts as ingress', Verdict.FORWARDED, TrafficDirection.UNKNOWN, 2, 3 * 6 + 0],
  ])('policy verdict: %s', (_name, verdict, direction, rule, index) => {
    const s = new FlowSummary(ctx);
    const pure = new FlowSummary(ctx);
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    const fn = bound(s, block);
    const ev = event({ kind: EventKind.POLICY_VERDICT, verdict, trafficDirection: direction, rule, connection: 9, packet: fwdPacket });
    for (let k = 0; k < 2; k++) {
      expect(fn(OP_POLICY_VERDICT, packVerdict(ev, new Float64Array(4)))).toBe(1);
      pure.add(ev);
    }
    const rc = s.nativeArrays().ruleConnections;
    expect(rc[index]).toBe(1); // once per connection, direction and outcome
    expect(rc.reduce((a, b) => a + b, 0)).toBe(1);
    sameInternals(internals(pure), internals(s, block), 'policy verdict');
  });

  it.each([['TRACED', Verdict.TRACED], ['UNKNOWN', Verdict.UNKNOWN], ['TRANSLATED', Verdict.TRANSLATED]])(
    'policy verdict %s: ignored, accepted even without a dense record',
    (_name, verdict) => {
      const s = new FlowSummary(ctx);
      const fn = bound(s, new Float64Array(SUMMARY_SCALAR_WORDS));
      const before = snapshot(internals(s));
      expect(fn(OP_POLICY_VERDICT, new Float64Array([verdict, TrafficDirection.EGRESS, 0, 1 << 30]))).toBe(1);
      sameInternals(before, internals(s), 'ignored verdict');
    },
  );

  it('translation: counted once per connection; refused beyond the dense records', () => {
    const s = new FlowSummary(ctx);
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    const fn = bound(s, block);
    expect(fn(OP_TRANSLATED, new Float64Array([5]))).toBe(1);
    expect(fn(OP_TRANSLATED, new Float64Array([5]))).toBe(1);
    expect(fn(OP_TRANSLATED, new Float64Array([6]), 1)).toBe(1); // check only
    expect(block[3]).toBe(1);
    for (const conn of [0, -2, 1024, L.DENSE_LIMIT, 5.5]) expect(fn(OP_TRANSLATED, new Float64Array([conn])), `connection ${conn}`).toBe(0);
    s.loadScalars(block, 0);
    expect(s.toJSON().translated_connections).toBe(1);
  });

  it('a final event: the pair inserted up to the last row and bucket, then refused (growth)', () => {
    const s = new FlowSummary(ctx);
    const pure = new FlowSummary(ctx);
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    let fn = bound(s, block);
    const rows = s.nativeArrays().pairSrc.length; // 16: pairs 1..15 fit, 16 grows
    for (let n = 1; n < rows; n++) {
      const ev = forwarded(n, n, 100 + n);
      expect(fn(OP_FINAL, packFinal(ev, new Float64Array(21))), `pair ${n}`).toBe(1);
      pure.add(ev);
    }
    expect(block[4]).toBe(rows - 1);
    sameInternals(internals(pure), internals(s, block), 'pairs inserted');
    const grow = forwarded(rows, rows, 100 + rows);
    const before = snapshot(internals(s, block));
    expect(fn(OP_FINAL, packFinal(grow, new Float64Array(21)), 1)).toBe(0);
    expect(fn(OP_FINAL, packFinal(grow, new Float64Array(21)))).toBe(0);
    sameInternals(before, internals(s, block), 'refused growth');
    // An existing pair on another connection: found, no insert.
    const again = forwarded(rows + 1, 3, 103);
    expect(fn(OP_FINAL, packFinal(again, new Float64Array(21)))).toBe(1);
    pure.add(again);
    // TypeScript grows the rows (16 -> 32) but not the buckets (32: 16 * 2 fits); then the
    // buckets are full for the native side (17 * 2 > 32) until TypeScript rehashes.
    s.loadScalars(block, 0);
    s.add(grow);
    pure.add(grow);
    fn = bound(s, block);
    const rehash = forwarded(rows + 2, rows + 1, 200);
    expect(fn(OP_FINAL, packFinal(rehash, new Float64Array(21)))).toBe(0);
    s.loadScalars(block, 0);
    const buckets = s.nativePairBuckets;
    s.add(rehash);
    pure.add(rehash);
    expect(s.nativePairBuckets).not.toBe(buckets);
    fn = bound(s, block);
    const after = forwarded(rows + 3, rows + 2, 201);
    expect(fn(OP_FINAL, packFinal(after, new Float64Array(21)))).toBe(1);
    pure.add(after);
    s.loadScalars(block, 0);
    sameInternals(internals(pure), internals(s), 'after growth');
    expect(JSON.stringify(s.toJSON())).toBe(JSON.stringify(pure.toJSON()));
  });

  it('sides beyond int32 are counted on the pair row directly, never cached', () => {
    const s = new FlowSummary(ctx);
    const pure = new FlowSummary(ctx);
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    const fn = bound(s, block);
    const ev = forwarded(4, -1, 2);
    ev.srcIdentity = 0xfffffff0;
    for (let k = 0; k < 3; k++) {
      expect(fn(OP_FINAL, packFinal(ev, new Float64Array(21)))).toBe(1);
      pure.add(ev);
    }
    expect(s.nativeRecords[4 * L.REC + L.R_PAIR]).toBe(0);
    expect(s.nativeArrays().pairPackets[1 * 8 + Verdict.FORWARDED]).toBe(3);
    sameInternals(internals(pure), internals(s, block), 'uncached sides');
  });

  it('refuses without the new arrays bound, and binding checks types and lengths', () => {
    const t = testing();
    const s = new FlowSummary(ctx);
    const a = s.nativeArrays();
    const block = new Float64Array(SUMMARY_SCALAR_WORDS + 1);
    expect(() => t.summaryNewBind(...bindArgs(a, block, 1))).not.toThrow();
    expect(() => t.summaryNewBind(...bindArgs(a, block, 2))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, ruleConnections: new Float64Array(7) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, ruleConnections: new Float64Array(0) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, pairDst: new Float64Array(8) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, pairBuckets: new Int32Array(24) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, pairBuckets: new Uint32Array(32) as unknown as Int32Array }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs({ ...a, maxPairs: 'x' as unknown as number }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryNewBind(...bindArgs(a, block, 0).slice(0, 28))).toThrow(TypeError);
    const fn = t.summaryNewBind(...bindArgs(a, block, 0));
    expect(() => fn(3, new Float64Array(21))).toThrow(TypeError);
    expect(() => fn(OP_FINAL, new Float64Array(5))).toThrow(TypeError);
    expect(() => fn(OP_POLICY_VERDICT, new Float64Array(3))).toThrow(TypeError);
    // The fast path's 22 arguments alone still bind (fastpath.cc bindSummary's count), and the
    // scalar block's size is the same on both sides.
    expect(summaryArrayArgs(a)).toHaveLength(22);
    expect(t.summaryScalarWords).toBe(SUMMARY_SCALAR_WORDS);
  });

  it('indexes read from the arrays never reach outside them', () => {
    const s = new FlowSummary(ctx);
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    s.add(forwarded(1, 1, 2));
    const fn = bound(s, block);
    const a = s.nativeArrays();
    const ev = forwarded(2, 3, 4);
    // A pair count outside the rows, or not an integer.
    for (const bad of [-1, 1.5, a.pairSrc.length, NaN]) {
      block[4] = bad;
      expect(fn(OP_FINAL, packFinal(ev, new Float64Array(21))), `count ${bad}`).toBe(0);
    }
    block[4] = 1;
    // A bucket naming a pair beyond the sides.
    const saved = Int32Array.from(a.pairBuckets);
    a.pairBuckets.fill(1000);
    expect(fn(OP_FINAL, packFinal(ev, new Float64Array(21)))).toBe(0);
    // Every bucket used: no empty one ends the probe.
    a.pairBuckets.fill(2);
    expect(fn(OP_FINAL, packFinal(ev, new Float64Array(21)))).toBe(0);
    a.pairBuckets.set(saved);
    // A pending count whose pair is outside the rows.
    const rec = 1 * L.REC;
    s.nativeRecords[rec + L.R_PAIR] = 1 << 30;
    expect(fn(OP_FINAL, packFinal(forwarded(1, 5, 6), new Float64Array(21)))).toBe(0);
    s.nativeRecords[rec + L.R_PAIR] = 0;
    expect(fn(OP_FINAL, packFinal(forwarded(1, 5, 6), new Float64Array(21)))).toBe(0);
    s.nativeRecords[rec + L.R_PAIR] = 2;
    expect(fn(OP_FINAL, packFinal(forwarded(1, 5, 6), new Float64Array(21)))).toBe(1);
  });
});
