/**
 * Differential: native policy maps (native/policy.h via src/maps/native.ts) answer exactly as the
 * TypeScript reference (src/maps/policy-map.ts), which mirrors bpf/lib/policy.h
 * `__policy_can_access` / `__policy_check`: the peer's entry (longest proto/port prefix; a deny
 * wins at once), then the any-peer entry (wins if a deny, if the first missed, on a higher proxy
 * port priority, or on equal priority with a strictly longer prefix); auth type propagation;
 * match types; cookies; capacity and overflow. Random entries: denies, port ranges through
 * portRangeToMaskedPorts, wildcards, protocol-only, ICMP types, proxy ports with priorities,
 * auth types, many identities; lookups single and in both batch layouts; many maps in one set.
 *
 * The addon must be built: a missing addon fails these tests (CI builds it with `npm ci`).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PolicyMap, PolicyVerdict, portRangeToMaskedPorts, type PolicyEntry } from '../../src/maps/policy-map.js';
import {
  NativePolicyMap,
  NativePolicyMapSet,
  POLICY_BATCH_IN_WORDS,
  POLICY_BATCH_OUT_WORDS,
  packPolicyLookup,
  unpackPolicyVerdict,
} from '../../src/maps/native.js';
import { ingressPort } from './builders.js';
import { nativeOrFail, rng, sameJson, verdictFields } from './native-helpers.js';

test('the native addon is built and loads', () => {
  expect(typeof nativeOrFail().PolicyMapSet).toBe('function');
});

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const SCTP = 132;

const identityArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0, 0, 1, 2, 256, 257, 40000, 16777217) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);
const portArb = fc.oneof(fc.constantFrom(0, 53, 80, 443, 1023, 1024, 8080, 8081, 65535), fc.integer({ min: 0, max: 65535 }));

interface EntryValue {
  deny: boolean;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  cookie: number;
}

const valueArb: fc.Arbitrary<EntryValue> = fc.record({
  deny: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  proxyPort: fc.constantFrom(0, 0, 0, 15001, 15002, 65535),
  proxyPortPriority: fc.constantFrom(0, 0, 1, 5, 255),
  authType: fc.constantFrom(0, 0, 0, 1, 2, 127),
  hasExplicitAuthType: fc.boolean(),
  cookie: fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 0xffffffff })),
});

/** Keys of one rule: a wildcard, protocol only, an exact port, a masked port, a range, an ICMP type. */
type Key = { protocol: number; port: number; prefixLen: number };
const keysArb: fc.Arbitrary<Key[]> = fc.oneof(
  fc.constant<Key[]>([{ protocol: 0, port: 0, prefixLen: 0 }]),
  fc.constantFrom(TCP, UDP, SCTP).map((protocol) => [{ protocol, port: 0, prefixLen: 8 }]),
  fc.tuple(fc.constantFrom(TCP, UDP, SCTP), portArb).map(([protocol, port]) => [{ protocol, port, prefixLen: 24 }]),
  fc.tuple(fc.constantFrom(TCP, UDP), portArb, fc.integer({ min: 9, max: 23 })).map(([protocol, port, prefixLen]) => [{ protocol, port, prefixLen }]),
  fc
    .tuple(fc.constantFrom(TCP, UDP), portArb, portArb)
    .map(([protocol, a, b]) => portRangeToMaskedPorts(Math.min(a, b), Math.max(a, b)).map((m) => ({ protocol, port: m.port, prefixLen: m.prefixLen }))),
  fc.tuple(fc.constantFrom(ICMP, ICMPV6), fc.integer({ min: 0, max: 255 })).map(([protocol, type]) => [{ protocol, port: type, prefixLen: 24 }]),
  // Unmasked junk beyond the prefix: both must ignore it.
  fc.tuple(fc.integer({ min: 0, max: 255 }), portArb).map(([protocol, port]) => [{ protocol, port, prefixLen: 0 }]),
  fc.tuple(fc.constantFrom(TCP, UDP), portArb).map(([protocol, port]) => [{ protocol, port, prefixLen: 8 }]),
);

