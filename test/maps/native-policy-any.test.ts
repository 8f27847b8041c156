/**
 * Differential: the any-peer (identity 0) group of a native policy map answers as the TypeScript
 * reference (src/maps/policy-map.ts) at every size it passes through. The addon keeps where each
 * map's any-peer group is in a record per map and direction (native/policy.h AnyPeer), refreshed
 * whenever the group's entries move (its block grows or shrinks, it becomes a big group past 32
 * entries, it goes), and a batch reads that record and then the group's block. The group here
 * grows to 40 entries and shrinks back to none,
 * with port ranges (Cilium's masked prefixes), protocol-only and wildcard entries, denies and
 * proxy priorities, beside a few peer groups; after every change, single and packed batch
 * lookups on both backends must agree, the batch in every build of its loop the CPU has
 * (portable, AVX2, AVX-512).
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import { afterAll, expect, test } from 'vitest';
import { PolicyMap, PolicyVerdict, portRangeToMaskedPorts, type PolicyEntry } from '../../src/maps/policy-map.js';
import { NativePolicyMap, POLICY_BATCH_IN_WORDS, POLICY_BATCH_OUT_WORDS, packPolicyLookup, unpackPolicyVerdict } from '../../src/maps/native.js';
import { policyEntry } from './builders.js';
import { nativeOrFail, rng, sameJson, verdictFields } from './native-helpers.js';

const TCP = 6;
const UDP = 17;
const ICMP = 1;

interface Probe {
  remote: number;
  direction: 0 | 1;
  protocol: number;
  dport: number;
}

function entry(next: () => number, identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): PolicyEntry {
  const roll = next() % 10;
  return policyEntry(identity, direction, protocol, port, prefixLen, {
    deny: roll === 0,
    proxyPort: roll === 1 || roll === 2 ? 15000 + (next() % 4) : 0,
    proxyPortPriority: roll === 2 ? 1 : 0,
    authType: roll === 3 ? 1 : 0,
    hasExplicitAuthType: roll === 3 && (next() & 1) === 1,
    cookie: next(),
  });
}

/** One to a few entries: an exact port, a range's masked prefixes, protocol-only or a wildcard. */
function randomEntries(next: () => number, identity: number, direction: 0 | 1): PolicyEntry[] {
  const protocol = [TCP, TCP, UDP, ICMP][next() % 4]!;
  const k = next() % 20;
  if (k < 12) return [entry(next, identity, direction, protocol, next() % 3 === 0 ? next() & 0xffff : [80, 443, 53, 8080][next() % 4]!, 24)];
  if (k < 18) {
    const start = 1024 + (next() % 50000);
    const end = Math.min(65535, start + 1 + (next() % 700));
    return portRangeToMaskedPorts(start, end).map((m) => entry(next, identity, direction, protocol, m.port, m.prefixLen));
  }
  if (k < 19) return [entry(next, identity, direction, protocol, 0, 8)];
  return [entry(next, identity, direction, 0, 0, 0)];
}

/** The builds of the batch loop (native/policy_map.cc `PolicyMapSet.batchSimd`). */
const simd = nativeOrFail().PolicyMapSet as unknown as { batchSimd(): string; batchSimd(mode: string): boolean };
const initialSimd = simd.batchSimd();
const builds = ['portable', 'avx2', 'avx512'].filter((m) => simd.batchSimd(m));
simd.batchSimd(initialSimd);
afterAll(() => {
  simd.batchSimd(initialSimd);
});

function compare(ts: PolicyMap, nat: NativePolicyMap, probes: Probe[], what: string): void {
  const a = new PolicyVerdict();
  const b = new PolicyVerdict();
  const n = probes.length;
  const input = new Uint32Array(n * POLICY_BATCH_IN_WORDS);
  const outputs = builds.map(() => new Int32Array(n * POLICY_BATCH_OUT_WORDS));
  probes.forEach((p, i) => packPolicyLookup(input, i, nat.id, p.remote, p.direction, p.protocol, p.dport, false));
  builds.forEach((mode, k) => {
    expect(simd.batchSimd(mode)).toBe(true);
    expect(nat.owner.lookupBatchPacked(input, outputs[k]!, n)).toBe(0);
  });
  simd.batchSimd(initialSimd);
  probes.forEach((p, i) => {
    ts.lookup(p.remote, p.direction, p.protocol, p.dport, a, false);
    nat.lookup(p.remote, p.direction, p.protocol, p.dport, b, false);
    sameJson(verdictFields(b), verdictFields(a), `${what}: lookup ${JSON.stringify(p)}`);
    builds.forEach((mode, k) => {
      unpackPolicyVerdict(outputs[k]!, i, p.remote, b);
      sameJson(verdictFields(b), verdictFields(a), `${what}: packed batch (${mode}) ${JSON.stringify(p)}`);
    });
  });
}

/** Probes at, beside and inside every entry written, for peers and for unknown identities. */
function probesFor(written: PolicyEntry[], next: () => number): Probe[] {
  const out: Probe[] = [];
  for (const e of written) {
    const protocol = e.prefixLen === 0 ? [TCP, UDP, ICMP][next() % 3]! : e.protocol;
    for (const dport of [e.port, (e.port + 1) & 0xffff, (e.port - 1) & 0xffff, e.port | 0xff, next() & 0xffff]) {
      out.push({ remote: next() % 3 === 0 ? 300 : 0x1000 + (next() % 100), direction: e.direction, protocol, dport });
    }
  }
  for (let i = 0; i < 40; i++) out.push({ remote: 300 + (next() % 3), direction: (next() & 1) as 0 | 1, protocol: [TCP, UDP, ICMP][next() % 3]!, dport: next() & 0xffff });
  return out;
}

test('the any-peer group grows to a big group and shrinks to none; both backends agree at every size', () => {
  nativeOrFail();
  for (const seed of [1, 2, 3, 4]) {
    const next = rng(seed);
    const ts = new PolicyMap(16384);
    const nat = new NativePolicyMap(16384);
    const written: PolicyEntry[] = [];
    const put = (e: PolicyEntry): void => {
      expect(nat.set(e)).toBe(ts.set(e));
      written.push(e);
    };
    // Peer groups on both sides of the any-peer entries.
    for (const identity of [300, 301, 302]) for (const e of randomEntries(next, identity, (identity & 1) as 0 | 1)) put(e);
    // Grow the any-peer groups of both directions past 32 entries.
    for (let round = 0; round < 60 && ts.size < 90; round++) {
      const direction = (next() & 1) as 0 | 1;
      for (const e of randomEntries(next, 0, direction)) put(e);
      compare(ts, nat, probesFor(written, next), `seed ${seed} grow ${round}`);
    }
    // Shrink them back, in random order, re-adding now and then.
    const anyPeer = written.filter((e) => e.identity === 0);
    while (anyPeer.length > 0) {
      const e = anyPeer.splice(next() % anyPeer.length, 1)[0]!;
      expect(nat.delete(e.identity, e.direction, e.protocol, e.port, e.prefixLen)).toBe(ts.delete(e.identity, e.direction, e.protocol, e.port, e.prefixLen));
      if (next() % 8 === 0) put(entry(next, 0, e.direction, e.protocol, e.port, e.prefixLen));
      compare(ts, nat, probesFor(written, next), `seed ${seed} shrink (${anyPeer.length} left)`);
    }
    expect(nat.size).toBe(ts.size);
    nat.clear();
    ts.clear();
    compare(ts, nat, probesFor(written.slice(0, 20), next), `seed ${seed} cleared`);
    nat.dispose();
  }
});
