/**
 * The maps document loaded into lookup structures: what the BPF programs of every node would
 * find in their maps. Built once per replay from src/maps/document.ts; the datapath never sees
 * YAML or rules, only this.
 *
 * Mirrors: the per-node map set of Cilium — the ipcache (one view per node: node addresses are
 * `host` on their own node), the endpoints map (bpf/lib/eps.h lookup_ip4_endpoint: which
 * addresses are local endpoints), one policy map per endpoint, and the service map
 * (bpf/lib/lb.h: frontends -> backends).
 *
 * The ipcache and policy maps come from one of two backends (design.md §1, §3 `--backend`): the
 * TypeScript reference maps (ipcache.ts, policy-map.ts) or the native addon's (native.ts). The
 * datapath sees them only through the interfaces of maps/interfaces.ts, so a replay gives the
 * same answers on both; which one is chosen once, here, not per packet.
 */
import type { EndpointRecord, MapsDocument, ServiceFrontendRecord } from '../maps/document.js';
import type { IpcacheLike, IpcacheViewLike, PolicyMapLike } from '../maps/interfaces.js';
import { Ipcache, IpcacheView } from '../maps/ipcache.js';
import {
  NativeIpcache,
  NativeIpcacheView,
  NativePolicyMap,
  NativePolicyMapSet,
  type Backend as MapBackend,
  type NativeIpcacheHandle,
  type NativePolicySetHandle,
} from '../maps/native.js';
import { PolicyMap } from '../maps/policy-map.js';
import { ReservedIdentity } from '../identity/reserved.js';
import { parseCidr, parseIp } from '../net/addr.js';
import { NativeError } from '../errors.js';

const PROTO_BY_NAME: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, SCTP: 132 };

/** A 52-bit numeric key for an IPv6 address (collisions checked against stored words). */
export function ip6Hash(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ w1 ^ (h >>> 13), 0xc2b2ae35);
  h = Math.imul(h ^ w2 ^ (h >>> 16), 0x27d4eb2f);
  const lo = (h ^ w3 ^ (h >>> 15)) >>> 0;
  const hi = (Math.imul(w3 ^ w1, 0x165667b1) ^ w0 ^ w2) & 0xfffff;
  return hi * 0x100000000 + lo;
}

export interface Backend {
  family: 4 | 6;
  words: Uint32Array;
  port: number;
}

export interface Frontend {
  index: number;
  record: ServiceFrontendRecord;
  family: 4 | 6;
  words: Uint32Array;
  protocol: number;
  backends: Backend[];
}

/** Address -> value for both families, numeric keys only. */
export class AddressTable<T> {
  private readonly v4 = new Map<number, T>();
  private readonly v6 = new Map<number, Array<{ words: Uint32Array; value: T }>>();
  private changes = 0;

  /** @internal Bumped by every `set` (DatapathState.nativeEndpointTable rebuilds from a table that moved). */
  get version(): number {
    return this.changes;
  }

  /**
   * @internal The entries `get` answers, one per address: an IPv4 address with the value of its
   * last `set` (words 0..2 as parseIp gives them, 0, 0, 0xffff; `get` ignores them), an IPv6
   * address with the value of its first (`get` returns the first list entry that matches).
   */
  *entries(): IterableIterator<{ family: 4 | 6; words: Uint32Array; value: T }> {
    for (const [key, value] of this.v4) yield { family: 4, words: Uint32Array.of(0, 0, 0xffff, key >>> 0), value };
    for (const list of this.v6.values()) {
      for (let i = 0; i < list.length; i++) {
        const w = list[i]!.words;
        let shadowed = false;
        for (let j = 0; j < i && !shadowed; j++) {
          const v = list[j]!.words;
          shadowed = v[0] === w[0] && v[1] === w[1] && v[2] === w[2] && v[3] === w[3];
        }
        if (!shadowed) yield { family: 6, words: w, value: list[i]!.value };
      }
    }
  }

