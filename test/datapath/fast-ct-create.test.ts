/**
 * Differential: a new connection's conntrack entry made natively (native/fastpath/ct_create.h
 * CanCreate / Create, through exports.fastpathTesting.ctCreateBind) is exactly
 * src/maps/conntrack.ts Conntrack.createRow, and so are the datapath's writes right after it
 * (program.ts: REV_NAT / setOrigDst / ORIG_DPORT, rememberLocated, dropPacket's marks, the
 * allowed connection's PROXY_PORT / USER1, touchRow).
 *
 * Two Conntracks see the same packets: `ref`, pure TypeScript, and `twin`, whose new connections
 * go to the native code on twin's own arrays whenever CanCreate allows (the scalars handed over
 * through a block: saveCreateScalars / nativeSeq before, loadCreateScalars / setNativeSeq after),
 * and to TypeScript otherwise. Packets are random tuples (IPv4 and IPv6, IPv4-mapped words under
 * family 6, TCP with SYN/FIN/RST mixes that close and reopen entries, UDP, ICMP echo requests and
 * replies, the reverse of earlier tuples) over few addresses and ports, in tables small enough to
 * collide (few hash bits), evict and grow, with the clock moving past the timeouts. After every
 * step every row word, side word, free row, index slot and scalar of the two must be equal, and so
 * must every lookup's answer.
 *
 * CanCreate is checked to be read-only, and to refuse exactly when createRow on `ref` (the same
 * state) grew an array, made a table, evicted, met a table whose LRUCache was built, or unlinked
 * an older entry with the same tuple (after a reopen): every other creation must go native.
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import { describe, expect, it } from 'vitest';
import { CT_CREATE_SCALAR_WORDS, Conntrack, CtDir, CtField, CtTuple, type ConntrackOptions } from '../../src/maps/conntrack.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';

/** native/fastpath/ct_create_testing.cc. */
type CtCreateOp = (code: number, words: Int32Array | null, a?: number, b?: number, c?: number, d?: number, e?: number, f?: number, g?: number) => number;
interface CtCreateTesting {
  ctCreateBind(
    i32: Int32Array,
    side: Int32Array,
    freeRows: Int32Array,
    slots0: Int32Array | null,
    slots1: Int32Array | null,
    slots2: Int32Array | null,
    slots3: Int32Array | null,
    lruBuilt: number,
    keyMask: number,
    block: Float64Array,
    at: number,
    seqAt: number,
    lruResolutionMs: number,
  ): CtCreateOp;
  ctCreateScalarWords: number;
}

const OP_CAN_CREATE = 0;
const OP_CREATE_PLANNED = 1;
const OP_CREATE = 2;
const OP_SET_TRANSLATED = 3;
const OP_REMEMBER_LOCATED = 4;
const OP_MARK_DROPPED = 5;
const OP_MARK_ALLOWED = 6;
const OP_TOUCH = 7;
const OP_LOOKUP_MISS = 8;
const OP_MISS_AND_CREATE = 9;

const AT = 3; // create scalars
const SEQ_AT = AT + CT_CREATE_SCALAR_WORDS + 1; // recency stamps
const BLOCK_WORDS = SEQ_AT + 4 + 2;

function testing(): CtCreateTesting {
  return nativeOrFail().fastpathTesting as unknown as CtCreateTesting;
}

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const SCTP = 132;
const SYN = 0x02;
const FIN = 0x01;
const RST = 0x04;
const ACK = 0x10;

function bind(ct: Conntrack, block: Float64Array): CtCreateOp {
  let lru = 0;
  for (let t = 0; t < 4; t++) if (ct.nativeLruBuilt(t)) lru |= 1 << t;
  return testing().ctCreateBind(
    ct.i32,
    ct.sideWords,
    ct.nativeFreeRows,
    ct.nativeIndexSlots(0),
    ct.nativeIndexSlots(1),
    ct.nativeIndexSlots(2),
    ct.nativeIndexSlots(3),
    lru,
    ct.nativeKeyMask,
    block,
    AT,
    SEQ_AT,
    ct.nativeLruResolutionMs,
  );
}

