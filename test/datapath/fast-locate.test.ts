/**
 * The fast path's locate part (native/fastpath/locate.h) against the TypeScript it mirrors:
 * Locate = program.ts Datapath.locateEndpoints (run itself, on a DatapathState with the native
 * backend) and IdentityOf = DatapathState.identityOf, over every endpoint and node address,
 * the ipcache's prefixes (CIDR and world addresses), random addresses, both families, for
 * generated clusters (with and without the host firewall) and examples with host endpoints and
 * IPv6 pods. Also: the endpoint table DatapathState exports (nativeEndpointTable) answers what
 * endpointByAddress answers, duplicate addresses included; ipcache changes reach the bound
 * tables without binding again; LocateBind refuses tables that do not fit together.
 */
import { describe, expect, test } from 'vitest';
import { compileMaps } from '../../src/agent/agent.js';
import type { FlowEvent } from '../../src/datapath/events.js';
import { Datapath } from '../../src/datapath/program.js';
import { DatapathState, ENDPOINT_SLOT_WORDS, locateBindArgs, type NativeLocateTables } from '../../src/datapath/state.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { loadClusterObjects, loadClusterText } from '../../src/k8s/load.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { parseIp } from '../../src/net/addr.js';
import { prefixEdges, type Address } from '../helpers/prefix-edges.js';
import { parsePolicies } from '../../src/policy/parse.js';
import { generateCluster } from '../../bench/lib/gen-cluster.js';
import { nativeOrFail, rng } from '../maps/native-helpers.js';

const native = nativeOrFail();

type Run = (input: Uint32Array, out: Uint32Array, n: number, mode: number) => number;
interface LocateTesting {
  locateBind(...args: ReturnType<typeof locateBindArgs>): Run;
  locateInWords: number;
  locateOutWords: number;
  identityInWords: number;
}
const testing = native.fastpathTesting as unknown as LocateTesting;
const IN = testing.locateInWords;
const OUT = testing.locateOutWords;
const ID_IN = testing.identityInWords;

function generated(pods: number, policies: number, hostFirewall: boolean): MapsDocument {
  const c = generateCluster({ pods, policies });
  const objects = loadClusterText(`${c.clusterYaml}\n---\n${c.policyYaml}`, 'generated.yaml');
  return compileMaps(objects, parsePolicies(objects.policies), { hostFirewall });
}

function example(dir: string, hostFirewall?: boolean): MapsDocument {
  const objects = loadClusterObjects([`examples/${dir}/cluster`, `examples/${dir}/policies`]);
  return compileMaps(objects, parsePolicies(objects.policies), hostFirewall === undefined ? {} : { hostFirewall });
}

/** The edge example with duplicate addresses: a pod's IPv4 and IPv6 address given to a later endpoint too. */
function duplicated(): MapsDocument {
  const doc = example('edge', true);
  const pods = doc.endpoints.filter((e) => e.kind === 'pod');
  const first = pods[0]!;
  const last = pods[pods.length - 1]!;
  const endpoints = doc.endpoints.map((e) => (e === last ? { ...e, addresses: [...e.addresses, ...first.addresses] } : e));
  return { ...doc, endpoints };
}

/** Name, the document, and whether it has host endpoints and IPv6 endpoints (the test checks it does). */
const CASES: Array<[string, () => MapsDocument, boolean, boolean]> = [
  ['generated, 200 pods, 40 policies', () => generated(200, 40, false), false, false],
  ['generated, 300 pods, 60 policies, host firewall', () => generated(300, 60, true), true, false],
  ['edge (IPv6 pods), host firewall', () => example('edge', true), true, true],
  ['edge (IPv6 pods), no host firewall', () => example('edge', false), false, true],
  ['seed-talk (host policies: host firewall on)', () => example('seed-talk'), true, false],
  ['starwars (IPv6 pods), host firewall', () => example('starwars', true), true, true],
  ['connectivity to-cidr-external (IPv6 pods), host firewall', () => {
    const objects = loadClusterObjects(['examples/connectivity/cluster', 'examples/connectivity/to-cidr-external/policies']);
    return compileMaps(objects, parsePolicies(objects.policies), { hostFirewall: true });
  }, true, true],
  ['edge with duplicate addresses (IPv4: last endpoint, IPv6: first)', duplicated, true, true],
];