  set(family: 4 | 6, words: ArrayLike<number>, value: T): void {
    this.changes++;
    if (family === 4) {
      // `| 0`: an int32 key stays a small integer in V8; `>>> 0` would box half the space.
      this.v4.set(words[3]! | 0, value);
      return;
    }
    const key = ip6Hash(words[0]!, words[1]!, words[2]!, words[3]!);
    const list = this.v6.get(key) ?? [];
    list.push({ words: Uint32Array.from(words as ArrayLike<number>), value });
    this.v6.set(key, list);
  }

  get(family: number, words: Uint32Array): T | undefined {
    if (family === 4) return this.v4.get(words[3]! | 0);
    const list = this.v6.get(ip6Hash(words[0]!, words[1]!, words[2]!, words[3]!));
    if (!list) return undefined;
    for (const e of list) {
      if (e.words[0] === words[0] && e.words[1] === words[1] && e.words[2] === words[2] && e.words[3] === words[3]) return e.value;
    }
    return undefined;
  }
}

export interface DatapathStateOptions {
  /**
   * Which maps hold the ipcache and the policy maps: `ts` (the reference) or `native` (the
   * addon; a NativeError when it is unavailable). The CLI picks it with `selectBackend`.
   * @default 'ts'
   */
  backend: MapBackend;
}

/** Makes the maps of one backend (chosen at construction, style.md: not re-checked per packet). */
interface MapFactory<I extends IpcacheLike> {
  ipcache(capacity: number): I;
  view(shared: I, local: I): IpcacheViewLike;
  policyMap(capacity: number): PolicyMapLike;
}

const TS_MAPS: MapFactory<Ipcache> = {
  ipcache: (capacity) => new Ipcache(capacity),
  view: (shared, local) => new IpcacheView(shared, local),
  policyMap: (capacity) => new PolicyMap(capacity),
};

/** Native maps; every policy map of one state lives in one set (one store for the replay). */
function nativeMaps(): MapFactory<NativeIpcache> {
  const set = new NativePolicyMapSet();
  return {
    ipcache: (capacity) => new NativeIpcache(capacity),
    view: (shared, local) => new NativeIpcacheView(shared, local),
    policyMap: (capacity) => set.createMap(capacity),
  };
}

export class DatapathState {
  readonly doc: MapsDocument;
  /** The backend of every map built here (and by `createPolicyMap`). */
  readonly backend: MapBackend;
  readonly nodeIndex = new Map<string, number>();
  /** Per node index: that node's ipcache view. */
  readonly views: IpcacheViewLike[];
  /** View for endpoints on a node the document does not list: the shared entries only. */
  readonly sharedView: IpcacheViewLike;
  readonly endpoints: EndpointRecord[];
  /** Per endpoint: node index (-1 unknown). */
  readonly endpointNode: Int32Array;
  readonly endpointIdentity: Uint32Array;
  readonly endpointIsHost: Uint8Array;
  /** Per endpoint: its policy map (endpoints with the same entries share one). */
  readonly policyMaps: PolicyMapLike[];
  /** Address -> endpoint index (pod addresses, and node addresses -> host endpoint). */
  readonly endpointByAddress = new AddressTable<number>();
  /** Address -> node index, for node addresses (host firewall off: no host endpoint). */
  readonly nodeByAddress = new AddressTable<number>();
  /** Frontends by address and port: key addr*65536+port (IPv4) / ip6Hash ^ port (IPv6). */
  private readonly frontendsV4 = new Map<number, Frontend[]>();
  /**
   * A filter of the frontend addresses (both families): one bit per hash of an address, 2^16
   * bits (8 KiB, stays in cache). Most packets are neither to nor from a service, and a clear
   * bit says so without a Map probe; a set bit sends the packet to the exact lookup.
   */
  private readonly frontendFilter = new Int32Array(FRONTEND_FILTER_BITS >>> 5);

  /** @internal The filter of frontend addresses, for the native fast path (src/datapath/fast-path.ts). */
  get frontendFilterWords(): Int32Array {
    return this.frontendFilter;
  }