function toNative(ct: Conntrack, block: Float64Array): void {
  ct.saveCreateScalars(block, AT);
  for (let t = 0; t < 4; t++) block[SEQ_AT + t] = ct.nativeSeq(t);
}

function toTs(ct: Conntrack, block: Float64Array): void {
  ct.loadCreateScalars(block, AT);
  for (let t = 0; t < 4; t++) ct.setNativeSeq(t, block[SEQ_AT + t]!);
}

function packTuple(t: CtTuple): Int32Array {
  const w = new Int32Array(12);
  w[0] = t.family;
  for (let k = 0; k < 4; k++) {
    w[1 + k] = t.src[k]!;
    w[5 + k] = t.dst[k]!;
  }
  w[9] = t.sport;
  w[10] = t.dport;
  w[11] = t.proto;
  return w;
}

/**
 * Everything a creation may change: the live arrays (not copies; compare at once), the scalars
 * and the LRU orders (the internals through a cast).
 */
function snapshot(ct: Conntrack): { words: Int32Array; side: Int32Array; free: Int32Array; slots: Array<Int32Array | null>; scalars: number[]; lru: Array<number[] | null> } {
  const block = new Float64Array(CT_CREATE_SCALAR_WORDS);
  ct.saveCreateScalars(block, 0);
  const c = ct as unknown as { freeCount: number; tables: Array<{ lru: { keys(): Iterable<number> } | null } | null> };
  const scalars = [...block, ct.evictions, ct.expired, ct.size, ct.relatedSize];
  for (let t = 0; t < 4; t++) scalars.push(ct.nativeSeq(t), +ct.nativeLruBuilt(t));
  return {
    words: ct.i32,
    side: ct.sideWords,
    free: ct.nativeFreeRows.subarray(0, c.freeCount),
    slots: [0, 1, 2, 3].map((t) => ct.nativeIndexSlots(t)),
    scalars,
    lru: c.tables.map((tab) => (tab?.lru ? [...tab.lru.keys()] : null)),
  };
}

function bytesOf(a: ArrayLike<number>): Buffer | null {
  return ArrayBuffer.isView(a) ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : null;
}

function firstDifference(a: ArrayLike<number> | null, b: ArrayLike<number> | null): string | undefined {
  if (a === null || b === null) return a === b ? undefined : `null against an array`;
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  // memcmp first (typed arrays of the same kind compare bit for bit; the loop names the word).
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x !== null && y !== null && x.equals(y)) return undefined;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return `word ${i}: ${a[i]} and ${b[i]}`;
  return undefined;
}

function expectSame(a: ReturnType<typeof snapshot>, b: ReturnType<typeof snapshot>, context: string): void {
  const parts: Array<[string, ArrayLike<number> | null, ArrayLike<number> | null]> = [
    ['row words', a.words, b.words],
    ['side words', a.side, b.side],
    ['free rows', a.free, b.free],
    ['scalars', a.scalars, b.scalars],
  ];
  for (let t = 0; t < 4; t++) parts.push([`index slots of table ${t}`, a.slots[t]!, b.slots[t]!], [`LRU order of table ${t}`, a.lru[t]!, b.lru[t]!]);
  for (const [what, x, y] of parts) {
    const d = firstDifference(x, y);
    if (d !== undefined) expect.fail(`${context}: ${what} differ (${d})`);
  }
}

interface Shape {
  options: ConntrackOptions;
  /** Creations that must have gone native (after a table's first eviction all of its are refused). */
  minNative: number;
  steps: number;
  /** Distinct addresses per family and ports. */
  hosts: number;
  ports: number;
  seed: number;
}

interface Tally {
  native: number;
  refused: number;
  nativePairRefresh: number;
  nativeV6: number;
  nativeMisses: number;
  reasons: Record<string, number>;
}