type Op =
  | { kind: 'set'; identity: number; direction: 0 | 1; keys: Array<{ protocol: number; port: number; prefixLen: number }>; value: EntryValue }
  | { kind: 'deleteEarlier'; i: number }
  | { kind: 'delete'; identity: number; direction: 0 | 1; protocol: number; port: number; prefixLen: number }
  | { kind: 'clear' }
  | { kind: 'bulk'; identity: number; direction: 0 | 1; ports: number[]; value: EntryValue };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 14,
    arbitrary: fc
      .tuple(identityArb, fc.constantFrom(0 as const, 1 as const), keysArb, valueArb)
      .map(([identity, direction, keys, value]): Op => ({ kind: 'set', identity, direction, keys, value })),
  },
  { weight: 5, arbitrary: fc.nat().map((i): Op => ({ kind: 'deleteEarlier', i })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(identityArb, fc.constantFrom(0 as const, 1 as const), fc.constantFrom(TCP, UDP), portArb, fc.constantFrom(0, 8, 16, 24))
      .map(([identity, direction, protocol, port, prefixLen]): Op => ({ kind: 'delete', identity, direction, protocol, port, prefixLen })),
  },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'clear' }) },
  // Many ports of one identity: a group past the native lines' small-group limit (a private table).
  {
    weight: 2,
    arbitrary: fc
      .tuple(identityArb, fc.constantFrom(0 as const, 1 as const), fc.array(portArb, { minLength: 5, maxLength: 12 }), valueArb)
      .map(([identity, direction, ports, value]): Op => ({ kind: 'bulk', identity, direction, ports, value })),
  },
);

interface Probe {
  remote: number;
  direction: 0 | 1;
  protocol: number;
  dport: number;
  frag: boolean;
}