function ip(text: string): Address {
  const a = parseIp(text)!;
  return { family: a.family, words: Uint32Array.from(a.words) };
}

/** Every address worth asking about, per family: endpoints', nodes', prefixes' edges, and random ones. */
function addresses(doc: MapsDocument, seed: number): Address[] {
  const out: Address[] = [];
  for (const a of [...doc.endpoints.flatMap((e) => e.addresses), ...doc.nodes.flatMap((n) => n.addresses)]) {
    const p = parseIp(a);
    if (p) out.push({ family: p.family, words: Uint32Array.from(p.words) });
  }
  out.push(...prefixEdges(doc));
  for (const t of ['8.8.8.8', '0.0.0.0', '255.255.255.255', '2001:db8::1', '::', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) out.push(ip(t));
  const r = rng(seed);
  const known = [...out];
  for (let i = 0; i < 300; i++) {
    out.push({ family: 4, words: Uint32Array.of(0, 0, 0xffff, r()) });
    out.push({ family: 6, words: Uint32Array.of(r(), r(), r(), r()) });
    // Near a known address: its neighbour in word 3, or (IPv6) another word changed.
    const k = known[r() % known.length]!;
    const near = Uint32Array.from(k.words);
    near[3] = (near[3]! + (r() % 5) - 2) >>> 0;
    out.push({ family: k.family, words: near });
    if (k.family === 6) {
      const other = Uint32Array.from(k.words);
      other[r() % 3] ^= 1 << (r() % 32);
      out.push({ family: 6, words: other });
    }
  }
  // IPv4 addresses as an IPv6 packet carries them (IPv4-mapped words, family 6), and IPv4
  // packets with other upper words (AddressTable.get reads word 3 alone for IPv4).
  for (const k of known) {
    if (k.family !== 4) continue;
    out.push({ family: 6, words: Uint32Array.from(k.words) });
    out.push({ family: 4, words: Uint32Array.of(r(), r(), r(), k.words[3]!) });
  }
  return out;
}

/** locateEndpoints itself (private in Datapath), and the event it fills. */
function referenceLocate(state: DatapathState): (a: Address, b: Address, out: Uint32Array, at: number) => void {
  const dp = new Datapath(state, () => {});
  const internals = dp as unknown as { locateEndpoints(p: DecodedPacket): void; ev: FlowEvent };
  const p = new DecodedPacket();
  return (a, b, out, at) => {
    p.ipVersion = a.family;
    p.src.set(a.words);
    p.dst.set(b.words);
    internals.locateEndpoints(p);
    const ev = internals.ev;
    const nodeOf = (e: number): number => (e >= 0 ? state.endpointNode[e]! : -1);
    out[at] = ev.srcEndpoint;
    out[at + 1] = ev.dstEndpoint;
    out[at + 2] = nodeOf(ev.srcEndpoint);
    out[at + 3] = nodeOf(ev.dstEndpoint);
    out[at + 4] = ev.srcIdentity;
    out[at + 5] = ev.dstIdentity;
  };
}

function bind(state: DatapathState): Run {
  const t = state.nativeLocateTables();
  if (t === undefined) throw new Error('no native locate tables');
  return testing.locateBind(...locateBindArgs(t));
}

/** The pairs to locate: each address against every endpoint's and node's first address both ways, and random pairs. */
function pairs(all: Address[], anchors: Address[], seed: number): Array<[Address, Address]> {
  const out: Array<[Address, Address]> = [];
  for (const a of all) {
    for (const b of anchors) {
      if (b.family !== a.family) continue;
      out.push([a, b], [b, a]);
    }
  }
  const r = rng(seed);
  for (const family of [4, 6] as const) {
    const pool = all.filter((a) => a.family === family);
    if (pool.length === 0) continue;
    for (let i = 0; i < 20_000; i++) out.push([pool[r() % pool.length]!, pool[r() % pool.length]!]);
  }
  return out;
}

function firstMismatch(actual: Uint32Array, expected: Uint32Array, per: number, describeQuery: (i: number) => string): string | undefined {
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      const q = Math.floor(i / per);
      return `query ${q} (${describeQuery(q)}): native [${[...actual.subarray(q * per, q * per + per)]}] TypeScript [${[...expected.subarray(q * per, q * per + per)]}]`;
    }
  }
  return undefined;
}

