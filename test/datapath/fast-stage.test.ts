/**
 * The new-connection policy stage, native (native/fastpath/stage.h) against the TypeScript it
 * mirrors:
 *  - the decision of program.ts `Datapath.policy` (audit off), driven through the program's own
 *    private method, over the native policy maps of DatapathStates compiled from a generated
 *    cluster and from the examples (deny rules, ICMP rules, L4-only rules, proxy redirects, host
 *    policies), for many (endpoint, direction, remote identity, protocol, port / ICMP type and
 *    code) inputs;
 *  - ConnectionCache find / claim / setStage / stage (conn-cache.ts) against the native
 *    FindRow / CanClaim / RecordStage / CachedStage on a twin table, word for word after every
 *    step, over random connection ids (growth included: CanClaim must refuse exactly the claims
 *    that grow) and generations;
 *  - the two together as the program runs them for a new connection's forward packet
 *    (`Datapath.stagePolicy`, egress then ingress): the same decisions and the same rows.
 */
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileMaps } from '../../src/agent/agent.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { CachedStage, ConnectionCache, policyInputKey } from '../../src/datapath/conn-cache.js';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState } from '../../src/datapath/state.js';
import { loadClusterObjects, loadClusterText } from '../../src/k8s/load.js';
import type { MapsDocument } from '../../src/maps/document.js';
import type { NativePolicySetHandle } from '../../src/maps/native.js';
import { parseIp } from '../../src/net/addr.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { generateCluster } from '../../bench/lib/gen-cluster.js';
import { ROOT } from '../helpers/cli.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';

const native = nativeOrFail();

interface StageTesting {
  stageDecide(set: NativePolicySetHandle, mapIds: Uint32Array, input: Int32Array, out: Float64Array, n: number): number;
  stageCanClaim(rows: Int32Array, id: number): boolean;
  stageFind(rows: Int32Array, id: number, gen: number): number;
  stageRecord(rows: Int32Array, id: number, gen: number, stage: number, key: number, fromVni: boolean, remote: number, decision: Float64Array): number;
  stageCached(rows: Int32Array, o: number, stage: number, key: number, fromVni: boolean, remote: number, out: Float64Array): boolean;
  stageInWords: number;
  stageOutWords: number;
}
const t = native.fastpathTesting as unknown as StageTesting;
const IN = t.stageInWords;
const OUT = t.stageOutWords;

const STAGE_EGRESS = 0;
const STAGE_INGRESS = 1;

// ---------------------------------------------------------------------------------------------
// The TypeScript side: the program's own `policy` and `stagePolicy` (private; reached by name).

/** The stage fields `Datapath.policy` leaves, in the native answer's layout (minus word 0). */
interface Decision {
  verdict: number;
  stageVerdict: number;
  matchType: number;
  rule: number;
  proxyPort: number;
  bypass: boolean;
  audited: boolean;
}

interface ProgramInternals {
  policy(endpoint: number, direction: 0 | 1, remote: number, p: DecodedPacket): number;
  stagePolicy(conn: number, stage: number, endpoint: number, node: number, p: DecodedPacket): number;
  stageVerdict: number;
  stageRule: number;
  stageMatch: number;
  stageProxy: number;
  stageBypass: boolean;
  audited: boolean;
  connCache: ConnectionCache;
}

function internals(dp: Datapath): ProgramInternals {
  return dp as unknown as ProgramInternals;
}

function tsDecision(dp: Datapath, verdict: number): Decision {
  const d = internals(dp);
  return {
    verdict,
    stageVerdict: d.stageVerdict,
    matchType: d.stageMatch,
    rule: d.stageRule,
    proxyPort: d.stageProxy,
    bypass: d.stageBypass,
    audited: d.audited,
  };
}

function nativeDecision(out: Float64Array, i: number): Decision {
  const o = i * OUT;
  expect(out[o], `native answer ${i} decided`).toBe(1);
  return {
    verdict: out[o + 1]!,
    stageVerdict: out[o + 2]!,
    matchType: out[o + 3]!,
    rule: out[o + 4]!,
    proxyPort: out[o + 5]!,
    bypass: out[o + 6] === 1,
    audited: out[o + 7] === 1,
  };
}