const probeArb: fc.Arbitrary<Probe> = fc.record({
  remote: identityArb,
  direction: fc.constantFrom(0 as const, 1 as const),
  protocol: fc.constantFrom(TCP, UDP, SCTP, ICMP, ICMPV6, 0, 47),
  dport: portArb,
  frag: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

/** Applies one op to both maps, checking results and counters agree. */
function apply(ts: PolicyMap, nat: NativePolicyMap, o: Op, written: PolicyEntry[]): void {
  const check = (a: unknown, b: unknown, what: string) => {
    if (a !== b || ts.size !== nat.size || ts.overflow !== nat.overflow) {
      expect({ result: b, size: nat.size, overflow: nat.overflow }, what).toEqual({ result: a, size: ts.size, overflow: ts.overflow });
    }
  };
  switch (o.kind) {
    case 'set':
      for (const k of o.keys) {
        const e: PolicyEntry = { identity: o.identity, direction: o.direction, ...k, ...o.value };
        check(ts.set(e), nat.set(e), `set ${JSON.stringify(e)}`);
        written.push(e);
      }
      return;
    case 'deleteEarlier':
    case 'delete': {
      const d = o.kind === 'delete' ? o : written[o.i % Math.max(1, written.length)];
      if (!d) return;
      check(ts.delete(d.identity, d.direction, d.protocol, d.port, d.prefixLen), nat.delete(d.identity, d.direction, d.protocol, d.port, d.prefixLen), `delete ${JSON.stringify(d)}`);
      return;
    }
    case 'clear':
      ts.clear();
      nat.clear();
      check(true, true, 'clear');
      return;
    case 'bulk':
      for (const port of o.ports) {
        const e: PolicyEntry = { identity: o.identity, direction: o.direction, protocol: TCP, port, prefixLen: 24, ...o.value };
        check(ts.set(e), nat.set(e), `bulk set ${JSON.stringify(e)}`);
        written.push(e);
      }
  }
}

/** Probes near what was written: its identities, ports and the neighbouring ports. */
function probesNear(written: PolicyEntry[], next: () => number): Probe[] {
  const out: Probe[] = [];
  for (const e of written.slice(-30)) {
    for (const dport of [e.port, (e.port + 1) & 0xffff, (e.port - 1) & 0xffff, e.port | 0xff]) {
      out.push({ remote: e.identity, direction: e.direction, protocol: e.protocol || TCP, dport, frag: false });
      out.push({ remote: (next() & 1) === 0 ? 0 : 256, direction: e.direction, protocol: e.protocol || UDP, dport, frag: (next() & 7) === 0 });
    }
  }
  return out;
}

function compareAll(ts: PolicyMap, nat: NativePolicyMap, probes: Probe[], written: PolicyEntry[]): void {
  const a = new PolicyVerdict();
  const b = new PolicyVerdict();
  for (const p of probes) {
    ts.lookup(p.remote, p.direction, p.protocol, p.dport, a, p.frag);
    nat.lookup(p.remote, p.direction, p.protocol, p.dport, b, p.frag);
    sameJson(verdictFields(b), verdictFields(a), `lookup ${JSON.stringify(p)}`);
    sameJson(nat.lookupExact(p.remote, p.direction, p.protocol, p.dport), ts.lookupExact(p.remote, p.direction, p.protocol, p.dport), `lookupExact ${JSON.stringify(p)}`);
  }
  // Packed batch.
  const n = probes.length;
  const input = new Uint32Array(n * POLICY_BATCH_IN_WORDS);
  const output = new Int32Array(n * POLICY_BATCH_OUT_WORDS);
  probes.forEach((p, i) => packPolicyLookup(input, i, nat.id, p.remote, p.direction, p.protocol, p.dport, p.frag));
  expect(nat.owner.lookupBatchPacked(input, output, n)).toBe(0);
  probes.forEach((p, i) => {
    ts.lookup(p.remote, p.direction, p.protocol, p.dport, a, p.frag);
    unpackPolicyVerdict(output, i, p.remote, b);
    sameJson(verdictFields(b), verdictFields(a), `packed batch ${JSON.stringify(p)}`);
  });
  // Struct-of-arrays batch (no fragment flag in this layout).
  const remotes = Uint32Array.from(probes, (p) => p.remote);
  const dirs = Uint8Array.from(probes, (p) => p.direction);
  const protos = Uint8Array.from(probes, (p) => p.protocol);
  const dports = Uint16Array.from(probes, (p) => p.dport);
  const verdict = new Int32Array(n);
  const match = new Uint8Array(n);
  const cookie = new Uint32Array(n);
  expect(nat.owner.lookupBatch(nat, remotes, dirs, protos, dports, verdict, match, cookie, n)).toBe(0);
  probes.forEach((p, i) => {
    ts.lookup(p.remote, p.direction, p.protocol, p.dport, a, false);
    sameJson([verdict[i], match[i], cookie[i]], [a.verdict, a.matchType, a.cookie], `soa batch ${JSON.stringify(p)}`);
  });
  sameJson([...nat.entries()], [...ts.entries()], 'entries');
  for (const e of written.slice(-40)) {
    sameJson(nat.get(e.identity, e.direction, e.protocol, e.port, e.prefixLen), ts.get(e.identity, e.direction, e.protocol, e.port, e.prefixLen), `get ${JSON.stringify(e)}`);
  }
}

describe('random entries and lookups', () => {
  test('both backends agree on every set, delete and clear, and on every lookup', () => {
    nativeOrFail();
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(16384), fc.integer({ min: 1, max: 30 })),
        fc.array(opArb, { maxLength: 120 }),
        fc.array(probeArb, { maxLength: 60 }),
        fc.integer(),
        (capacity, ops, probes, seed) => {
          const ts = new PolicyMap(capacity);
          const nat = new NativePolicyMap(capacity);
          const written: PolicyEntry[] = [];
          for (const o of ops) apply(ts, nat, o, written);
          compareAll(ts, nat, [...probes, ...probesNear(written, rng(seed))], written);
          nat.dispose();
        },
      ),
      { numRuns: 200 },
    );
  });

  test('large groups, many identities and many deletes', () => {
    nativeOrFail();
    const next = rng(12345);
    const ts = new PolicyMap(1 << 20);
    const nat = new NativePolicyMap(1 << 20);
    const written: PolicyEntry[] = [];
    const identities = [0, 1, 2, 256, 300, 16777217, ...Array.from({ length: 200 }, () => 256 + (next() % 5000))];
    for (let i = 0; i < 40_000; i++) {
      if (next() % 100 < 30 && written.length > 0) {
        const d = written[next() % written.length]!;
        expect(nat.delete(d.identity, d.direction, d.protocol, d.port, d.prefixLen)).toBe(ts.delete(d.identity, d.direction, d.protocol, d.port, d.prefixLen));
        continue;
      }
      const prefixLen = [0, 8, 24, 24, 24, 16, 20, 12][next() % 8]!;
      const e: PolicyEntry = {
        identity: identities[next() % identities.length]!,
        direction: (next() & 1) as 0 | 1,
        protocol: [TCP, UDP, ICMP][next() % 3]!,
        port: next() & 0xffff,
        prefixLen,
        deny: next() % 7 === 0,
        proxyPort: next() % 5 === 0 ? 15000 + (next() % 3) : 0,
        proxyPortPriority: next() % 3,
        authType: next() % 11 === 0 ? 1 : 0,
        hasExplicitAuthType: (next() & 1) === 1,
        cookie: next(),
      };
      expect(nat.set(e)).toBe(ts.set(e));
      written.push(e);
    }
    expect(nat.size).toBe(ts.size);
    const probes: Probe[] = [];
    for (let i = 0; i < 20_000; i++) {
      const e = written[next() % written.length]!;
      probes.push({
        remote: next() % 4 === 0 ? identities[next() % identities.length]! : e.identity,
        direction: e.direction,
        protocol: next() % 5 === 0 ? UDP : e.protocol,
        dport: next() % 2 === 0 ? e.port : (e.port + (next() % 512)) & 0xffff,
        frag: next() % 10 === 0,
      });
    }
    compareAll(ts, nat, probes, written);
  });
});