/** Random tuples over a few hosts and ports, some the reverse of earlier ones. */
function tuples(r: () => number, shape: Shape): () => CtTuple {
  const recent: CtTuple[] = [];
  const host = (family: number, i: number): number[] => {
    if (family === 4) return [0, 0, 0xffff, (0x0a000001 + i) >>> 0];
    // IPv6, and now and then an IPv4-mapped address under family 6 (no upper words in the side array).
    if (i % 7 === 6) return [0, 0, 0xffff, (0xc0a80001 + i) >>> 0];
    return [0xfd000000, 0, (i * 0x01010101) >>> 0, (0x80000000 + i) >>> 0];
  };
  return () => {
    if (recent.length > 0 && r() % 3 === 0) {
      const old = recent[r() % recent.length]!;
      return r() % 2 === 0 ? old.reverse(new CtTuple()) : new CtTuple().copyFrom(old);
    }
    const family = r() % 3 === 0 ? 6 : 4;
    const src = host(family, r() % shape.hosts);
    const dst = host(family, r() % shape.hosts);
    const pick = r() % 10;
    const port = (): number => [0, 80, 443, 53, 65535, 1024 + (r() % shape.ports)][r() % 6]!;
    const t = new CtTuple();
    if (pick < 4) t.set(family as 4 | 6, src, dst, port(), port(), TCP);
    else if (pick < 7) t.set(family as 4 | 6, src, dst, port(), port(), UDP);
    else if (pick < 9) {
      // ICMP echo: a request carries the id as its source port, a reply as its destination.
      const id = r() % 4;
      const request = r() % 2 === 0;
      t.set(family as 4 | 6, src, dst, request ? id : 0, request ? 0 : id, family === 6 ? ICMPV6 : ICMP);
    } else t.set(family as 4 | 6, src, dst, port(), port(), SCTP);
    recent.push(t);
    if (recent.length > 24) recent.shift();
    return t;
  };
}

/** program.ts's writes after createRow, on `ct` in TypeScript. */
interface After {
  translated: boolean;
  revNat: number;
  origDst: Uint32Array;
  origDport: number;
  gen: number;
  endpoints: [number, number];
  identities: [number, number];
  /** 0 allowed, 1 dropped, 2 dropped under --per-packet (the row deleted), 3 no touch (left creating). */
  verdict: number;
  reason: number;
  place: number;
  rule1: number;
  proxyPort: number;
  stage1: number;
  flags: number;
  bytes: number;
}

function randomAfter(r: () => number, flags: number): After {
  const v = r() % 20;
  return {
    translated: r() % 3 === 0,
    revNat: r() % 50,
    origDst: Uint32Array.of(r(), r(), r(), r()),
    origDport: r() % 65536,
    gen: r() % 4,
    endpoints: [(r() % 7) - 1, (r() % 7) - 1],
    identities: [r(), r() % 70000],
    verdict: v < 9 ? 0 : v < 17 ? 1 : v < 19 ? 2 : 3,
    reason: 130 + (r() % 60),
    place: r() % 64,
    rule1: r() % 9,
    proxyPort: r() % 4 === 0 ? 15001 : 0,
    stage1: r() % 3,
    flags,
    bytes: 40 + (r() % 1460),
  };
}

function afterInTs(ct: Conntrack, row: number, a: After, now: number): void {
  if (a.translated) {
    ct.set(row, CtField.REV_NAT, a.revNat);
    ct.setOrigDst(row, a.origDst);
    ct.set(row, CtField.ORIG_DPORT, a.origDport);
  }
  // rememberLocated.
  ct.set(row, CtField.USER_GEN, a.gen);
  ct.set(row, CtField.USER_SRC_ENDPOINT, a.endpoints[0]);
  ct.set(row, CtField.USER_DST_ENDPOINT, a.endpoints[1]);
  ct.set(row, CtField.USER_SRC_IDENTITY, a.identities[0] | 0);
  ct.set(row, CtField.USER_DST_IDENTITY, a.identities[1] | 0);
  if (a.verdict === 1) {
    ct.set(row, CtField.USER0, a.reason);
    ct.set(row, CtField.USER1, a.place);
    ct.set(row, CtField.USER2, a.rule1);
    ct.touchRow(row, CtDir.FORWARD, a.flags, a.bytes, now);
  } else if (a.verdict === 2) {
    ct.deleteRow(row);
  } else if (a.verdict === 0) {
    ct.set(row, CtField.PROXY_PORT, a.proxyPort);
    ct.set(row, CtField.USER1, a.stage1);
    ct.touchRow(row, CtDir.FORWARD, a.flags, a.bytes, now);
  }
}