function decisionWords(d: Decision): Float64Array {
  return Float64Array.of(1, d.verdict, d.stageVerdict, d.matchType, d.rule, d.proxyPort, d.bypass ? 1 : 0, d.audited ? 1 : 0);
}

function cachedOf(d: Decision): CachedStage {
  const c = new CachedStage();
  c.verdict = d.verdict;
  c.stageVerdict = d.stageVerdict;
  c.matchType = d.matchType;
  c.rule = d.rule;
  c.bypass = d.bypass;
  c.audited = d.audited;
  return c;
}

// ---------------------------------------------------------------------------------------------
// States

function docOf(paths: string[]): MapsDocument {
  const objects = loadClusterObjects(paths.map((p) => join(ROOT, 'examples', p)));
  return compileMaps(objects, parsePolicies(objects.policies));
}

function generatedDoc(): MapsDocument {
  const cluster = generateCluster({ pods: 120, policies: 30 });
  const objects = loadClusterText(`${cluster.clusterYaml}\n---\n${cluster.policyYaml}`, 'generated.yaml');
  return compileMaps(objects, parsePolicies(objects.policies));
}

/** Name, the document (built lazily: test.each titles are listed before any test runs). */
const STATES: Array<[string, () => MapsDocument]> = [
  ['generated cluster (120 pods, 30 policies)', generatedDoc],
  ['connectivity: ICMP deny from the other client', () => docOf(['connectivity/cluster', 'connectivity/client-ingress-from-other-client-icmp-deny/policies'])],
  ['connectivity: ICMP ingress allow', () => docOf(['connectivity/cluster', 'connectivity/client-ingress-icmp/policies'])],
  ['connectivity: all ingress denied', () => docOf(['connectivity/cluster', 'connectivity/all-ingress-deny/policies'])],
  ['connectivity: to CIDR external', () => docOf(['connectivity/cluster', 'connectivity/to-cidr-external/policies'])],
  ['deny-over-allow (deny, L4 and L7 rules)', () => docOf(['deny-over-allow/cluster', 'deny-over-allow/policies'])],
  ['edge (ICMP rules)', () => docOf(['edge/cluster', 'edge/policies'])],
  ['l7 http (proxy redirects)', () => docOf(['l7/cluster', 'l7/policies/http'])],
  ['l7 dns (proxy redirects to DNS)', () => docOf(['l7/cluster', 'l7/policies/dns'])],
  ['starwars L3/L4/L7', () => docOf(['starwars/cluster', 'starwars/policies-l7'])],
  ['netpol recipe 09: a port only (L4-only)', () => docOf(['netpol-recipes/cluster', 'netpol-recipes/09-allow-traffic-only-to-a-port/policies'])],
  ['seed-talk (host firewall)', () => docOf(['seed-talk/cluster', 'seed-talk/policies'])],
];

/** Remote identities worth asking about: every identity the document names, reserved ones, strays. */
function remotesOf(doc: MapsDocument): number[] {
  const s = new Set<number>([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 0xffffffff, 0x80000000, 123456]);
  for (const i of doc.identities) s.add(i.identity);
  for (const e of doc.ipcache.shared) s.add(e.identity);
  for (const v of doc.ipcache.views) for (const e of v.entries) s.add(e.identity);
  for (const m of doc.policyMaps) for (const e of m.entries) s.add(e.identity);
  return [...s];
}

/** Ports worth asking about: every port the entries name, its neighbours, a few others. */
function portsOf(doc: MapsDocument): number[] {
  const s = new Set<number>([0, 1, 53, 80, 443, 8080, 65535]);
  for (const m of doc.policyMaps) {
    for (const e of m.entries) {
      s.add(e.port);
      if (e.port > 0) s.add(e.port - 1);
      if (e.port < 65535) s.add(e.port + 1);
    }
  }
  return [...s];
}

