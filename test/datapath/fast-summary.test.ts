/**
 * The native fast path's summary port (native/fastpath/summary.h SummaryCheckFinal /
 * SummaryCommitFinal) against src/flow/summary.ts FlowSummary.add: the same event streams go to
 * a pure TypeScript summary and to a twin where every final event with a packet is first offered
 * to the native check (+ commit), over the twin's own typed arrays and its scalar block
 * (saveScalars / loadScalars when the side counting changes, a new bind when an array grew),
 * and TypeScript counts whatever the check refuses. Both must end identical: toJSON(), lines()
 * and every internal array. The addon must be built (a missing addon fails, style.md).
 */
import { describe, expect, it } from 'vitest';
import { EventKind, FlowEvent, ObservationPoint, TrafficDirection, Verdict } from '../../src/datapath/events.js';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { FlowContext } from '../../src/flow/context.js';
import { FlowSummary, SUMMARY_LAYOUT, SUMMARY_SCALAR_WORDS, summaryArrayArgs, type SummaryNativeArrays, type SummaryOptions } from '../../src/flow/summary.js';
import { event, packet, starWarsDoc, type Proto } from '../flow/fixtures.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';
import { outcome, packFinal } from '../helpers/summary-events.js';
import { SummaryTwin } from '../helpers/summary-twin.js';

type AddFinal = (ev: Float64Array, mode?: number) => number;
interface SummaryTesting {
  summaryBind: (...args: unknown[]) => AddFinal;
  summaryEventWords: number;
  summaryScalarWords: number;
}

function testing(): SummaryTesting {
  return nativeOrFail().fastpathTesting as unknown as SummaryTesting;
}

const ctx = new FlowContext(starWarsDoc());
const L = SUMMARY_LAYOUT;

/** summary_testing.cc summaryBind's arguments: the fast path's, then the scalar block and where. */
function bindArgs(a: SummaryNativeArrays, block: Float64Array, at: number): unknown[] {
  return [...summaryArrayArgs(a), block, at];
}

/** Every internal array and scalar, for an exact comparison. */
function internals(s: FlowSummary): Record<string, unknown> {
  const a = s.nativeArrays() as unknown as Record<string, unknown>;
  const scalars = new Float64Array(SUMMARY_SCALAR_WORDS);
  s.saveScalars(scalars, 0);
  return { ...a, scalars };
}

function sameInternals(x: FlowSummary, y: FlowSummary, context: string): void {
  const a = internals(x);
  const b = internals(y);
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
        expect({ key: k, index: i, ts: ua[i], twin: va[i], lengths: [ua.length, va.length] }, context).toEqual({ key: k, index: i, ts: va[i], twin: va[i], lengths: [ua.length, ua.length] });
      }
    } else {
      expect(v, `${context}: ${k}`).toEqual(u);
    }
  }
}

interface Stats {
  offered: number;
  commits: number;
  checkFailures: number;
  tsDirect: number;
  checkOnly: number;
  rebinds: number;
  freshSlotCommits: number;
  trackedCommits: number;
  evictionCommits: number;
  evictionRefusals: number;
  inheritedCommits: number;
  forwardedCommits: number;
  droppedCommits: number;
}

/**
 * A FlowSummary whose final events go to the native port first. The scalars live in `block`
 * while the native side counts (saved when it takes over, loaded back before TypeScript counts).
 */
class NativeTwin extends SummaryTwin<AddFinal> {
  private readonly packed: Float64Array;
  readonly stats: Stats = {
    offered: 0,
    commits: 0,
    checkFailures: 0,
    tsDirect: 0,
    checkOnly: 0,
    rebinds: 0,
    freshSlotCommits: 0,
    trackedCommits: 0,
    evictionCommits: 0,
    evictionRefusals: 0,
    inheritedCommits: 0,
    forwardedCommits: 0,
    droppedCommits: 0,
  };

  constructor(
    private readonly t: SummaryTesting,
    options: SummaryOptions,
  ) {
    super(new FlowSummary(ctx, options), SUMMARY_SCALAR_WORDS + 5);
    this.packed = new Float64Array(t.summaryEventWords);
  }

  /** The three arrays the fast path watches for a cached pair's final event. */
  protected watchedArrays(): readonly unknown[] {
    return [this.s.nativeRecords, this.s.nativePairPackets, this.s.nativePairConnections];
  }

  protected bind(): AddFinal {
    return this.t.summaryBind(...bindArgs(this.s.nativeArrays(), this.block, this.at));
  }