describe('capacity and overflow, as the TypeScript map', () => {
  const port = (identity: number, p: number): PolicyEntry => ingressPort(identity, TCP, p);

  test('a new key in a full map fails and is counted; an update still works; a delete makes room', () => {
    nativeOrFail();
    for (const map of [new PolicyMap(3), new NativePolicyMap(3)]) {
      for (const p of [80, 81, 82]) expect(map.set(port(1, p))).toBe(true);
      expect(map.set(port(1, 83))).toBe(false);
      expect(map.set(port(2, 80))).toBe(false);
      expect(map.set({ ...port(1, 80), deny: true })).toBe(true);
      expect([map.size, map.overflow]).toEqual([3, 2]);
      expect(map.lookupExact(2, 0, TCP, 80)).toBeUndefined();
      expect(map.delete(1, 0, TCP, 81, 24)).toBe(true);
      expect(map.set(port(2, 80))).toBe(true);
      expect([...map.entries()].map((e) => `${e.identity}/${e.port}/${e.deny}`)).toEqual(['1/80/true', '1/82/false', '2/80/false']);
      map.clear();
      expect([map.size, map.overflow]).toEqual([0, 0]);
    }
  });

  test('maps of one set have their own capacities and counters', () => {
    nativeOrFail();
    const set = new NativePolicyMapSet();
    const a = set.createMap(2);
    const b = set.createMap(1);
    expect([a.set(port(1, 1)), a.set(port(1, 2)), a.set(port(1, 3))]).toEqual([true, true, false]);
    expect([b.set(port(1, 1)), b.set(port(1, 2))]).toEqual([true, false]);
    expect([a.size, a.overflow, b.size, b.overflow, set.totalEntries]).toEqual([2, 1, 1, 1, 3]);
    b.clear();
    expect([a.size, b.size, set.totalEntries]).toEqual([2, 0, 2]);
    a.dispose();
    expect(set.totalEntries).toBe(0);
    expect(() => a.set(port(1, 1))).toThrow(/after dispose/);
  });

  test('onChange is called after the same operations', () => {
    nativeOrFail();
    const calls: number[] = [0, 0];
    const maps = [new PolicyMap(1), new NativePolicyMap(1)];
    maps.forEach((m, i) => (m.onChange = () => calls[i]!++));
    for (const m of maps) {
      m.set(port(1, 80));
      m.set(port(1, 81)); // full
      m.delete(1, 0, TCP, 81, 24); // absent
      m.delete(1, 0, TCP, 80, 24);
      m.clear();
    }
    expect(calls[1]).toBe(calls[0]);
    expect(calls[0]).toBe(3);
  });

  test.each([
    ['prefix length 5', { prefixLen: 5 }],
    ['prefix length 25', { prefixLen: 25 }],
    ['direction 2', { direction: 2 }],
    ['protocol 256', { protocol: 256 }],
    ['port 65536', { port: 65536 }],
    ['a negative identity', { identity: -1 }],
    ['proxy port 65536', { proxyPort: 65536 }],
    ['priority 256', { proxyPortPriority: 256 }],
    ['auth type 128', { authType: 128 }],
    ['a fractional cookie', { cookie: 1.5 }],
  ])('bad entries throw the same RangeError: %s', (_name, patch) => {
    nativeOrFail();
    const e = { ...port(1, 80), ...patch } as PolicyEntry;
    const msg = (fn: () => unknown): string => {
      try {
        fn();
      } catch (err) {
        return `${(err as Error).name}: ${(err as Error).message}`;
      }
      return 'no error';
    };
    const a = msg(() => new PolicyMap().set(e));
    expect(a).toMatch(/^RangeError/);
    expect(msg(() => new NativePolicyMap().set(e))).toBe(a);
  });
});