function afterNatively(op: CtCreateOp, ct: Conntrack, row: number, a: After, now: number): void {
  if (a.translated) op(OP_SET_TRANSLATED, Int32Array.from(a.origDst), row, a.revNat, a.origDport);
  op(OP_REMEMBER_LOCATED, null, row, a.gen, a.endpoints[0], a.endpoints[1], a.identities[0], a.identities[1]);
  if (a.verdict === 1) op(OP_MARK_DROPPED, null, row, a.reason, a.place, a.rule1, a.flags, a.bytes, now);
  else if (a.verdict === 2) ct.deleteRow(row); // --per-packet: TypeScript, as the datapath would
  else if (a.verdict === 0) op(OP_MARK_ALLOWED, null, row, a.proxyPort, a.stage1, a.flags, a.bytes, now);
}

const TCP_FLAG_MIXES = [SYN, SYN, ACK, ACK | 0x08, SYN | ACK, FIN | ACK, RST, RST | ACK, FIN | SYN];
// Mostly short steps (entries live on and are reused, closed, reopened); now and then one past
// every timeout but TCP's established lifetime.
const CLOCK_STEPS = [0, 0, 1, 7, 300, 999, 1000, 1500, 5001, 10_001, -3];

function run(shape: Shape, tally: Tally): void {
  const r = rng(shape.seed);
  const ref = new Conntrack(shape.options);
  const twin = new Conntrack(shape.options);
  const block = new Float64Array(BLOCK_WORDS);
  const next = tuples(r, shape);
  let now = 0;
  for (let step = 0; step < shape.steps; step++) {
    const context = `seed ${shape.seed} step ${step}`;
    now += r() % 40 === 0 ? 61_000 : CLOCK_STEPS[r() % CLOCK_STEPS.length]!;
    if (r() % 400 === 0) {
      expect(twin.gc(now / 1000)).toBe(ref.gc(now / 1000));
      continue;
    }
    const t = next();
    const flags = t.proto === TCP ? TCP_FLAG_MIXES[r() % TCP_FLAG_MIXES.length]! : 0;
    if (step % 3 === 0) {
      // The fast path's order: LookupMiss and CanCreate read-only, then the lookup's stamp and Create.
      toNative(twin, block);
      const made = bind(twin, block)(OP_MISS_AND_CREATE, packTuple(t), now);
      if (made >= 0) {
        toTs(twin, block);
        expect(ref.lookupRow(t, now, flags), context).toBe(-1);
        const refMade = ref.createRow(t, now);
        expect(made, context).toBe(refMade);
        const after = randomAfter(r, flags);
        afterInTs(ref, refMade, after, now);
        afterNatively(bind(twin, block), twin, made, after, now);
        expectSame(snapshot(twin), snapshot(ref), `${context} (lookup and create, native)`);
        tally.native++;
        tally.nativeMisses++;
        continue;
      }
      expectSame(snapshot(twin), snapshot(ref), `${context}: LookupMiss / CanCreate wrote`);
    }
    const refRow = ref.lookupRow(t, now, flags);
    // The lookup natively when LookupMiss answers "no entry" (its stamp committed), else in TypeScript.
    toNative(twin, block);
    const missed = bind(twin, block)(OP_LOOKUP_MISS, packTuple(t), now) === 1;
    toTs(twin, block);
    const twinRow = missed ? -1 : twin.lookupRow(t, now, flags);
    if (missed) tally.nativeMisses++;
    expect(twinRow, context).toBe(refRow);
    if (!missed) expect(twin.lastDir, context).toBe(ref.lastDir);
    expectSame(snapshot(twin), snapshot(ref), `${context} (lookup${missed ? ', native miss' : ''})`);
    if (refRow >= 0) {
      // A later packet: touched in TypeScript on ref, natively (ct.h TouchRow) on twin.
      const dir = ref.lastDir;
      const bytes = 40 + (r() % 1000);
      ref.touchRow(refRow, dir, flags, bytes, now);
      bind(twin, block)(OP_TOUCH, null, twinRow, dir, flags, bytes, now);
      expectSame(snapshot(twin), snapshot(ref), `${context} (touch)`);
      continue;
    }
    // A new connection. CanCreate first, on twin, which must then still equal ref (read-only).
    toNative(twin, block);
    const op = bind(twin, block);
    const heldBlock = block.slice();
    const can = op(OP_CAN_CREATE, packTuple(t), now) === 1;
    expectSame(snapshot(twin), snapshot(ref), `${context}: CanCreate wrote`);
    expect(firstDifference(block, heldBlock), `${context}: CanCreate wrote the block`).toBeUndefined();
    const after = randomAfter(r, flags);
    const ti = (t.family === 6 ? 2 : 0) + (t.proto === TCP ? 0 : 1);
    const pi = t.family === 6 ? 3 : 1;
    const before = {
      i32: ref.i32,
      side: ref.sideWords,
      free: ref.nativeFreeRows,
      slots: [0, 1, 2, 3].map((k) => ref.nativeIndexSlots(k)),
      lru: ref.nativeLruBuilt(ti) || ref.nativeLruBuilt(pi),
      gone: ref.evictions + ref.expired,
      size: ref.size,
      related: ref.relatedSize,
    };
    const refCreated = ref.createRow(t, now);
    const grew =
      ref.i32 !== before.i32 || ref.sideWords !== before.side || ref.nativeFreeRows !== before.free || [0, 1, 2, 3].some((k) => ref.nativeIndexSlots(k) !== before.slots[k]);
    const tableMade = before.slots[ti] === null || before.slots[pi] === null;
    const evicted = ref.evictions + ref.expired !== before.gone;
    const pairNew = ref.relatedSize - before.related;
    const unlinked = !evicted && ref.size - before.size !== 1 + pairNew;
    const expected = !(grew || tableMade || before.lru || evicted || unlinked);
    afterInTs(ref, refCreated, after, now);
    expect(can, `${context}: CanCreate (grew ${grew}, table made ${tableMade}, LRU ${before.lru}, evicted ${evicted}, unlinked ${unlinked})`).toBe(expected);
    let twinCreated: number;
    if (can) {
      twinCreated = op(step % 2 === 0 ? OP_CREATE_PLANNED : OP_CREATE, packTuple(t), now);
      toTs(twin, block);
      afterNatively(op, twin, twinCreated, after, now);
      tally.native++;
      if (pairNew === 0) tally.nativePairRefresh++;
      if (t.family === 6) tally.nativeV6++;
    } else {
      twinCreated = twin.createRow(t, now);
      afterInTs(twin, twinCreated, after, now);
      tally.refused++;
      for (const [name, hit] of Object.entries({ grew, tableMade, lru: before.lru, evicted, unlinked })) if (hit) tally.reasons[name] = (tally.reasons[name] ?? 0) + 1;
    }
    expect(twinCreated, context).toBe(refCreated);
    expectSame(snapshot(twin), snapshot(ref), `${context} (create${can ? ', native' : ''})`);
  }
  // The same entries, seen through the object API.
  expect([...twin.entries()].map((e) => [e.id, e.key, e.txPackets, e.rxPackets, e.expiresSec])).toEqual([...ref.entries()].map((e) => [e.id, e.key, e.txPackets, e.rxPackets, e.expiresSec]));
}