  /**
   * @internal The frontends for the native fast path (native/fastpath/services.h), in order, flat:
   * per frontend family, port, protocol, four address words and the number of backends, then
   * per backend four address words and its port.
   */
  frontendTable(): Float64Array {
    const out: number[] = [];
    for (const fe of this.frontends) {
      out.push(fe.family, fe.record.port, fe.protocol, ...fe.words, fe.backends.length);
      for (const b of fe.backends) out.push(...b.words, b.port);
    }
    return Float64Array.from(out);
  }
  private readonly frontendsV6 = new Map<number, Frontend[]>();
  readonly frontends: Frontend[] = [];
  /** nativeEndpointTable's last answer and the endpointByAddress version it was built at. */
  private nativeEndpoints: Int32Array | undefined;
  private nativeEndpointsVersion = -1;

  /**
   * @internal `endpointByAddress` as one open-addressing table for the native fast path
   * (native/fastpath/locate.h FindEndpoint): ENDPOINT_SLOT_WORDS int32 words a slot,
   * [family (0: empty, 4, 6), w0, w1, w2, w3, endpoint, 0, 0], a power of two of slots at most
   * half full, each address at `endpointSlotHash(...) & (slots - 1)` or the first free slot after
   * it (linear probing, wrapping). IPv4 slots hold words 0, 0, 0xffff, addr and match on word 3
   * alone, as AddressTable.get does. The same array until endpointByAddress changes (it does not
   * after construction today); then a new one, which the addon must be bound to again.
   */
  nativeEndpointTable(): Int32Array {
    const table = this.endpointByAddress;
    if (this.nativeEndpoints !== undefined && this.nativeEndpointsVersion === table.version) return this.nativeEndpoints;
    const entries = [...table.entries()];
    let slots = 16;
    while (slots < 2 * entries.length) slots *= 2;
    const out = new Int32Array(slots * ENDPOINT_SLOT_WORDS);
    const mask = slots - 1;
    for (const e of entries) {
      const w = e.words;
      let i = endpointSlotHash(e.family, w[0]!, w[1]!, w[2]!, w[3]!) & mask;
      while (out[i * ENDPOINT_SLOT_WORDS] !== 0) i = (i + 1) & mask;
      const o = i * ENDPOINT_SLOT_WORDS;
      out[o] = e.family;
      for (let k = 0; k < 4; k++) out[o + 1 + k] = w[k]!;
      out[o + 5] = e.value;
    }
    this.nativeEndpoints = out;
    this.nativeEndpointsVersion = table.version;
    return out;
  }

  /**
   * @internal What native/fastpath/locate.h LocateBind takes (locateBindArgs flattens it): the
   * endpoint table and arrays, the ipcache handles of every node's view (its shared and its
   * local map) and of the view for unknown nodes, and the world identities. Undefined with the
   * TypeScript backend (no native ipcache to read).
   */
  nativeLocateTables(): NativeLocateTables | undefined {
    if (this.backend !== 'native') return undefined;
    const handles: NativeIpcacheHandle[] = [];
    for (const v of [...this.views, this.sharedView]) {
      if (!(v instanceof NativeIpcacheView)) return undefined;
      handles.push(v.shared.handle, v.local.handle);
    }
    return {
      endpoints: this.nativeEndpointTable(),
      endpointNode: this.endpointNode,
      endpointIdentity: this.endpointIdentity,
      endpointIsHost: this.endpointIsHost,
      viewHandles: handles,
      worldIdentity4: this.worldIdentity4,
      worldIdentity6: this.worldIdentity6,
    };
  }
  readonly worldIdentity4: number;
  readonly worldIdentity6: number;
  /**
   * Bumped whenever a map changes under a live replay (FQDN updates, tests). The datapath caches
   * what it derives per connection (the endpoints and identities at both ends, the policy
   * verdicts of its forward packets) together with the generation it was derived at, and derives
   * it again once this has moved on: so a policy change still cuts a live connection at its next
   * packet (design.md §4, conntrack). Every ipcache and policy map built here bumps it on each
   * change; code that puts a new map in place uses `replacePolicyMap` or bumps it itself.
   */
  generation = 0;
  /** Installed as the maps' change hook. */
  private readonly bump = (): void => {
    this.generation++;
  };
  private readonly newPolicyMap: (capacity: number) => PolicyMapLike;