  protected rebound(): void {
    this.stats.rebinds++;
  }

  /**
   * What the check must answer from the state as it is (true, false, or undefined when it
   * depends on the heap's minimum: an untracked drop with every slot used).
   */
  private predict(ev: FlowEvent, v: number): boolean | undefined {
    const rec = this.s.nativeRecords;
    const conn = ev.connection;
    if (!(conn > 0 && conn < L.DENSE_LIMIT && Number.isInteger(conn) && conn * L.REC < rec.length)) return false;
    const o = conn * L.REC;
    let srcSide = ev.srcEndpoint >= 0 ? ev.srcEndpoint : -1 - ev.srcIdentity;
    let dstSide = ev.dstEndpoint >= 0 ? ev.dstEndpoint : -1 - ev.dstIdentity;
    if (ev.isReply) [srcSide, dstSide] = [dstSide, srcSide];
    if (rec[o + L.R_PAIR] === 0 || rec[o + L.R_SRC_SIDE] !== srcSide || rec[o + L.R_DST_SIDE] !== dstSide) return false;
    const capacity = this.s.nativeArrays().capacity;
    if (v === Verdict.DROPPED && capacity > 0 && rec[o + L.R_DROP_SLOT] === 0 && this.block[this.at + 1]! >= capacity) return undefined;
    return true;
  }

  /** Counts `ev`; `route`: 0 native first, 1 TypeScript, 2 native check only, then TypeScript. */
  add(ev: FlowEvent, route: number): void {
    const eligible = ev.isFinal && (ev.kind === EventKind.DROP || ev.kind === EventKind.TRACE) && ev.verdict !== Verdict.TRANSLATED && ev.packet !== undefined;
    if (!eligible || route === 1) {
      if (eligible) this.stats.tsDirect++;
      this.toTs();
      this.s.add(ev);
      return;
    }
    const fn = this.toNative();
    const st = this.stats;
    st.offered++;
    const v = outcome(ev);
    const predicted = this.predict(ev, v);
    const conn = ev.connection;
    const rec = this.s.nativeRecords;
    const wasTracked = predicted !== false && rec[conn * L.REC + L.R_DROP_SLOT] !== 0;
    const size = this.block[this.at + 1]!;
    const evictions = this.block[this.at + 2]!;
    const got = fn(packFinal(ev, this.packed), route === 2 ? 1 : 0);
    if (predicted === undefined) {
      if (got === 0) st.evictionRefusals++;
    } else if ((got === 1) !== predicted) {
      expect(got === 1, `check of connection ${conn}`).toBe(predicted);
    }
    if (got === 1 && route === 0) {
      st.commits++;
      if (ev.inherited) st.inheritedCommits++;
      if (v === Verdict.FORWARDED) st.forwardedCommits++;
      if (v === Verdict.DROPPED) {
        st.droppedCommits++;
        if (wasTracked) st.trackedCommits++;
        else if (this.block[this.at + 2]! > evictions) st.evictionCommits++;
        else if (this.block[this.at + 1]! > size) st.freshSlotCommits++;
      }
      return;
    }
    if (got === 1) st.checkOnly++;
    else st.checkFailures++;
    this.toTs();
    this.s.add(ev);
  }

  checkBlock(): void {
    expect(this.block[0]).toBe(-7);
    expect(this.block[this.at - 1]).toBe(-7);
    expect(this.block[this.at + SUMMARY_SCALAR_WORDS]).toBe(-7);
  }
}

// ---- Event streams ----------------------------------------------------------------------------

const IDENTITIES = [1, 2, 6, 9, 6530, 19440, 34545, 16777217, 16777300, 0x80000005];
const REASONS = [133, 181, 153, 167, 130, 205, 0x1ff];

interface Conn {
  id: number;
  fwd: DecodedPacket;
  rev: DecodedPacket;
  srcEndpoint: number;
  dstEndpoint: number;
  srcIdentity: number;
  dstIdentity: number;
  /** 0 allowed, 1 dropped (inherited), 2 both over time. */
  mode: number;
  reason: number;
}

function addr(r: () => number, v6: boolean): string {
  return v6 ? `fd00:${(r() % 0xffff).toString(16)}::${(r() % 0xffff).toString(16)}` : `10.${r() % 256}.${r() % 256}.${r() % 256}`;
}