function newTally(): Tally {
  return { native: 0, refused: 0, nativePairRefresh: 0, nativeV6: 0, nativeMisses: 0, reasons: {} };
}

describe('native conntrack creation (ct_create.h) against Conntrack.createRow', () => {
  it('exports the scalar block size conntrack.ts writes', () => {
    expect(testing().ctCreateScalarWords).toBe(CT_CREATE_SCALAR_WORDS);
  });

  it.each<[string, Shape]>([
    ['colliding keys in small tables that evict and build their LRUCache', { options: { tcpMax: 24, anyMax: 40, hashBits: 4 }, minNative: 100, steps: 3000, hosts: 5, ports: 6, seed: 11 }],
    ['exact recency (lruResolutionSec 0), one hash bit', { options: { tcpMax: 48, anyMax: 48, hashBits: 1, lruResolutionSec: 0 }, minNative: 50, steps: 2000, hosts: 4, ports: 4, seed: 12 }],
    ['rows, free stack and index growing, no eviction', { options: { tcpMax: 6000, anyMax: 6000, hashBits: 12 }, minNative: 2000, steps: 6000, hosts: 40, ports: 400, seed: 13 }],
    ['full hash width, many reopens', { options: { tcpMax: 3000, anyMax: 3000 }, minNative: 1000, steps: 4000, hosts: 6, ports: 3, seed: 14 }],
  ])('%s', (_name, shape) => {
    const tally = newTally();
    run(shape, tally);
    // Most creations go native, and every refusal had its reason.
    expect(tally.native, JSON.stringify(tally)).toBeGreaterThanOrEqual(shape.minNative);
    expect(tally.nativeV6, JSON.stringify(tally)).toBeGreaterThan(0);
    expect(tally.nativePairRefresh, JSON.stringify(tally)).toBeGreaterThan(0);
    expect(tally.nativeMisses, JSON.stringify(tally)).toBeGreaterThan(shape.minNative / 2);
  });

  it('refuses for each reason createRow would allocate or evict, over the shapes above', () => {
    const tally = newTally();
    run({ options: { tcpMax: 24, anyMax: 40, hashBits: 4 }, minNative: 0, steps: 1500, hosts: 5, ports: 6, seed: 21 }, tally);
    run({ options: { tcpMax: 6000, anyMax: 6000, hashBits: 12 }, minNative: 0, steps: 3000, hosts: 40, ports: 400, seed: 22 }, tally);
    run({ options: { tcpMax: 3000, anyMax: 3000 }, minNative: 0, steps: 2000, hosts: 6, ports: 3, seed: 23 }, tally);
    for (const reason of ['grew', 'tableMade', 'lru', 'evicted', 'unlinked']) expect(tally.reasons[reason] ?? 0, `${reason}: ${JSON.stringify(tally)}`).toBeGreaterThan(0);
  });

  it('refuses a creation whose recency stamp would reach SEQ_LIMIT (stamp would renumber), takes one below it', () => {
    const SEQ_LIMIT = 0x3fffffff;
    const a = (i: number): number[] => [0, 0, 0xffff, 0x0a000000 + i];
    const setup = (): Conntrack => {
      const ct = new Conntrack({ tcpMax: 100, anyMax: 100 });
      ct.createRow(new CtTuple().set(4, a(1), a(2), 1, 2, TCP), 0);
      ct.createRow(new CtTuple().set(4, a(1), a(2), 1, 2, UDP), 0);
      // Both stamps of a UDP creation land in ANY4 (its pair entry's and its own): one fits below the limit.
      ct.setNativeSeq(1, SEQ_LIMIT - 1);
      ct.setNativeSeq(0, SEQ_LIMIT - 1);
      return ct;
    };
    const block = new Float64Array(BLOCK_WORDS);
    for (const [proto, can] of [
      [UDP, false],
      [TCP, true],
    ] as const) {
      const ref = setup();
      const twin = setup();
      const t = new CtTuple().set(4, a(3), a(4), 5, 6, proto);
      toNative(twin, block);
      const op = bind(twin, block);
      expect(op(OP_CAN_CREATE, packTuple(t), 10) === 1, `proto ${proto}`).toBe(can);
      const row = can ? op(OP_CREATE_PLANNED, packTuple(t), 10) : twin.createRow(t, 10);
      if (can) toTs(twin, block);
      expect(row).toBe(ref.createRow(t, 10));
      expectSame(snapshot(twin), snapshot(ref), `proto ${proto}`);
      // Taken: the last stamp is the limit itself; refused: TypeScript renumbered the heads.
      if (can) expect(twin.nativeSeq(1)).toBe(SEQ_LIMIT);
      else expect(twin.nativeSeq(1)).toBeLessThan(100);
    }
  });

  it("counts the lookup's pending stamp when it checks SEQ_LIMIT (LookupMiss, then CanCreate)", () => {
    const SEQ_LIMIT = 0x3fffffff;
    const a = (i: number): number[] => [0, 0, 0xffff, 0x0a000000 + i];
    const setup = (seq: number): Conntrack => {
      // One hash bit: every key has a chain, so the new connection's lookup stamps a head.
      const ct = new Conntrack({ hashBits: 1 });
      for (let i = 0; i < 6; i++) ct.createRow(new CtTuple().set(4, a(1), a(2), 10 + i, 80, TCP), 0);
      ct.setNativeSeq(0, seq);
      return ct;
    };
    const t = new CtTuple().set(4, a(3), a(4), 5, 6, TCP);
    const block = new Float64Array(BLOCK_WORDS);
    for (const [seq, can] of [
      [SEQ_LIMIT - 1, false], // the lookup's stamp reaches the limit: the link's would renumber
      [SEQ_LIMIT - 2, true],
    ] as const) {
      const ref = setup(seq);
      const twin = setup(seq);
      toNative(twin, block);
      const made = bind(twin, block)(OP_MISS_AND_CREATE, packTuple(t), 10_000);
      expect(made >= 0, `seq ${seq}`).toBe(can);
      expect(ref.lookupRow(t, 10_000)).toBe(-1);
      const refMade = ref.createRow(t, 10_000);
      if (can) {
        toTs(twin, block);
        expect(made).toBe(refMade);
        expect(twin.nativeSeq(0)).toBe(SEQ_LIMIT);
      } else {
        expect(made).toBe(-1);
        expect(twin.lookupRow(t, 10_000)).toBe(-1);
        twin.createRow(t, 10_000);
      }
      expectSame(snapshot(twin), snapshot(ref), `seq ${seq}`);
    }
  });

  it('answers -1 and writes nothing for a creation it cannot do (Create alone checks again)', () => {
    const ct = new Conntrack({ tcpMax: 4, anyMax: 4 });
    const block = new Float64Array(BLOCK_WORDS);
    const t = new CtTuple().set(4, [0, 0, 0xffff, 0x0a000001], [0, 0, 0xffff, 0x0a000002], 1000, 80, TCP);
    // No table yet: TypeScript makes it.
    toNative(ct, block);
    const held = { words: ct.i32.slice(), side: ct.sideWords.slice() };
    expect(bind(ct, block)(OP_CREATE, packTuple(t), 0)).toBe(-1);
    expect(firstDifference(ct.i32, held.words)).toBeUndefined();
    expect(firstDifference(ct.sideWords, held.side)).toBeUndefined();
    ct.createRow(t, 0);
    // The tables exist now: a second connection of the same address pair goes native (its pair
    // entry refreshed, not made).
    const u = new CtTuple().set(4, [0, 0, 0xffff, 0x0a000001], [0, 0, 0xffff, 0x0a000002], 1001, 80, TCP);
    toNative(ct, block);
    const row = bind(ct, block)(OP_CREATE, packTuple(u), 5);
    expect(row).toBeGreaterThanOrEqual(0);
    toTs(ct, block);
    expect(ct.lookupRow(u, 6)).toBe(row);
    expect(ct.idOf(row)).toBe(2);
    expect(ct.relatedSize).toBe(1);
    expect(ct.tcpSize).toBe(2);
  });
});
