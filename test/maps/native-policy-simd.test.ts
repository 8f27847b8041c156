/**
 * Differential: the three builds of the native policy batch loop (native/policy.cc: the AVX-512
 * and AVX2 ones, the widest the CPU has chosen at run time, and the portable one, SSE2 on x86-64)
 * answer every lookup exactly as the TypeScript reference (src/maps/policy-map.ts). The groups are
 * sized around the batch scan's steps (eight key words at a time, sixteen with AVX-512; blocks of
 * 1..32 entries, whose key words sit at either half of a 32-byte window; big groups past 32) and
 * the any-peer group across its (key, mask) steps of eight and sixteen (AnyKeys), with denies, masked port ranges, wildcards, proxy
 * priorities and auth types, in several maps of one set; lookups aim at entries (a port each key
 * covers) or anywhere.
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import { afterAll, describe, expect, test } from 'vitest';
import { PolicyMap, PolicyVerdict, type PolicyEntry } from '../../src/maps/policy-map.js';
import {
  NativePolicyMap,
  NativePolicyMapSet,
  POLICY_BATCH_IN_WORDS,
  POLICY_BATCH_OUT_WORDS,
  packPolicyLookup,
  unpackPolicyVerdict,
  type PolicyBatchSimd,
} from '../../src/maps/native.js';
import { policyEntry, portMask } from './builders.js';
import { nativeOrFail, rng, sameJson, verdictFields } from './native-helpers.js';

/** The builds of the batch loop, narrowest first (native/policy.h PolicySetCore::kSimd*). */
const MODES: readonly PolicyBatchSimd[] = ['portable', 'avx2', 'avx512'];
type Mode = PolicyBatchSimd;
/** The addon's switch of the batch build (native/policy_map.cc `PolicyMapSet.batchSimd`). */
const simd = nativeOrFail().PolicyMapSet;
const initial = simd.batchSimd();
afterAll(() => {
  simd.batchSimd(initial);
});

const PROTOCOLS = [6, 17, 132, 1, 58];
const GROUP_SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 21, 24, 26, 31, 32, 33, 40];

/** A random entry of (identity, direction): mostly exact ports, some ranges, wildcards. */
function randomEntry(r: () => number, identity: number, direction: 0 | 1): PolicyEntry {
  const k = r() % 10;
  const prefixLen = k < 6 ? 24 : k < 8 ? 9 + (r() % 15) : k < 9 ? 8 : identity === 0 ? 24 : 0;
  const protocol = PROTOCOLS[r() % PROTOCOLS.length]!;
  const roll = r() % 20;
  return policyEntry(identity, direction, prefixLen === 0 ? 0 : protocol, (r() % 65536) & portMask(prefixLen), prefixLen, {
    deny: roll < 2,
    proxyPort: roll >= 2 && roll < 5 ? 10000 + (r() % 5000) : 0,
    proxyPortPriority: roll === 3 ? 1 + (r() % 3) : 0,
    authType: roll === 5 ? 1 + (r() % 2) : 0,
    hasExplicitAuthType: r() % 4 === 0,
    cookie: r(),
  });
}

interface Built {
  ts: PolicyMap[];
  nat: NativePolicyMap[];
  /** The entries written to each map. */
  entries: PolicyEntry[][];
}

/** Maps whose groups take every size of GROUP_SIZES, in a random order of writes. */
function build(set: NativePolicyMapSet, r: () => number, maps: number): Built {
  const built: Built = { ts: [], nat: [], entries: [] };
  for (let m = 0; m < maps; m++) {
    const ts = new PolicyMap(1 << 16);
    const nat = new NativePolicyMap(1 << 16, set);
    const writes: PolicyEntry[] = [];
    GROUP_SIZES.forEach((size, g) => {
      for (const direction of [0, 1] as const) {
        // Identity 0 (the any-peer group) takes the sizes across AnyKeys' chunks of eight in some maps.
        const identity = g === m % GROUP_SIZES.length && size <= 16 ? 0 : 1000 + g * 7 + m;
        for (let i = 0; i < size; i++) writes.push(randomEntry(r, identity, direction));
      }
    });
    for (let i = writes.length - 1; i > 0; i--) {
      const j = r() % (i + 1);
      [writes[i], writes[j]] = [writes[j]!, writes[i]!];
    }
    for (const e of writes) expect(nat.set(e)).toBe(ts.set(e));
    built.ts.push(ts);
    built.nat.push(nat);
    built.entries.push(writes);
  }
  return built;
}

/** Lookups: 3 in 4 aimed at a random entry's key (a random port it covers), the rest anywhere. */
function probes(r: () => number, b: Built, n: number): Uint32Array {
  const input = new Uint32Array(n * POLICY_BATCH_IN_WORDS);
  for (let i = 0; i < n; i++) {
    const m = r() % b.nat.length;
    const written = b.entries[m]!;
    if (r() % 4 !== 0 && written.length > 0) {
      const e = written[r() % written.length]!;
      const port = e.prefixLen <= 8 ? r() % 65536 : (e.port & portMask(e.prefixLen)) | (r() & ~portMask(e.prefixLen) & 0xffff);
      const protocol = e.prefixLen === 0 ? PROTOCOLS[r() % PROTOCOLS.length]! : e.protocol;
      const remote = e.identity === 0 ? 1000 + (r() % 200) : e.identity;
      packPolicyLookup(input, i, b.nat[m]!.id, remote, e.direction, protocol, port, r() % 16 === 0);
    } else {
      packPolicyLookup(input, i, b.nat[m]!.id, 1000 + (r() % 200), r() % 2, PROTOCOLS[r() % PROTOCOLS.length]!, r() % 65536, r() % 16 === 0);
    }
  }
  return input;
}