/** ICMP (type, code) pairs: the bypass cases, their neighbours, echo, errors, a missing header. */
const ICMP4: Array<[number, number]> = [[3, 4], [3, 3], [3, 0], [4, 4], [8, 0], [0, 0], [11, 0], [5, 1], [-1, -1], [255, 255]];
const ICMP6: Array<[number, number]> = [[133, 0], [134, 0], [135, 0], [136, 0], [137, 0], [132, 0], [138, 0], [128, 0], [129, 0], [1, 4], [2, 0], [-1, -1]];

interface Input {
  endpoint: number;
  stage: number;
  remote: number;
  proto: number;
  hasPorts: boolean;
  dport: number;
  icmpType: number;
  icmpCode: number;
}

function packetOf(x: Input, p: DecodedPacket): DecodedPacket {
  p.reset();
  p.ipVersion = x.proto === 58 ? 6 : 4;
  p.ipProto = x.proto;
  p.hasPorts = x.hasPorts;
  p.dport = x.dport;
  p.icmpType = x.icmpType;
  p.icmpCode = x.icmpCode;
  return p;
}

/** Inputs over every endpoint: each protocol's cases with a sample of remotes and ports. */
function inputsOf(doc: MapsDocument, seed: number, perEndpoint: number): Input[] {
  const next = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[next() % a.length]!;
  const remotes = remotesOf(doc);
  const ports = portsOf(doc);
  const out: Input[] = [];
  for (let endpoint = 0; endpoint < doc.endpoints.length; endpoint++) {
    for (let k = 0; k < perEndpoint; k++) {
      const stage = next() & 1;
      const remote = pick(remotes);
      const r = next() % 10;
      if (r < 4) out.push({ endpoint, stage, remote, proto: pick([6, 6, 17, 132]), hasPorts: true, dport: pick(ports), icmpType: -1, icmpCode: -1 });
      else if (r < 5) out.push({ endpoint, stage, remote, proto: pick([6, 17, 47, 50, 0]), hasPorts: false, dport: pick(ports), icmpType: -1, icmpCode: -1 });
      else if (r < 7) {
        const [type, code] = pick(ICMP4);
        out.push({ endpoint, stage, remote, proto: 1, hasPorts: false, dport: 0, icmpType: type, icmpCode: code });
      } else if (r < 9) {
        const [type, code] = pick(ICMP6);
        out.push({ endpoint, stage, remote, proto: 58, hasPorts: false, dport: 0, icmpType: type, icmpCode: code });
      } else {
        // The endpoint's own allowed ports with the identities its entries name: hits, not misses.
        const entries = doc.policyMaps.find((m) => m.endpoint === doc.endpoints[endpoint]!.name)?.entries ?? [];
        const e = entries.length > 0 ? pick(entries) : undefined;
        if (e === undefined) continue;
        const proto = e.protocol === 0 ? pick([6, 17, 1, 58]) : e.protocol;
        const icmp = proto === 1 || proto === 58;
        out.push({
          endpoint,
          stage: e.direction === 'egress' ? STAGE_EGRESS : STAGE_INGRESS,
          remote: e.identity === 0 ? remote : e.identity,
          proto,
          hasPorts: !icmp,
          dport: icmp ? 0 : e.port,
          icmpType: icmp ? e.port : -1,
          icmpCode: icmp ? 0 : -1,
        });
      }
    }
  }
  return out;
}

function nativeDecide(state: DatapathState, inputs: Input[]): Float64Array {
  const binding = state.nativePolicyMaps();
  expect(binding, 'every endpoint has a native policy map of one set').toBeDefined();
  const n = inputs.length;
  const input = new Int32Array(n * IN);
  inputs.forEach((x, i) => {
    input.set([x.endpoint, x.stage, x.remote | 0, x.proto, x.hasPorts ? 1 : 0, x.dport, x.icmpType, x.icmpCode], i * IN);
  });
  const out = new Float64Array(n * OUT);
  expect(t.stageDecide(binding!.set, binding!.ids, input, out, n)).toBe(n);
  return out;
}

function fmt(x: Input): string {
  return JSON.stringify(x);
}