function makeConn(r: () => number, id: number): Conn {
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
    srcEndpoint: r() % 3 === 0 ? -1 : r() % 5,
    dstEndpoint: r() % 3 === 0 ? -1 : r() % 5,
    srcIdentity: IDENTITIES[r() % IDENTITIES.length]!,
    dstIdentity: IDENTITIES[r() % IDENTITIES.length]!,
    mode: r() % 3,
    reason: REASONS[r() % REASONS.length]!,
  };
}

/** Connection numbers: mostly increasing with gaps (dense growth), some beyond the dense array, some synthetic. */
function connectionNumber(r: () => number, i: number, maxDense: number): number {
  const k = r() % 100;
  if (k < 2) return 0; // no conntrack entry: a synthetic number for its 5-tuple
  if (k < 3) return -1 - (r() % 5); // negative: synthetic too
  if (k < 5) return L.DENSE_LIMIT + (r() % 1000); // the sparse map
  if (k < 6) return 3_000_000_000 + (r() % 10);
  return 1 + Math.floor((i / 1.0) * (maxDense / 4000)) + (r() % 40);
}

interface StreamOptions {
  seed: number;
  events: number;
  conns: number;
  maxDense: number;
  summary: SummaryOptions;
  /** Chance in 100 that an eligible event goes to TypeScript without asking / only checks. */
  tsDirect: number;
  checkOnly: number;
}

function runStream(o: StreamOptions): { stats: Stats; pure: FlowSummary; twin: NativeTwin } {
  const t = testing();
  const r = rng(o.seed);
  const pure = new FlowSummary(ctx, o.summary);
  const twin = new NativeTwin(t, o.summary);
  const conns: Conn[] = [];
  for (let i = 0; i < o.conns; i++) conns.push(makeConn(r, connectionNumber(r, i, o.maxDense)));
  const both = (ev: FlowEvent, route: number): void => {
    pure.add(ev);
    twin.add(ev, route);
  };
  for (let i = 0; i < o.events; i++) {
    // Connections open over time; recent ones are busier, a few old ones come back.
    const open = Math.min(conns.length, 16 + Math.floor((i * conns.length * 1.2) / o.events));
    const u = r() / 2 ** 32;
    const idx = r() % 10 === 0 ? r() % open : open - 1 - Math.floor(open * u * u * u);
    const c = conns[idx]!;
    const route = r() % 100 < o.tsDirect ? 1 : r() % 100 < o.checkOnly ? 2 : 0;
    const x = r() % 1000;
    if (x < 6) {
      // The connection's sides change (an identity change, an endpoint going away): a new pair.
      if (r() % 2 === 0) c.srcIdentity = IDENTITIES[r() % IDENTITIES.length]!;
      else c.dstEndpoint = c.dstEndpoint >= 0 ? -1 : r() % 5;
      continue;
    }
    if (x < 16) {
      both(
        event({
          kind: EventKind.POLICY_VERDICT,
          verdict: [Verdict.FORWARDED, Verdict.DROPPED, Verdict.AUDIT, Verdict.REDIRECTED][r() % 4]!,
          trafficDirection: r() % 2 === 0 ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
          rule: (r() % 6) - 1,
          connection: c.id,
          packet: c.fwd,
          srcEndpoint: c.srcEndpoint,
          dstEndpoint: c.dstEndpoint,
          srcIdentity: c.srcIdentity,
          dstIdentity: c.dstIdentity,
        }),
        0,
      );
      continue;
    }
    if (x < 20) {
      both(event({ kind: EventKind.TRACE, verdict: Verdict.TRANSLATED, connection: c.id, packet: c.fwd }), 0);
      continue;
    }
    if (x < 22) {
      both(event({ kind: EventKind.L7, verdict: Verdict.FORWARDED, l7: { type: r() % 2 === 0 ? 'REQUEST' : 'RESPONSE' }, connection: c.id, packet: c.fwd }), 0);
      continue;
    }
    if (x < 25) {
      both(event({ kind: EventKind.TRACE, verdict: Verdict.FORWARDED, observationPoint: ObservationPoint.TO_STACK, isFinal: false, connection: c.id, packet: c.fwd }), 0);
      continue;
    }
    if (x < 27) {
      // A drop without a packet (never the fast path's): no top-dropped slot.
      const ev = event({ kind: EventKind.DROP, verdict: Verdict.DROPPED, dropReason: c.reason, isFinal: true, connection: c.id, packet: c.fwd });
      ev.packet = undefined as unknown as DecodedPacket;
      both(ev, 0);
      continue;
    }
    if (x < 35) c.reason = REASONS[r() % REASONS.length]!;
    if (c.mode === 2 && r() % 50 === 0) c.mode = r() % 2; // the verdict changes
    const dropped = c.mode === 1 || (c.mode === 2 && r() % 2 === 0);
    const reply = r() % 2 === 0;
    const sides = reply
      ? { srcEndpoint: c.dstEndpoint, dstEndpoint: c.srcEndpoint, srcIdentity: c.dstIdentity, dstIdentity: c.srcIdentity }
      : { srcEndpoint: c.srcEndpoint, dstEndpoint: c.dstEndpoint, srcIdentity: c.srcIdentity, dstIdentity: c.dstIdentity };
    const p = reply ? c.rev : c.fwd;
    let ev: FlowEvent;
    if (dropped) {
      ev = event({
        kind: EventKind.DROP,
        verdict: Verdict.DROPPED,
        dropReason: c.reason,
        inherited: r() % 10 !== 0,
        isFinal: true,
        isReply: reply,
        connection: c.id,
        packet: p,
        ...sides,
      });
    } else {
      const y = r() % 100;
      ev = event({
        kind: EventKind.TRACE,
        verdict: Verdict.FORWARDED,
        observationPoint: y < 3 ? ObservationPoint.TO_PROXY : y < 50 ? ObservationPoint.TO_ENDPOINT : ObservationPoint.TO_STACK,
        audited: y >= 97,
        dropReason: y >= 97 ? c.reason : 0,
        isFinal: true,
        isReply: reply,
        connection: c.id,
        packet: p,
        ...sides,
      });
    }
    both(ev, route);
    if (r() % 20000 === 0) {
      // The summary read midway (pending counts flushed), on both.
      twin.toTs();
      sameInternals(pure, twin.s, `before toJSON at event ${i}`);
      expect(twin.s.toJSON()).toEqual(pure.toJSON());
    }
  }
  twin.toTs();
  twin.checkBlock();
  sameInternals(pure, twin.s, 'after the stream');
  expect(JSON.stringify(twin.s.toJSON())).toBe(JSON.stringify(pure.toJSON()));
  expect(twin.s.lines()).toEqual(pure.lines());
  sameInternals(pure, twin.s, 'after toJSON');
  // FSUM_STATS=1 prints how the events went (commits, refusals, evictions...).
  if (process.env.FSUM_STATS) console.log(o.seed, JSON.stringify(twin.stats));
  return { stats: twin.stats, pure, twin };
}