  constructor(doc: MapsDocument, options: Partial<DatapathStateOptions> = {}) {
    this.doc = doc;
    this.backend = options.backend ?? 'ts';
    if (this.backend !== 'ts' && this.backend !== 'native') throw new RangeError(`datapath state: backend ${String(this.backend)} is not ts or native`);
    const dual = doc.options.dualStack;
    this.worldIdentity4 = dual ? ReservedIdentity.WORLD_IPV4 : ReservedIdentity.WORLD;
    this.worldIdentity6 = dual ? ReservedIdentity.WORLD_IPV6 : ReservedIdentity.WORLD;

    const ipcaches = this.backend === 'native' ? buildIpcaches(doc, nativeMaps(), this.bump) : buildIpcaches(doc, TS_MAPS, this.bump);
    this.newPolicyMap = ipcaches.policyMap;
    this.sharedView = ipcaches.sharedView;
    this.views = ipcaches.views;
    doc.nodes.forEach((n, i) => {
      this.nodeIndex.set(n.name, i);
      for (const a of n.addresses) {
        const ip = parseIp(a);
        if (ip) this.nodeByAddress.set(ip.family, ip.words, i);
      }
    });

    this.endpoints = doc.endpoints;
    const n = doc.endpoints.length;
    this.endpointNode = new Int32Array(n);
    this.endpointIdentity = new Uint32Array(n);
    this.endpointIsHost = new Uint8Array(n);
    this.policyMaps = new Array<PolicyMapLike>(n);
    const byName = new Map(doc.policyMaps.map((m) => [m.endpoint, m]));
    const shared_ = new Map<unknown, PolicyMapLike>();
    doc.endpoints.forEach((ep, i) => {
      this.endpointNode[i] = this.nodeIndex.get(ep.node) ?? -1;
      this.endpointIdentity[i] = ep.identity;
      this.endpointIsHost[i] = ep.kind === 'host' ? 1 : 0;
      for (const a of ep.addresses) {
        const ip = parseIp(a);
        if (ip) this.endpointByAddress.set(ip.family, ip.words, i);
      }
      const rec = byName.get(ep.name);
      let map = rec ? shared_.get(rec.entries) : undefined;
      if (!map) {
        map = this.newPolicyMap(rec?.capacity ?? doc.options.policyMapMax);
        for (const e of rec?.entries ?? []) {
          map.set({
            identity: e.identity,
            direction: e.direction === 'ingress' ? 0 : 1,
            protocol: e.protocol,
            port: e.port,
            prefixLen: e.prefixLen,
            deny: e.verdict === 'deny',
            proxyPort: e.proxyPort,
            proxyPortPriority: e.proxyPortPriority,
            authType: e.authType,
            hasExplicitAuthType: e.hasExplicitAuthType,
            // The cookie carries the first rule the entry was derived from (+1: 0 = none).
            cookie: e.derivedFrom.length > 0 ? e.derivedFrom[0]! + 1 : 0,
          });
        }
        if (rec) shared_.set(rec.entries, map);
        map.onChange = this.bump;
      }
      this.policyMaps[i] = map;
    });

    doc.services.forEach((rec, index) => {
      const ip = parseIp(rec.address);
      if (!ip) throw new NativeError(`maps document: service ${rec.service} has a bad address ${rec.address}`);
      const backends: Backend[] = [];
      for (const b of rec.backends) {
        const bip = parseIp(b.address);
        if (bip) backends.push({ family: bip.family, words: bip.words, port: b.port });
      }
      const fe: Frontend = { index, record: rec, family: ip.family, words: ip.words, protocol: PROTO_BY_NAME[rec.protocol] ?? 0, backends };
      this.frontends.push(fe);
      const key = frontendKey(ip.family, ip.words, rec.port);
      const bit = frontendFilterBit(ip.family, ip.words);
      this.frontendFilter[bit >>> 5]! |= 1 << (bit & 31);
      const table = ip.family === 4 ? this.frontendsV4 : this.frontendsV6;
      const list = table.get(key);
      if (list) list.push(fe);
      else table.set(key, [fe]);
    });
  }