function checkBatch(b: Built, input: Uint32Array, context: string): void {
  const n = input.length / POLICY_BATCH_IN_WORDS;
  const output = new Int32Array(n * POLICY_BATCH_OUT_WORDS);
  expect(b.nat[0]!.owner.lookupBatchPacked(input, output, n)).toBe(0);
  const want = new PolicyVerdict();
  const got = new PolicyVerdict();
  const byId = new Map(b.nat.map((m, k) => [m.id, b.ts[k]!]));
  for (let i = 0; i < n; i++) {
    const o = i * POLICY_BATCH_IN_WORDS;
    const bits = input[o + 2]!;
    const remote = input[o + 1]!;
    byId.get(input[o]!)!.lookup(remote, ((bits >>> 24) & 1) as 0 | 1, (bits >>> 16) & 0xff, bits & 0xffff, want, ((bits >>> 25) & 1) === 1);
    unpackPolicyVerdict(output, i, remote, got);
    sameJson(verdictFields(got), verdictFields(want), `${context}: lookup ${i} (map ${input[o]}, identity ${remote}, bits ${bits.toString(16)})`);
  }
}

describe('native policy batch builds', () => {
  test('the build in use is named, and the portable one can always be chosen', () => {
    expect(MODES).toContain(initial);
    expect(simd.batchSimd('portable')).toBe(true);
    expect(simd.batchSimd()).toBe('portable');
  });

  test('the widest build the CPU has is the default, and an unknown name is refused', () => {
    const widest = [...MODES].reverse().find((m) => simd.batchSimd(m))!;
    expect(process.env.HUBCAP_POLICY_SIMD === undefined ? initial : widest).toBe(widest);
    expect(simd.batchSimd('avx1024' as Mode)).toBe(false);
    expect(simd.batchSimd()).toBe(widest);
  });

  test('every build answers a set without entries, then emptied, and unknown maps as empty maps', () => {
    const set = new NativePolicyMapSet();
    const a = new NativePolicyMap(64, set);
    const b = new NativePolicyMap(64, set);
    const ts = new PolicyMap(64);
    const r = rng(0x5eed9);
    const n = 300;
    const input = new Uint32Array(n * POLICY_BATCH_IN_WORDS);
    const output = new Int32Array(n * POLICY_BATCH_OUT_WORDS);
    const maps = [a.id, b.id, 0x7ffffff0, b.id + 1];
    expect(b.id + 1).toBeGreaterThan(a.id);
    const want = new PolicyVerdict();
    const got = new PolicyVerdict();
    const probe = (what: string): void => {
      for (let i = 0; i < n; i++) packPolicyLookup(input, i, maps[i % 4]!, r() % 2 === 0 ? 0 : 300 + (r() % 3), r() & 1, [6, 17, 1][r() % 3]!, [80, 53, r() & 0xffff][r() % 3]!, r() % 5 === 0);
      for (const mode of MODES) {
        if (!simd.batchSimd(mode)) continue;
        output.fill(-1);
        // Maps 2 and 3 of every four are unknown (a never-created id, and one past the last).
        expect(set.lookupBatchPacked(input, output, n)).toBe(n / 2);
        for (let i = 0; i < n; i++) {
          const o = i * POLICY_BATCH_IN_WORDS;
          const bits = input[o + 2]!;
          (i % 4 === 0 ? ts : new PolicyMap()).lookup(input[o + 1]!, ((bits >>> 24) & 1) as 0 | 1, (bits >>> 16) & 0xff, bits & 0xffff, want, ((bits >>> 25) & 1) === 1);
          unpackPolicyVerdict(output, i, input[o + 1]!, got);
          sameJson(verdictFields(got), verdictFields(want), `${what} (${mode}): lookup ${i}`);
        }
      }
    };
    probe('no entries');
    const e = policyEntry(300, 0, 6, 80, 24, { proxyPort: 15001 });
    const any = policyEntry(0, 0, 17, 53, 24, {});
    for (const x of [e, any]) {
      expect(a.set(x)).toBe(true);
      expect(ts.set(x)).toBe(true);
    }
    probe('one peer entry and one any-peer entry');
    a.clear();
    ts.clear();
    probe('emptied');
    a.dispose();
    b.dispose();
  });

  for (const mode of MODES) {
    test(`the ${mode} build answers as the TypeScript maps, groups of 0..40 entries`, () => {
      if (!simd.batchSimd(mode)) {
        // Only a CPU without AVX2 (or AVX-512) refuses, and then a narrower build stays in use;
        // said on stderr, since the build's own answers go unchecked on this machine.
        expect(mode).not.toBe('portable');
        expect(MODES.indexOf(simd.batchSimd())).toBeLessThan(MODES.indexOf(mode));
        console.warn(`native-policy-simd: this CPU has no ${mode}; its build is not checked here`);
        return;
      }
      expect(simd.batchSimd()).toBe(mode);
      const r = rng(0x5eed1 + MODES.indexOf(mode));
      const set = new NativePolicyMapSet();
      const b = build(set, r, 4);
      checkBatch(b, probes(r, b, 20_000), mode);
      // After deletes (groups shrink across the scan's steps and AnyKeys' chunks).
      b.entries.forEach((written, k) => {
        const kept = written.filter((e) => {
          if (r() % 3 !== 0) return true;
          const key = [e.identity, e.direction, e.protocol, e.port, e.prefixLen] as const;
          expect(b.nat[k]!.delete(...key)).toBe(b.ts[k]!.delete(...key));
          return false;
        });
        b.entries[k] = kept;
      });
      checkBatch(b, probes(r, b, 20_000), `${mode} after deletes`);
    });
  }
});