describe.each(STATES)('Datapath.policy decisions: %s', (_name, makeDoc) => {
  test('the native decision equals the program\'s for every input, and the inputs reach every outcome', () => {
    const doc = makeDoc();
    const state = new DatapathState(doc, { backend: 'native' });
    const dp = new Datapath(state, () => {}, { audit: false });
    const program = internals(dp);
    const inputs = inputsOf(doc, 7 + doc.endpoints.length, doc.endpoints.length > 100 ? 40 : 400);
    const out = nativeDecide(state, inputs);
    const p = new DecodedPacket();
    const seen = { drop: 0, deny: 0, allow: 0, proxy: 0, bypass: 0, rule: 0, matchTypes: new Set<number>() };
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i]!;
      const v = program.policy(x.endpoint, x.stage === STAGE_EGRESS ? 1 : 0, x.remote, packetOf(x, p));
      const want = tsDecision(dp, v);
      const got = nativeDecision(out, i);
      if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, fmt(x)).toEqual(want);
      if (v === -181) seen.deny++;
      if (v < 0) seen.drop++;
      if (v === 0 && !want.bypass) seen.allow++;
      if (v > 0) seen.proxy++;
      if (want.bypass) seen.bypass++;
      if (want.rule >= 0) seen.rule++;
      seen.matchTypes.add(want.matchType);
    }
    // Not vacuous: drops, allows, bypasses and matched rules everywhere.
    expect(seen.drop).toBeGreaterThan(0);
    expect(seen.allow).toBeGreaterThan(0);
    expect(seen.bypass).toBeGreaterThan(0);
    expect(seen.rule).toBeGreaterThan(0);
    expect(seen.matchTypes.size).toBeGreaterThan(1);
  });
});

test('the examples reach a policy deny, a proxy redirect and L4-only matches', () => {
  // The outcomes the per-state test cannot demand of every state, demanded of the ones that have them.
  const outcomes = (paths: string[]): { deny: number; proxy: number; matchTypes: Set<number> } => {
    const doc = docOf(paths);
    const state = new DatapathState(doc, { backend: 'native' });
    const inputs = inputsOf(doc, 3, 400);
    const out = nativeDecide(state, inputs);
    const r = { deny: 0, proxy: 0, matchTypes: new Set<number>() };
    for (let i = 0; i < inputs.length; i++) {
      const d = nativeDecision(out, i);
      if (d.verdict === -181) r.deny++;
      if (d.verdict > 0) r.proxy++;
      r.matchTypes.add(d.matchType);
    }
    return r;
  };
  expect(outcomes(['deny-over-allow/cluster', 'deny-over-allow/policies']).deny).toBeGreaterThan(0);
  expect(outcomes(['connectivity/cluster', 'connectivity/client-ingress-from-other-client-icmp-deny/policies']).deny).toBeGreaterThan(0);
  expect(outcomes(['l7/cluster', 'l7/policies/http']).proxy).toBeGreaterThan(0);
  expect(outcomes(['l7/cluster', 'l7/policies/dns']).proxy).toBeGreaterThan(0);
  // POLICY_MATCH_L4_ONLY (3): an any-peer entry with a port.
  expect(outcomes(['seed-talk/cluster', 'seed-talk/policies']).matchTypes.has(3)).toBe(true);
  expect(outcomes(['deny-over-allow/cluster', 'deny-over-allow/policies']).matchTypes.has(3)).toBe(true);
});