describe('many maps in one set (one per endpoint)', () => {
  test('a batch mixing maps answers each lookup from its own map', () => {
    nativeOrFail();
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { maxLength: 40 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), probeArb), { minLength: 1, maxLength: 80 }),
        (perMap, probes) => {
          const set = new NativePolicyMapSet();
          const pairs = perMap.map((ops) => {
            const ts = new PolicyMap();
            const nat = set.createMap();
            const written: PolicyEntry[] = [];
            for (const o of ops) apply(ts, nat, o, written);
            return { ts, nat, written };
          });
          const all = probes.map(([m, p]) => ({ m: m % (pairs.length + 1), p })); // m === pairs.length: an unknown map
          const n = all.length;
          const input = new Uint32Array(n * POLICY_BATCH_IN_WORDS);
          const output = new Int32Array(n * POLICY_BATCH_OUT_WORDS);
          all.forEach(({ m, p }, i) => packPolicyLookup(input, i, m < pairs.length ? pairs[m]!.nat.id : 0x7fffffff, p.remote, p.direction, p.protocol, p.dport, p.frag));
          const unknown = set.lookupBatchPacked(input, output, n);
          expect(unknown).toBe(all.filter((x) => x.m === pairs.length).length);
          const a = new PolicyVerdict();
          const b = new PolicyVerdict();
          const empty = new PolicyMap();
          all.forEach(({ m, p }, i) => {
            (m < pairs.length ? pairs[m]!.ts : empty).lookup(p.remote, p.direction, p.protocol, p.dport, a, p.frag);
            unpackPolicyVerdict(output, i, p.remote, b);
            sameJson(verdictFields(b), verdictFields(a), `map ${m} ${JSON.stringify(p)}`);
          });
          const ids = Uint32Array.from(all, ({ m }) => (m < pairs.length ? pairs[m]!.nat.id : 0x7fffffff));
          const verdict = new Int32Array(n);
          set.lookupBatch(
            ids,
            Uint32Array.from(all, (x) => x.p.remote),
            Uint8Array.from(all, (x) => x.p.direction),
            Uint8Array.from(all, (x) => x.p.protocol),
            Uint16Array.from(all, (x) => x.p.dport),
            verdict,
            null,
            null,
            n,
          );
          all.forEach(({ m, p }, i) => {
            (m < pairs.length ? pairs[m]!.ts : empty).lookup(p.remote, p.direction, p.protocol, p.dport, a, false);
            if (verdict[i] !== a.verdict) expect(verdict[i], `soa map ${m} ${JSON.stringify(p)}`).toBe(a.verdict);
          });
          for (const { ts, nat } of pairs) sameJson([...nat.entries()], [...ts.entries()], 'entries per map');
        },
      ),
      { numRuns: 120 },
    );
  });

  test('batch arguments that do not fit are refused before the addon sees them', () => {
    nativeOrFail();
    const set = new NativePolicyMapSet();
    expect(() => set.lookupBatchPacked(new Uint32Array(5), new Int32Array(6), 2)).toThrow(RangeError);
    expect(() => set.lookupBatchPacked(new Uint32Array(6), new Int32Array(5), 2)).toThrow(RangeError);
    const map = set.createMap();
    const u32 = new Uint32Array(2);
    const u8 = new Uint8Array(2);
    expect(() => set.lookupBatch(map, u32, u8, new Uint8Array(1), new Uint16Array(2), new Int32Array(2), null, null, 2)).toThrow(RangeError);
  });
});