describe('summary port: differential against FlowSummary.add', () => {
  it('default options: many connections, replies, inherited drops, dense growth (no evictions)', () => {
    const { stats } = runStream({ seed: 11, events: 120_000, conns: 8000, maxDense: 250_000, summary: {}, tsDirect: 10, checkOnly: 5 });
    expect(stats.commits).toBeGreaterThan(50_000);
    expect(stats.checkFailures).toBeGreaterThan(1000);
    expect(stats.rebinds).toBeGreaterThan(3);
    expect(stats.freshSlotCommits).toBeGreaterThan(100);
    expect(stats.trackedCommits).toBeGreaterThan(1000);
    expect(stats.inheritedCommits).toBeGreaterThan(1000);
    expect(stats.forwardedCommits).toBeGreaterThan(1000);
    expect(stats.checkOnly).toBeGreaterThan(100);
  });

  it('few slots and pairs: Space-Saving evictions, the other-pairs row', () => {
    const { stats, pure } = runStream({
      seed: 12,
      events: 100_000,
      conns: 3000,
      maxDense: 60_000,
      summary: { trackedDropped: 8, maxPairs: 6, top: 5 },
      tsDirect: 10,
      checkOnly: 5,
    });
    const j = pure.toJSON();
    expect(j.top_dropped_approximate).toBe(true);
    expect(j.pairs_truncated).toBe(true);
    expect(stats.evictionCommits).toBeGreaterThan(100);
    expect(stats.evictionRefusals).toBeGreaterThan(0); // a synthetic or sparse connection held the minimum slot
    expect(stats.freshSlotCommits).toBeGreaterThan(0);
    expect(stats.trackedCommits).toBeGreaterThan(100);
    expect(stats.checkFailures).toBeGreaterThan(100);
  });

  it('other seeds and sizes (64 slots and pairs, one slot, no slots)', () => {
    const cases: Array<[number, SummaryOptions]> = [
      [13, { trackedDropped: 64, maxPairs: 50 }],
      [14, { trackedDropped: 1, maxPairs: 2 }],
      [15, { trackedDropped: 0, maxPairs: 20 }],
      [16, { trackedDropped: 300, maxPairs: 400 }],
    ];
    let evictions = 0;
    for (const [seed, summary] of cases) {
      const { stats } = runStream({ seed, events: 40_000, conns: 2000, maxDense: 40_000, summary, tsDirect: 20, checkOnly: 5 });
      expect(stats.commits, `seed ${seed}`).toBeGreaterThan(10_000);
      evictions += stats.evictionCommits;
    }
    expect(evictions).toBeGreaterThan(100);
  });
});