test('an endpoint outside the bound ids is not decided; a disposed map answers as an empty one', () => {
  const doc = docOf(['deny-over-allow/cluster', 'deny-over-allow/policies']);
  const state = new DatapathState(doc, { backend: 'native' });
  const b = state.nativePolicyMaps()!;
  const input = Int32Array.of(b.ids.length, 0, 2, 6, 1, 80, -1, -1, -1, 0, 2, 6, 1, 80, -1, -1);
  const out = new Float64Array(2 * OUT);
  t.stageDecide(b.set, b.ids, input, out, 2);
  expect([...out.subarray(0, 2 * OUT)]).toEqual(new Array(2 * OUT).fill(0));
  // A map put in place and disposed: both sides answer as an empty map (DROP_POLICY, no match).
  const map = state.createPolicyMap();
  map.set({ identity: 0, direction: 1, protocol: 6, port: 80, prefixLen: 24, deny: false, proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, cookie: 5 });
  state.replacePolicyMap(0, map);
  (map as unknown as { dispose(): void }).dispose();
  const b2 = state.nativePolicyMaps()!;
  expect(b2.ids[0]).toBe(0xffffffff);
  const dp = new Datapath(state, () => {}, { audit: false });
  const x: Input = { endpoint: 0, stage: STAGE_EGRESS, remote: 2, proto: 6, hasPorts: true, dport: 80, icmpType: -1, icmpCode: -1 };
  const v = internals(dp).policy(0, 1, 2, packetOf(x, new DecodedPacket()));
  expect(v).toBe(-133);
  expect(nativeDecision(nativeDecide(state, [x]), 0)).toEqual(tsDecision(dp, v));
  // The ts backend has no native binding.
  expect(new DatapathState(doc, { backend: 'ts' }).nativePolicyMaps()).toBeUndefined();
});

// ---------------------------------------------------------------------------------------------
// The connection cache

function bytesOf(a: Int32Array, from = 0, to = a.length): Buffer {
  return Buffer.from(a.buffer, a.byteOffset + from * 4, (to - from) * 4);
}

/**
 * The words of both tables equal, from word `from` to `to` (all by default); a memcmp, then the
 * first difference named in the message.
 */
function sameRows(ts: ConnectionCache, nat: ConnectionCache, context: string, from = 0, to = ts.nativeRows.length): void {
  const a = ts.nativeRows;
  const b = nat.nativeRows;
  expect(b.length, `${context}: table size`).toBe(a.length);
  if (bytesOf(a, from, to).equals(bytesOf(b, from, to))) return;
  for (let i = from; i < to; i++) {
    if (a[i] !== b[i]) expect(`word ${i} (row ${i >> 4}, word ${i & 15}) = ${b[i]}`, context).toBe(`word ${i} (row ${i >> 4}, word ${i & 15}) = ${a[i]}`);
  }
}

function randomDecision(next: () => number): Decision {
  const r = next() % 6;
  const verdict = r === 0 ? -133 : r === 1 ? -181 : r === 2 ? 1000 + (next() % 60000) : r === 3 ? -189 : 0;
  const bypass = verdict === 0 && next() % 4 === 0;
  const audited = verdict === 0 && next() % 5 === 0;
  const rr = next() % 5;
  const rule = rr === 0 ? -1 : rr === 1 ? 0xfffffffe : rr === 2 ? 0x80000000 : next() % 5000;
  return {
    verdict,
    stageVerdict: audited ? -181 : verdict,
    matchType: next() % 7,
    rule,
    proxyPort: verdict > 0 ? verdict : 0,
    bypass,
    audited,
  };
}