  /**
   * Puts `map` in place as `endpoint`'s policy map (as the agent's endpoint regeneration swaps
   * in a new map) and bumps the generation, so live connections are decided by it from their
   * next packet; later changes to `map` bump it too.
   */
  replacePolicyMap(endpoint: number, map: PolicyMapLike): void {
    if (!(endpoint >= 0 && endpoint < this.policyMaps.length)) throw new RangeError(`datapath state: no endpoint ${endpoint}`);
    this.policyMaps[endpoint] = map;
    map.onChange = this.bump;
    this.generation++;
  }

  /**
   * @internal The endpoints' policy maps for the native fast path (native/fastpath/stage.h
   * PolicyTables): their set's handle and, per endpoint, its map's `nativeId` (0xFFFFFFFF for a
   * disposed map, answered as an empty one, as its `lookup` does). Undefined unless every
   * endpoint's map is a NativePolicyMap of one set (the ts backend, no endpoints, or a map of
   * another set put in place). Computed afresh each call: rebind when the generation moved
   * (`replacePolicyMap` moves it).
   */
  nativePolicyMaps(): { set: NativePolicySetHandle; ids: Uint32Array } | undefined {
    const maps = this.policyMaps;
    const first = maps[0];
    if (!(first instanceof NativePolicyMap)) return undefined;
    const owner = first.owner;
    const ids = new Uint32Array(maps.length);
    for (let i = 0; i < maps.length; i++) {
      const m = maps[i];
      if (!(m instanceof NativePolicyMap) || m.owner !== owner) return undefined;
      ids[i] = m.nativeId;
    }
    return { set: owner.handle, ids };
  }

  /** A new empty policy map of this state's backend (put in place with `replacePolicyMap`). */
  createPolicyMap(capacity: number = this.doc.options.policyMapMax): PolicyMapLike {
    return this.newPolicyMap(capacity);
  }

  /** The ipcache entries every node shares (FQDN updates write here). */
  get ipcache(): IpcacheLike {
    return this.sharedView.shared;
  }

  viewOf(node: number): IpcacheViewLike {
    return node >= 0 ? this.views[node]! : this.sharedView;
  }

  /** Identity of an address as `node` sees it; an ipcache miss is the family's world identity. */
  identityOf(node: number, family: number, words: Uint32Array): number {
    const view = this.viewOf(node);
    const id = family === 4 ? view.lookup4(words[3]!) : view.lookup(6, words);
    // bpf_lxc.c: no ipcache entry (or identity 0) means world.
    if (id <= 0) return family === 4 ? this.worldIdentity4 : this.worldIdentity6;
    return id;
  }

  frontend(family: number, words: Uint32Array, port: number, protocol: number): Frontend | undefined {
    const bit = frontendFilterBit(family, words);
    if ((this.frontendFilter[bit >>> 5]! & (1 << (bit & 31))) === 0) return undefined;
    const key = frontendKey(family as 4 | 6, words, port);
    const list = family === 4 ? this.frontendsV4.get(key) : this.frontendsV6.get(key);
    if (list === undefined) return undefined;
    for (const fe of list) {
      if (fe.protocol !== protocol) continue;
      if (family === 6) {
        const w = fe.words;
        if (w[0] !== words[0] || w[1] !== words[1] || w[2] !== words[2] || w[3] !== words[3]) continue;
      }
      return fe;
    }
    return undefined;
  }

  nodeName(node: number): string {
    return node >= 0 ? this.doc.nodes[node]!.name : '';
  }
}

/** Int32 words per slot of DatapathState.nativeEndpointTable (native/fastpath/locate.h kEndpointSlotWords). */
export const ENDPOINT_SLOT_WORDS = 8;