function text(a: Address): string {
  return `${a.family}:${[...a.words].map((w) => w.toString(16)).join('.')}`;
}

/** Locate over `list` on both sides; the first difference, if any. */
function compareLocate(state: DatapathState, run: Run, list: Array<[Address, Address]>, stats?: { hostShownAsSeen: number }): string | undefined {
  const ref = referenceLocate(state);
  const input = new Uint32Array(list.length * IN);
  const expected = new Uint32Array(list.length * OUT);
  list.forEach(([a, b], i) => {
    input[i * IN] = a.family;
    input.set(a.words, i * IN + 1);
    input.set(b.words, i * IN + 5);
    ref(a, b, expected, i * OUT);
  });
  if (stats) {
    for (let o = 0; o < expected.length; o += OUT) {
      const src = expected[o]! | 0;
      if (src >= 0 && (expected[o + 1]! | 0) >= 0 && state.endpointIsHost[src] && expected[o + 4] !== state.endpointIdentity[src]) stats.hostShownAsSeen++;
    }
  }
  const actual = new Uint32Array(list.length * OUT);
  expect(run(input, actual, list.length, 0)).toBe(list.length);
  return firstMismatch(actual, expected, OUT, (q) => `${text(list[q]![0])} -> ${text(list[q]![1])}`);
}

/** IdentityOf of every address at every node (and -1) on both sides; the first difference. */
function compareIdentities(state: DatapathState, run: Run, all: Address[]): string | undefined {
  const nodes = state.views.length;
  const n = all.length * (nodes + 1);
  const input = new Uint32Array(n * ID_IN);
  const expected = new Uint32Array(n);
  let i = 0;
  for (let node = -1; node < nodes; node++) {
    for (const a of all) {
      input[i * ID_IN] = node;
      input[i * ID_IN + 1] = a.family;
      input.set(a.words, i * ID_IN + 2);
      expected[i] = state.identityOf(node, a.family, a.words);
      i++;
    }
  }
  const actual = new Uint32Array(n);
  expect(run(input, actual, n, 1)).toBe(n);
  return firstMismatch(actual, expected, 1, (q) => `node ${input[q * ID_IN]! | 0}, ${text(all[q % all.length]!)}`);
}

describe.each(CASES)('%s', (_name, make, hasHosts, hasIpv6) => {
  const doc = make();
  const state = new DatapathState(doc, { backend: 'native' });
  const all = addresses(doc, 7);
  const anchors = [...doc.endpoints.map((e) => e.addresses), ...doc.nodes.map((n) => n.addresses)].flatMap((list) => {
    // The first address of each family.
    const out: Address[] = [];
    for (const family of [4, 6]) {
      const a = list.map((t) => parseIp(t)).find((x) => x?.family === family);
      if (a) out.push({ family: a.family, words: Uint32Array.from(a.words) });
    }
    return out;
  });

  test('the endpoint table answers what endpointByAddress answers', () => {
    const table = state.nativeEndpointTable();
    expect(state.nativeEndpointTable()).toBe(table);
    const slots = table.length / ENDPOINT_SLOT_WORDS;
    expect(Number.isInteger(Math.log2(slots))).toBe(true);
    let used = 0;
    for (let s = 0; s < slots; s++) {
      const o = s * ENDPOINT_SLOT_WORDS;
      if (table[o] === 0) continue;
      used++;
      const words = Uint32Array.from(table.subarray(o + 1, o + 5));
      expect(state.endpointByAddress.get(table[o]!, words)).toBe(table[o + 5]);
    }
    expect(used * 2).toBeLessThanOrEqual(slots);
    // Every address the document gives an endpoint is in the table once.
    const distinct = new Set(doc.endpoints.flatMap((e) => e.addresses.map((a) => text(ip(a)))));
    expect(used).toBe(distinct.size);
  });

  test('Locate = locateEndpoints, IdentityOf = identityOf, for every address, both families', () => {
    const run = bind(state);
    const list = pairs(all, anchors, 3);
    // The cases exercise what they are meant to: host endpoints talking to endpoints, IPv6.
    expect(doc.endpoints.some((e) => e.kind === 'host')).toBe(hasHosts);
    expect(all.some((a) => a.family === 6 && state.endpointByAddress.get(6, a.words) !== undefined)).toBe(hasIpv6);
    const stats = { hostShownAsSeen: 0 };
    expect(compareLocate(state, run, list, stats)).toBeUndefined();
    // A host endpoint talking to an endpoint of another node is shown as that node sees it
    // (remote-node): the special case was taken.
    const n = state.endpointNode;
    const crossNode = doc.endpoints.some((h, i) => h.kind === 'host' && doc.endpoints.some((_, j) => n[j] !== n[i]));
    expect(crossNode || !hasHosts || _name.startsWith('starwars')).toBe(true);
    if (crossNode) expect(stats.hostShownAsSeen).toBeGreaterThan(0);
    expect(compareIdentities(state, run, all)).toBeUndefined();
  });

  test('ipcache changes reach the bound tables without binding again', () => {
    const run = bind(state);
    const before = state.generation;
    // A host entry in the shared map (as an FQDN answer adds one) and a node-local one.
    const fresh = [ip('203.0.113.7'), ip('2001:db8:7::7')];
    for (const a of fresh) state.ipcache.upsert(a.family, a.words, a.family === 4 ? 32 : 128, 16777300);
    if (state.views.length > 0) {
      const local = (state.views[0] as unknown as { local: { upsert(f: 4 | 6, w: Uint32Array, plen: number, id: number): boolean } }).local;
      local.upsert(4, fresh[0]!.words, 32, 16777301);
    }
    expect(state.generation).toBeGreaterThan(before);
    const list = pairs([...all.slice(0, 200), ...fresh], anchors.slice(0, 20), 5);
    expect(compareLocate(state, run, list)).toBeUndefined();
    expect(compareIdentities(state, run, [...fresh, ...all.slice(0, 50)])).toBeUndefined();
    const id = new Uint32Array(1);
    run(Uint32Array.of(-1 >>> 0, 4, ...fresh[0]!.words), id, 1, 1);
    expect(id[0]).toBe(16777300);
  });
});