test('claim + setStage and find + stage: the native table stays word-for-word the TypeScript one, growth refused exactly', () => {
  const ts = new ConnectionCache();
  const nat = new ConnectionCache();
  const next = rng(99);
  const out = new Float64Array(OUT);
  const cached = new CachedStage();
  let nextId = 1;
  let grown = 0;
  let refused = 0;
  let hits = 0;
  const live: number[] = [];
  for (let step = 0; step < 20_000; step++) {
    const r = next() % 16;
    // Mostly fresh ids in order (as the conntrack hands them out), jumping far now and then
    // (growth, up to MAX_ROWS and past it: rows shared by ids 2^18 apart), some old ids and a few
    // odd ones (0, negative: conntrack never gives them, TypeScript still answers).
    let id: number;
    if (r < 9) id = nextId++;
    else if (r < 10) id = nextId += 1 + (next() % 40_000);
    else if (r < 14 && live.length > 0) id = live[next() % live.length]!;
    else if (r < 15) id = (next() % 3) - 1;
    else id = (next() % (nextId + 8192)) + 1;
    live.push(id);
    if (live.length > 64) live.shift();
    const gen = next() % 3 === 0 ? next() % 4 : 0;
    const stage = next() & 1;
    const key = policyInputKey(next() % 3 === 0 ? 1 : 6, true, next() % 4, next() % 3, 0);
    const fromVni = next() % 8 === 0;
    const remote = fromVni ? (next() % 5) + 1 : next() % 4 === 0 ? next() % 5 : -1;
    const ctx = `step ${step}: id ${id} gen ${gen} stage ${stage} key ${key} fromVni ${fromVni} remote ${remote}`;

    // Reads first: find and stage on both.
    const rowTs = ts.find(id, gen);
    expect(t.stageFind(nat.nativeRows, id, gen), ctx).toBe(rowTs);
    if (rowTs >= 0) {
      const hitTs = ts.stage(rowTs, stage, key, fromVni, remote, cached);
      const hitNat = t.stageCached(nat.nativeRows, rowTs, stage, key, fromVni, remote, out);
      expect(hitNat, ctx).toBe(hitTs);
      if (hitTs) {
        hits++;
        expect(nativeDecision(out, 0), ctx).toEqual({
          verdict: cached.verdict,
          stageVerdict: cached.stageVerdict,
          matchType: cached.matchType,
          rule: cached.rule,
          proxyPort: cached.verdict > 0 ? cached.verdict : 0,
          bypass: cached.bypass,
          audited: cached.audited,
        });
        continue;
      }
    }

    // Then the write: stagePolicy's tail on both.
    const d = randomDecision(next);
    const before = ts.nativeRows;
    let row = rowTs;
    if (row < 0) row = ts.claim(id, gen);
    ts.setStage(row, stage, key, fromVni, remote, cachedOf(d));
    const grew = ts.nativeRows !== before;
    if (grew) grown++;
    const canClaim = t.stageCanClaim(nat.nativeRows, id);
    if (rowTs < 0) expect(canClaim, `${ctx}: CanClaim exactly when the claim does not grow`).toBe(!grew);
    const o = t.stageRecord(nat.nativeRows, id, gen, stage, key, fromVni, remote, decisionWords(d));
    if (o < 0) {
      // Refused (the table would grow): the packet goes to TypeScript, which grows it.
      refused++;
      expect(grew, ctx).toBe(true);
      const r2 = nat.claim(id, gen);
      nat.setStage(r2, stage, key, fromVni, remote, cachedOf(d));
    } else {
      expect(o, ctx).toBe(row);
    }
    // The row written every step; the whole table after a growth (rows moved) and now and then.
    if (grew || step % 1000 === 0) sameRows(ts, nat, ctx);
    else sameRows(ts, nat, ctx, row, row + 16);
  }
  sameRows(ts, nat, 'at the end');
  // Not vacuous: the table grew to its limit (4,096 rows, then 262,144 at once), claims were
  // refused, cached stages were hit.
  expect(grown).toBe(1);
  expect(refused).toBe(grown);
  expect(ts.nativeRows.length).toBe((1 << 18) * 16);
  expect(hits).toBeGreaterThan(100);
});

// ---------------------------------------------------------------------------------------------
// The two as the program runs them for a new connection

