/**
 * Micro-timing of the conntrack hot path (not a test, not a tinybench suite): lookup + touch for
 * 1M packets over 100k flows, in a shuffled order (every packet a random flow and direction, so
 * the access pattern is cache-hostile, as design.md §6 asks), after a warm-up pass.
 *
 *   [VARIANTS=default,exact-lru,52-bit-keys] npx tsx test/maps/conntrack-timing.ts [packets] [flows] [rounds]
 *
 * Prints ns/packet (median and best of `rounds`) for: the tuple fill alone (the baseline every
 * variant pays), a bare `Map.get` and a bare `LRUCache.get` with as many 31-bit keys (what an
 * index and the store alone cost at this working set), lookup, and lookup + touch; and the same for a temporally local order (each flow
 * sends a burst of 10 packets), which is what real captures look like. Rounds of the variants
 * are interleaved so that load from other processes hits them alike.
 */
import { LRUCache } from 'lru-cache';
import { Conntrack, CtDir, CtTuple, type ConntrackOptions } from '../../src/maps/conntrack.js';

const PACKETS = Number(process.argv[2] ?? 1_000_000);
const FLOWS = Number(process.argv[3] ?? 100_000);
const ROUNDS = Number(process.argv[4] ?? 7);

// A deterministic PRNG (mulberry32), so runs are comparable.
let seed = 0x12345678;
function rnd(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// Flows: clients in 10.0.0.0/8 to servers in 172.16.0.0/12, 80% TCP, random ports.
const fSrc = new Uint32Array(FLOWS);
const fDst = new Uint32Array(FLOWS);
const fSport = new Uint16Array(FLOWS);
const fDport = new Uint16Array(FLOWS);
const fProto = new Uint8Array(FLOWS);
for (let i = 0; i < FLOWS; i++) {
  fSrc[i] = (0x0a000000 | Math.floor(rnd() * 0xffffff)) >>> 0;
  fDst[i] = (0xac100000 | Math.floor(rnd() * 0xfffff)) >>> 0;
  fSport[i] = 1024 + Math.floor(rnd() * 60000);
  fDport[i] = [80, 443, 53, 8080, 5432][Math.floor(rnd() * 5)]!;
  fProto[i] = rnd() < 0.8 ? 6 : 17;
}
// Packets: a random flow each (shuffled), or bursts of 10 per flow (local); 40% replies.
const shuffled = new Uint32Array(PACKETS);
const local = new Uint32Array(PACKETS);
const pReply = new Uint8Array(PACKETS);
for (let i = 0; i < PACKETS; i++) {
  shuffled[i] = Math.floor(rnd() * FLOWS);
  pReply[i] = rnd() < 0.4 ? 1 : 0;
}
for (let i = 0; i < PACKETS; i += 10) {
  const f = Math.floor(rnd() * FLOWS);
  for (let j = i; j < i + 10 && j < PACKETS; j++) local[j] = f;
}

const t = new CtTuple();
function fill(order: Uint32Array, i: number): void {
  const f = order[i]!;
  t.family = 4;
  t.proto = fProto[f]!;
  t.src[2] = 0xffff;
  t.dst[2] = 0xffff;
  if (pReply[i] === 0) {
    t.src[3] = fSrc[f]!;
    t.dst[3] = fDst[f]!;
    t.sport = fSport[f]!;
    t.dport = fDport[f]!;
  } else {
    t.src[3] = fDst[f]!;
    t.dst[3] = fSrc[f]!;
    t.sport = fDport[f]!;
    t.dport = fSport[f]!;
  }
}

const now0 = 1_700_000_000.25;
function build(options: ConntrackOptions): Conntrack {
  const ct = new Conntrack(options);
  for (let f = 0; f < FLOWS; f++) {
    t.set(4, [0, 0, 0xffff, fSrc[f]!], [0, 0, 0xffff, fDst[f]!], fSport[f]!, fDport[f]!, fProto[f]!);
    ct.touch(ct.create(t, now0), CtDir.FORWARD, 0x02, 60, now0);
  }
  return ct;
}
const VARIANTS: Record<string, ConntrackOptions> = {
  default: {},
  'exact-lru': { lruResolutionSec: 0 },
  '52-bit-keys': { hashBits: 52 },
};
// One variant at a time by default: each holds 200k entries, and more would share the caches.
const variants: Array<[string, Conntrack]> = (process.env.VARIANTS ?? 'default').split(',').map((v) => {
  const o = VARIANTS[v];
  if (!o) throw new Error(`unknown variant ${v} (${Object.keys(VARIANTS).join(', ')})`);
  return [v, build(o)];
});
let ct = variants[0]![1];

// The bare stores, same number of keys per kind, 31-bit keys as the conntrack uses: an
// LRUCache `get` (what the store alone costs at this working set) and a plain Map `get`.
const bareTcp = new LRUCache<number, object>({ max: 131_072 });
const bareAny = new LRUCache<number, object>({ max: 131_072 });
const mapTcp = new Map<number, object>();
const mapAny = new Map<number, object>();
const bareKeys = new Float64Array(FLOWS);
for (let f = 0; f < FLOWS; f++) {
  bareKeys[f] = Math.floor(rnd() * 2 ** 31);
  (fProto[f] === 6 ? bareTcp : bareAny).set(bareKeys[f]!, { f });
  (fProto[f] === 6 ? mapTcp : mapAny).set(bareKeys[f]!, { f });
}
const OPTS = {};

function runFill(order: Uint32Array): number {
  let x = 0;
  for (let i = 0; i < PACKETS; i++) {
    fill(order, i);
    x += t.sport;
  }
  return x;
}

function runBare(order: Uint32Array): number {
  let hits = 0;
  for (let i = 0; i < PACKETS; i++) {
    fill(order, i);
    const f = order[i]!;
    if ((fProto[f] === 6 ? bareTcp : bareAny).get(bareKeys[f]!, OPTS) !== undefined) hits++;
  }
  return hits;
}

function runMap(order: Uint32Array): number {
  let hits = 0;
  for (let i = 0; i < PACKETS; i++) {
    fill(order, i);
    const f = order[i]!;
    if ((fProto[f] === 6 ? mapTcp : mapAny).get(bareKeys[f]!) !== undefined) hits++;
  }
  return hits;
}

let clock = now0;
function runLookup(order: Uint32Array): number {
  let hits = 0;
  const now = (clock += 0.001);
  for (let i = 0; i < PACKETS; i++) {
    fill(order, i);
    if (ct.lookup(t, now, 0x10) !== null) hits++;
  }
  return hits;
}

function runLookupTouch(order: Uint32Array): number {
  let hits = 0;
  const now = (clock += 0.001);
  for (let i = 0; i < PACKETS; i++) {
    fill(order, i);
    const e = ct.lookup(t, now, 0x10);
    if (e !== null) {
      ct.touch(e, ct.lastDir, 0x10, 100, now);
      hits++;
    }
  }
  return hits;
}

interface Case {
  name: string;
  fn: () => number;
  runs: number[];
}
const cases: Case[] = [];
for (const [label, order] of [
  ['shuffled', shuffled],
  ['bursts of 10', local],
] as const) {
  cases.push({ name: `${label}: tuple fill`, fn: () => runFill(order), runs: [] });
  cases.push({ name: `${label}: bare Map.get`, fn: () => runMap(order), runs: [] });
  cases.push({ name: `${label}: bare LRUCache.get`, fn: () => runBare(order), runs: [] });
  for (const [v, c] of variants) {
    cases.push({ name: `${label}: lookup (${v})`, fn: () => ((ct = c), runLookup(order)), runs: [] });
    cases.push({ name: `${label}: lookup + touch (${v})`, fn: () => ((ct = c), runLookupTouch(order)), runs: [] });
  }
}
for (const c of cases) c.fn(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const c of cases) {
    const t0 = process.hrtime.bigint();
    const hits = c.fn();
    c.runs.push(Number(process.hrtime.bigint() - t0) / PACKETS);
    if (c.name.includes('lookup') && hits !== PACKETS) throw new Error(`${c.name}: ${hits} hits of ${PACKETS}`);
  }
}
console.log(
  `conntrack: ${PACKETS} packets over ${FLOWS} flows (${ct.tcpSize} TCP, ${ct.anySize} non-TCP entries incl. ${ct.relatedSize} RELATED), ` +
    `${ROUNDS} rounds, Node ${process.version}`,
);
for (const c of cases) {
  const s = [...c.runs].sort((a, b) => a - b);
  console.log(`${c.name.padEnd(44)} median ${s[s.length >> 1]!.toFixed(1).padStart(7)} ns/packet   best ${s[0]!.toFixed(1).padStart(7)}`);
}