describe('summary port: edges', () => {
  function forwarded(conn: number, reply = false): FlowEvent {
    const p = packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'tcp', sport: 1000, dport: 80 });
    return event({
      kind: EventKind.TRACE,
      verdict: Verdict.FORWARDED,
      observationPoint: ObservationPoint.TO_ENDPOINT,
      isFinal: true,
      isReply: reply,
      connection: conn,
      packet: p,
      srcEndpoint: reply ? 2 : 1,
      dstEndpoint: reply ? 1 : 2,
    });
  }

  function dropped(conn: number, reason = 133): FlowEvent {
    return event({
      kind: EventKind.DROP,
      verdict: Verdict.DROPPED,
      dropReason: reason,
      inherited: true,
      isFinal: true,
      connection: conn,
      packet: packet({ src: '10.0.0.1', dst: '10.0.0.2', proto: 'udp', sport: 2000 + conn, dport: 53 }),
      srcEndpoint: 1,
      dstEndpoint: 2,
    });
  }

  it.each([
    ['FORWARDED', Verdict.FORWARDED],
    ['VERDICT_UNKNOWN', Verdict.UNKNOWN], // verdict 0: the pending word reaches PENDING_LIMIT exactly
  ])('a pending count at its limit is flushed as TypeScript flushes it (%s)', (name, verdict) => {
    const t = testing();
    const pure = new FlowSummary(ctx);
    const twin = new NativeTwin(t, {});
    const ev = forwarded(7);
    ev.verdict = verdict;
    pure.add(ev);
    twin.add(ev, 1); // TypeScript: the record's pair
    const o = 7 * L.REC + L.R_PENDING;
    const near = (((1 << 27) - 1) << 3) | verdict;
    pure.nativeRecords[o] = near;
    twin.s.nativeRecords[o] = near;
    for (let k = 0; k < 3; k++) {
      pure.add(ev);
      twin.add(ev, 0);
    }
    expect(twin.stats.commits).toBe(3);
    twin.toTs();
    sameInternals(pure, twin.s, 'at the pending limit');
    expect(twin.s.toJSON()).toEqual(pure.toJSON());
    const j = pure.toJSON();
    expect(j.packets[name]).toBe(4);
    expect(j.pairs[0]!.packets[name]).toBe(2 ** 27 + 2); // the poked pending count stood for 2^27 - 1 packets
  });

  it('refuses what needs TypeScript and leaves everything as it was', () => {
    const t = testing();
    const s = new FlowSummary(ctx, { trackedDropped: 2 });
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    const packed = new Float64Array(t.summaryEventWords);
    s.add(forwarded(5));
    s.add(dropped(9));
    s.add(dropped(-3)); // a synthetic connection takes the second slot
    s.saveScalars(block, 0);
    const fn = t.summaryBind(...bindArgs(s.nativeArrays(), block, 0));
    const before = structuredClone(internals(s));
    const refused = (ev: FlowEvent, what: string): void => {
      expect(fn(packFinal(ev, packed)), what).toBe(0);
      expect(internals(s), what).toEqual(before);
    };
    refused(forwarded(4), 'a connection without a pair yet');
    refused(forwarded(1024), 'a connection beyond the dense array (growth)');
    refused(forwarded(0), 'connection 0');
    refused(forwarded(-3), 'a negative connection');
    refused(forwarded(L.DENSE_LIMIT), 'a sparse connection');
    refused(forwarded(5.5), 'a fractional connection');
    const other = forwarded(5);
    other.srcEndpoint = 3;
    refused(other, 'other sides than the cached pair');
    const big = forwarded(5);
    big.srcEndpoint = -1;
    big.srcIdentity = 0x80000005;
    refused(big, 'a side below INT32_MIN');
    const packedBad = packFinal(forwarded(5), new Float64Array(t.summaryEventWords));
    packedBad[0] = 9;
    expect(fn(packedBad), 'a verdict above 7').toBe(0);
    // Connection 5 drops with both slots used: the minimum (count 1, the synthetic one's or
    // connection 9's) — the heap's top is connection 9's slot (first placed), dense: accepted.
    const d5 = dropped(5);
    d5.srcEndpoint = 1;
    d5.dstEndpoint = 2;
    expect(fn(packFinal(d5, packed), 1), 'eviction of a dense connection').toBe(1);
    // Make the synthetic connection's slot the minimum: connection 9 gets more packets.
    s.add(dropped(9));
    s.add(dropped(9));
    s.saveScalars(block, 0);
    const before2 = structuredClone(internals(s));
    expect(fn(packFinal(d5, packed)), 'eviction of a synthetic connection').toBe(0);
    const after2 = internals(s);
    // Only minimum's re-placement of stale tops may have happened (TypeScript does it first).
    for (const k of Object.keys(before2)) if (k !== 'heap' && k !== 'heapKey' && k !== 'pos') expect(after2[k], k).toEqual(before2[k]);
    // TypeScript does the eviction; the twin state stays consistent.
    s.loadScalars(block, 0);
    s.add(d5);
    expect(s.toJSON().top_dropped_approximate).toBe(true);
  });

  it('indexes read from the arrays never reach outside them', () => {
    const t = testing();
    const s = new FlowSummary(ctx, { trackedDropped: 4 });
    const block = new Float64Array(SUMMARY_SCALAR_WORDS);
    const packed = new Float64Array(t.summaryEventWords);
    for (let c = 1; c <= 4; c++) {
      s.add(forwarded(c));
      s.add(dropped(c));
    }
    s.add(forwarded(6));
    s.saveScalars(block, 0);
    const a = s.nativeArrays();
    const fn = t.summaryBind(...bindArgs(a, block, 0));
    const rec = a.records;
    // A slot number beyond the slots.
    rec[1 * L.REC + L.R_DROP_SLOT] = 99;
    expect(fn(packFinal(dropped(1), packed))).toBe(0);
    rec[1 * L.REC + L.R_DROP_SLOT] = -4;
    expect(fn(packFinal(dropped(1), packed))).toBe(0);
    // A pair beyond the pair rows.
    rec[2 * L.REC + L.R_PAIR] = 1 << 30;
    expect(fn(packFinal(forwarded(2), packed))).toBe(0);
    rec[2 * L.REC + L.R_PAIR] = -5;
    expect(fn(packFinal(forwarded(2), packed))).toBe(0);
    // A slot count above the capacity, then a heap top outside the slots (full heap).
    block[1] = 5;
    expect(fn(packFinal(dropped(6), packed))).toBe(0);
    block[1] = 2.5;
    expect(fn(packFinal(dropped(6), packed))).toBe(0);
    block[1] = 4;
    a.heap[0] = 1000;
    a.heapKey[0] = -1;
    expect(fn(packFinal(dropped(6), packed))).toBe(0);
    // A records array shorter than the connection's record (bound on its own).
    const args = bindArgs(a, block, 0);
    args[0] = new Int32Array(6 * L.REC + 4);
    expect(t.summaryBind(...args)(packFinal(forwarded(6), packed))).toBe(0);
  });

  it('binding checks types and lengths', () => {
    const t = testing();
    const s = new FlowSummary(ctx, { trackedDropped: 4 });
    const a = s.nativeArrays();
    const block = new Float64Array(SUMMARY_SCALAR_WORDS + 1);
    expect(() => t.summaryBind(...bindArgs(a, block, 1))).not.toThrow();
    expect(() => t.summaryBind(...bindArgs(a, block, 2))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs(a, block, -1))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs({ ...a, capacity: 5 }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs({ ...a, words: new Uint32Array(4) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs({ ...a, reason: new Float64Array(4) as unknown as Uint16Array }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs({ ...a, packets: new Float64Array(7) }, block, 0))).toThrow(TypeError);
    expect(() => t.summaryBind(...bindArgs(a, block, 0).slice(0, 23))).toThrow(TypeError);
    const fn = t.summaryBind(...bindArgs(a, block, 0));
    expect(() => fn(new Float64Array(5))).toThrow(TypeError);
    expect(() => (fn as unknown as (x: unknown) => number)([1, 2, 3])).toThrow(TypeError);
  });
});