describe('binding', () => {
  const state = new DatapathState(example('edge', true), { backend: 'native' });
  const good = (): NativeLocateTables => state.nativeLocateTables()!;

  test('the TypeScript backend has no native tables', () => {
    expect(new DatapathState(example('edge', true), { backend: 'ts' }).nativeLocateTables()).toBeUndefined();
  });

  test.each<[string, (t: NativeLocateTables) => NativeLocateTables]>([
    ['a full endpoint table (no empty slot: a probe would not end)', (t) => {
      const full = new Int32Array(16 * ENDPOINT_SLOT_WORDS);
      for (let s = 0; s < 16; s++) full.set([4, 0, 0, 0xffff, s, 0], s * ENDPOINT_SLOT_WORDS);
      return { ...t, endpoints: full };
    }],
    ['a slot count that is not a power of two', (t) => ({ ...t, endpoints: new Int32Array(12 * ENDPOINT_SLOT_WORDS) })],
    ['a slot naming no endpoint', (t) => {
      const e = Int32Array.from(t.endpoints);
      const o = e.findIndex((_, i) => i % ENDPOINT_SLOT_WORDS === 0 && e[i] !== 0);
      e[o + 5] = t.endpointNode.length;
      return { ...t, endpoints: e };
    }],
    ['a slot of family 5', (t) => {
      const e = Int32Array.from(t.endpoints);
      const o = e.findIndex((_, i) => i % ENDPOINT_SLOT_WORDS === 0 && e[i] !== 0);
      e[o] = 5;
      return { ...t, endpoints: e };
    }],
    ['an endpoint on a node without a view', (t) => ({ ...t, endpointNode: Int32Array.from(t.endpointNode, () => t.viewHandles.length / 2 - 1) })],
    ['arrays of different lengths', (t) => ({ ...t, endpointIsHost: t.endpointIsHost.subarray(1) })],
    ['an odd number of view handles', (t) => ({ ...t, viewHandles: t.viewHandles.slice(1) })],
    ['a view handle that is no Ipcache', (t) => ({ ...t, viewHandles: [{} as never, ...t.viewHandles.slice(1)] })],
    ['a world identity that is no u32', (t) => ({ ...t, worldIdentity6: -1 })],
  ])('refuses %s', (_name, spoil) => {
    expect(() => testing.locateBind(...locateBindArgs(good()))).not.toThrow();
    expect(() => testing.locateBind(...locateBindArgs(spoil(good())))).toThrow(TypeError);
  });
});
