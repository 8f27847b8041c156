/**
 * bench/maps/lookup.ts, the map scale benchmark: its correctness gate at tiny sizes (the inputs it
 * generates build identical TS and native maps, every lookup set answers alike, the sets reach
 * every kind of answer), the gate failing loudly when one backend answers differently, and its
 * sizes knob. Timing is the benchmark's job, never a test's.
 */
import { afterEach, describe, expect, test } from 'vitest';
import {
  fillIpcache,
  fillPolicy,
  gateIpcache,
  GateError,
  gatePolicy,
  generateIpcacheInput,
  generatePolicyInput,
  mapCapacity,
  settings,
} from '../../bench/maps/lookup.js';
import { Ipcache } from '../../src/maps/ipcache.js';
import { NativeIpcache, NativePolicyMapSet } from '../../src/maps/native.js';
import { PolicyMap, PolicyVerdict } from '../../src/maps/policy-map.js';
import { nativeOrFail } from '../maps/native-helpers.js';

function ipcachePair(n: number, lookups: number): { ts: Ipcache; nat: NativeIpcache; input: ReturnType<typeof generateIpcacheInput> } {
  const native = nativeOrFail();
  const input = generateIpcacheInput(n, lookups, 5);
  const ts = new Ipcache(n + 16);
  const nat = new NativeIpcache(n + 16, native);
  fillIpcache(ts, input);
  fillIpcache(nat, input);
  return { ts, nat, input };
}

function policyPair(n: number, endpoints: number, lookups: number) {
  const native = nativeOrFail();
  const input = generatePolicyInput(n, endpoints, lookups, 3);
  const ts = Array.from({ length: endpoints }, (_, m) => new PolicyMap(mapCapacity(input, m)));
  const set = new NativePolicyMapSet(native);
  const nat = Array.from({ length: endpoints }, (_, m) => set.createMap(mapCapacity(input, m)));
  fillPolicy(ts, input);
  fillPolicy(nat, input);
  return { ts, set, nat, input };
}

describe('ipcache gate', () => {
  test('the generated prefixes answer alike on both backends, with host, CIDR and default answers', () => {
    const { ts, nat, input } = ipcachePair(3000, 8192);
    expect(ts.size).toBe(3000);
    expect(input.v6Plen.length).toBe(300);
    const g = gateIpcache(ts, nat, input);
    expect(g.host + g.cidr + g.world + g.miss).toBe(8192);
    expect(g.host).toBeGreaterThan(0);
    expect(g.cidr).toBeGreaterThan(0);
    expect(g.world).toBeGreaterThan(0);
  });

  test('a native answer that differs fails the gate', () => {
    const { ts, nat, input } = ipcachePair(2000, 4096);
    const e = ts.lookupEntry(4, [0, 0, 0xffff, input.look4[0]!])!;
    nat.upsert(4, e.words, e.prefixLen, e.identity + 1);
    expect(() => gateIpcache(ts, nat, input)).toThrow(GateError);
  });
});

describe('policy gate', () => {
  test.each([
    ['one map', 1],
    ['spread over endpoints', 40],
  ])('%s: generated entries answer alike on both backends, with every kind of verdict', (_name, endpoints) => {
    const { ts, set, nat, input } = policyPair(4000, endpoints, 8192);
    expect(ts.reduce((a, m) => a + m.size, 0)).toBe(4000);
    const g = gatePolicy(ts, set, nat, input);
    expect(g.allow + g.redirect + g.deny + g.auth + g.dropped).toBe(8192);
    for (const k of ['allow', 'redirect', 'deny', 'auth', 'dropped'] as const) expect(g[k], k).toBeGreaterThan(0);
  });

  test('a native entry that differs fails the gate', () => {
    const { ts, set, nat, input } = policyPair(2000, 4, 4096);
    // The entry the first peer-matched lookup chose, flipped between deny and allow in native only.
    const v = new PolicyVerdict();
    for (let o = 0; o < input.lookups.length; o += 3) {
      const m = input.lookups[o]!;
      const bits = input.lookups[o + 2]!;
      ts[m]!.lookup(input.lookups[o + 1]!, ((bits >>> 24) & 1) as 0 | 1, (bits >>> 16) & 0xff, bits & 0xffff, v);
      if (v.slot >= 0 && v.matchedIdentity !== 0) {
        const e = ts[m]!.entryAt(v.slot);
        nat[m]!.set({ ...e, deny: !e.deny, proxyPort: 0, authType: 0 });
        break;
      }
    }
    expect(() => gatePolicy(ts, set, nat, input)).toThrow(GateError);
  });
});

describe('sizes knob', () => {
  const saved = process.env.BENCH_MAPS_SIZES;
  afterEach(() => {
    if (saved === undefined) delete process.env.BENCH_MAPS_SIZES;
    else process.env.BENCH_MAPS_SIZES = saved;
  });

  test('BENCH_MAPS_SIZES (hubcap bench --sizes) replaces the default sizes', () => {
    delete process.env.BENCH_MAPS_SIZES;
    expect(settings({ quick: false }).sizes).toEqual([1000, 10000, 100000, 512000, 1000000]);
    process.env.BENCH_MAPS_SIZES = '1000,10000';
    expect(settings({ quick: false }).sizes).toEqual([1000, 10000]);
    process.env.BENCH_MAPS_SIZES = '1000,x';
    expect(() => settings({ quick: false })).toThrow(/BENCH_MAPS_SIZES/);
  });
});