test('a new connection\'s two stages (Datapath.stagePolicy): the same decisions and the same cache rows', () => {
  const doc = generatedDoc();
  const state = new DatapathState(doc, { backend: 'native' });
  const dp = new Datapath(state, () => {}, { audit: false });
  const program = internals(dp);
  const nat = new ConnectionCache();
  const binding = state.nativePolicyMaps()!;
  const next = rng(4242);
  const p = new DecodedPacket();
  const input = new Int32Array(IN);
  const out = new Float64Array(OUT);
  const addr = (ep: number): Uint32Array => parseIp(doc.endpoints[ep]!.addresses.find((a) => !a.includes(':'))!)!.words;
  const pods = doc.endpoints.map((e, i) => (e.addresses.some((a) => !a.includes(':')) ? i : -1)).filter((i) => i >= 0);
  const outside = parseIp('203.0.113.9')!.words;
  const ports = portsOf(doc);
  const outcomes = new Set<string>();
  let refused = 0;
  for (let conn = 1; conn <= 6000; conn++) {
    // Between two endpoints, or one end outside the cluster (a single stage).
    const src = next() % 8 === 0 ? -1 : pods[next() % pods.length]!;
    let dst = next() % 8 === 0 ? -1 : pods[next() % pods.length]!;
    if (src < 0 && dst < 0) dst = pods[0]!;
    if (src === dst) continue;
    p.reset();
    p.ipVersion = 4;
    p.src.set(src >= 0 ? addr(src) : outside);
    p.dst.set(dst >= 0 ? addr(dst) : outside);
    const r = next() % 4;
    if (r === 0) {
      p.ipProto = 1;
      [p.icmpType, p.icmpCode] = ICMP4[next() % ICMP4.length]!;
    } else {
      p.ipProto = r === 1 ? 17 : 6;
      p.hasPorts = true;
      p.sport = 30000 + (next() % 30000);
      p.dport = ports[next() % ports.length]!;
    }
    const gen = state.generation;
    const key = policyInputKey(p.ipProto, p.hasPorts, p.dport, p.icmpType, p.icmpCode);
    for (const [stage, ep] of [
      [STAGE_EGRESS, src],
      [STAGE_INGRESS, dst],
    ] as const) {
      if (ep < 0) continue;
      const node = state.endpointNode[ep]!;
      // The TypeScript stage: cache miss, identityOf, policy, claim (egress) or find (ingress), setStage.
      const before = program.connCache.nativeRows;
      const v = program.stagePolicy(conn, stage, ep, node, p);
      const want = tsDecision(dp, v);
      const grew = program.connCache.nativeRows !== before;
      // The native one, with the remote identity component B would give.
      const remote = state.identityOf(node, 4, stage === STAGE_EGRESS ? p.dst : p.src);
      const found = t.stageFind(nat.nativeRows, conn, gen) >= 0;
      expect(found).toBe(stage === STAGE_INGRESS && src >= 0);
      const canClaim = t.stageCanClaim(nat.nativeRows, conn);
      expect(found || canClaim, 'the check refuses exactly what grows the table').toBe(!grew);
      input.set([ep, stage, remote | 0, p.ipProto, p.hasPorts ? 1 : 0, p.dport, p.icmpType, p.icmpCode]);
      t.stageDecide(binding.set, binding.ids, input, out, 1);
      const got = nativeDecision(out, 0);
      const ctx = `connection ${conn} stage ${stage} endpoint ${ep} remote ${remote} proto ${p.ipProto} dport ${p.dport} icmp ${p.icmpType}/${p.icmpCode}`;
      if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, ctx).toEqual(want);
      if (found || canClaim) {
        expect(t.stageRecord(nat.nativeRows, conn, gen, stage, key, false, p.vni, out), ctx).toBeGreaterThanOrEqual(0);
      } else {
        // Left to TypeScript, which grows the table and claims.
        refused++;
        expect(t.stageRecord(nat.nativeRows, conn, gen, stage, key, false, p.vni, out), ctx).toBe(-1);
        nat.setStage(nat.claim(conn, gen), stage, key, false, p.vni, cachedOf(got));
      }
      outcomes.add(`${stage}:${Math.sign(v)}:${want.bypass}`);
      // A drop at egress ends the packet (dropPacket): no ingress stage.
      if (v < 0) break;
    }
    if (conn % 500 === 0) sameRows(program.connCache, nat, `after connection ${conn}`);
  }
  sameRows(program.connCache, nat, 'at the end');
  // Not vacuous: both stages allowed and dropped, and bypassed.
  for (const o of ['0:-1:false', '0:0:false', '1:-1:false', '1:0:false', '0:0:true']) expect(outcomes.has(o), o).toBe(true);
  // The table grew once (4,096 rows, then 262,144) and the native side refused that claim.
  expect(refused).toBe(1);
});