/**
 * The home slot hash of an address in nativeEndpointTable (native/fastpath/locate.h
 * EndpointSlotHash, the same u32 arithmetic): IPv4 hashes word 3 alone.
 */
export function endpointSlotHash(family: number, w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w3 ^ (family === 4 ? 0x2545f491 : 0x6a09e667), 0x9e3779b1);
  if (family !== 4) {
    h = Math.imul(h ^ (h >>> 15) ^ w2, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ w0, 0x27d4eb2f);
  }
  return (h ^ (h >>> 16)) >>> 0;
}

/** DatapathState.nativeLocateTables: what the fast path's locate part reads. */
export interface NativeLocateTables {
  endpoints: Int32Array;
  endpointNode: Int32Array;
  endpointIdentity: Uint32Array;
  endpointIsHost: Uint8Array;
  /** Per node, then for the view of unknown nodes: the view's shared map's handle, then its local map's. */
  viewHandles: NativeIpcacheHandle[];
  worldIdentity4: number;
  worldIdentity6: number;
}

/** The arguments of the addon's locate binding (native/fastpath/locate.h LocateBind), in order. */
export function locateBindArgs(t: NativeLocateTables): [Int32Array, Int32Array, Uint32Array, Uint8Array, NativeIpcacheHandle[], number, number] {
  return [t.endpoints, t.endpointNode, t.endpointIdentity, t.endpointIsHost, t.viewHandles, t.worldIdentity4, t.worldIdentity6];
}

const FRONTEND_FILTER_BITS = 1 << 16;

/** The filter bit of an address: the top 16 bits of a multiplicative hash of its words. */
function frontendFilterBit(family: number, words: ArrayLike<number>): number {
  let h = Math.imul(words[3]! ^ 0x5bd1e995, 0x9e3779b1);
  if (family !== 4) h = Math.imul(h ^ words[0]! ^ Math.imul(words[1]!, 0x85ebca6b) ^ Math.imul(words[2]!, 0xc2b2ae35), 0x9e3779b1);
  return h >>> 16;
}

function frontendKey(family: 4 | 6, words: ArrayLike<number>, port: number): number {
  if (family === 4) return (words[3]! >>> 0) * 65536 + port;
  return ip6Hash(words[0]!, words[1]!, words[2]!, words[3]! ^ port);
}

/**
 * The shared ipcache with the document's entries, and each node's view over it (its local
 * entries in a map of its own), all reporting changes to `bump`.
 */
function buildIpcaches<I extends IpcacheLike>(
  doc: MapsDocument,
  f: MapFactory<I>,
  bump: () => void,
): { sharedView: IpcacheViewLike; views: IpcacheViewLike[]; policyMap: (capacity: number) => PolicyMapLike } {
  const shared = f.ipcache(doc.ipcache.capacity);
  for (const r of doc.ipcache.shared) upsertPrefix(shared, r.prefix, r.identity);
  shared.onChange = bump;
  const emptyLocal = f.ipcache(16);
  emptyLocal.onChange = bump;
  const sharedView = f.view(shared, emptyLocal);
  const views = doc.nodes.map((n) => {
    const local = f.ipcache(Math.max(16, doc.nodes.length * 4));
    const view = doc.ipcache.views.find((v) => v.node === n.name);
    for (const r of view?.entries ?? []) upsertPrefix(local, r.prefix, r.identity);
    local.onChange = bump;
    return f.view(shared, local);
  });
  return { sharedView, views, policyMap: (capacity) => f.policyMap(capacity) };
}

function upsertPrefix(map: IpcacheLike, prefix: string, identity: number): void {
  const c = parseCidr(prefix);
  if (!c) throw new NativeError(`maps document: bad ipcache prefix ${prefix}`);
  // The agent already trimmed the shared entries to capacity; anything else that does not fit
  // is counted by the ipcache's own overflow counter.
  map.upsert(c.family, c.words, c.prefixLen, identity);
}
