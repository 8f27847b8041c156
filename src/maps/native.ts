/**
 * The native backend: loads hubcap's addon (binding.gyp, native/) and wraps its maps in classes
 * that implement the same interfaces as the TypeScript reference maps (interfaces.ts), plus the
 * batch entry points the replay's fast path uses.
 *
 * Mirrors: bpf/lib/eps.h (the ipcache LPM) and bpf/lib/policy.h (`__policy_can_access`) through
 * native/lpm.h and native/policy.h, with exactly the semantics ipcache.ts and policy-map.ts
 * state at their tops; test/maps/native-*.test.ts checks both backends answer alike.
 *
 * Native boundary (style.md): JS owns the API. This file validates every argument the way the
 * TypeScript classes do (same RangeErrors), turns the addon's statuses into errors (out of
 * memory: NativeError) and calls `onChange` as they do; the addon's hot calls never throw. The
 * addon is found at build/Release/hubcap.node, or at the path in HUBCAP_NATIVE_ADDON (the
 * sanitizer build). When it is missing or stale, `loadNative()` answers undefined and
 * `nativeUnavailableReason()` says why; `selectBackend` turns that into the `--backend` choice.
 *
 * Deliberate differences from the TypeScript classes:
 *  - `PolicyVerdict.slot` is 0 when an entry matched and -1 on a miss (the native maps have no
 *    stable slot numbers); there is no `entryAt`.
 *  - Batch identities are int32: -1 is a miss (an identity of 0xFFFFFFFF would read as one).
 *  - Native memory is freed when the wrapper is garbage collected, or at once by `dispose()`
 *    for a policy map.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeError, UsageError } from '../errors.js';
import type { IpcacheLike, IpcacheViewLike, PolicyMapLike } from './interfaces.js';
import { DEFAULT_IPCACHE_CAPACITY, checkEntryArgs, checkUpsertArgs, compareEntries, mergeViewEntries, type IpcacheEntry } from './ipcache.js';
import { DEFAULT_POLICY_MAP_CAPACITY, checkEntry, checkKey, type PolicyEntry, type PolicyVerdict } from './policy-map.js';
import { POLICY_MATCH_L3_L4, POLICY_MATCH_L3_ONLY, POLICY_MATCH_L3_PROTO, POLICY_MATCH_NONE } from './codes.js';

/** native/bindings.h kAbiVersion: an addon built from other sources is refused. */
export const NATIVE_ABI_VERSION = 2;

/** Environment variable naming the addon file to load instead of build/Release/hubcap.node. */
export const NATIVE_ADDON_ENV = 'HUBCAP_NATIVE_ADDON';

// ---------------------------------------------------------------------------------------------
// The raw addon (native/ipcache.cc, native/policy_map.cc document each call).

export interface NativeIpcacheHandle {
  capacity(): number;
  size(): number;
  overflow(): number;
  bytesAllocated(): number;
  upsert4(addr: number, plen: number, identity: number, tunnel: number, flags: number): number;
  upsert6(w0: number, w1: number, w2: number, w3: number, plen: number, identity: number, tunnel: number, flags: number): number;
  delete4(addr: number, plen: number): boolean;
  delete6(w0: number, w1: number, w2: number, w3: number, plen: number): boolean;
  clear(): void;
  /** A plain function over this map (or this map and `local`, a node's view); see native/ipcache.cc. */
  bindLookup4(local?: NativeIpcacheHandle): (addr: number) => number;
  bindLookup6(local?: NativeIpcacheHandle): (w0: number, w1: number, w2: number, w3: number) => number;
  lookupEntry4(addr: number, out: Uint32Array): number;
  lookupEntry6(w0: number, w1: number, w2: number, w3: number, out: Uint32Array): number;
  lookupBatch4(addrs: Uint32Array, out: Int32Array, n: number): number;
  lookupBatch6(words: Uint32Array, out: Int32Array, n: number): number;
  lookupBatchView4(local: NativeIpcacheHandle, addrs: Uint32Array, out: Int32Array, n: number): number;
  lookupBatchView6(local: NativeIpcacheHandle, words: Uint32Array, out: Int32Array, n: number): number;
  dump(): Uint32Array;
}

export interface NativePolicySetHandle {
  createMap(capacity: number): number;
  deleteMap(id: number): boolean;
  clearMap(id: number): boolean;
  hasMap(id: number): boolean;
  mapSize(id: number): number;
  mapCapacity(id: number): number;
  mapOverflow(id: number): number;
  totalEntries(): number;
  totalGroups(): number;
  bigGroups(): number;
  bytesAllocated(): number;
  bindScratch(scratch: Uint32Array): boolean;
  set(
    map: number,
    identity: number,
    dir: number,
    proto: number,
    port: number,
    plen: number,
    flags: number,
    proxyPort: number,
    prio: number,
    auth: number,
    cookie: number,
  ): number;
  delete(map: number, identity: number, dir: number, proto: number, port: number, plen: number): boolean;
  get(map: number, identity: number, dir: number, proto: number, port: number, plen: number): boolean;
  lookupSlot(map: number, identity: number, dir: number, proto: number, port: number): boolean;
  /** A plain function bound to this set for single lookups; see native/policy_map.cc. */
  bindLookup(): (map: number, remote: number, dir: number, proto: number, dport: number, untrackedFragment: number) => number;
  lookupBatchPacked(input: Uint32Array, output: Int32Array, n: number): number;
  lookupBatch(
    mapIds: Uint32Array | number,
    remotes: Uint32Array,
    dirs: Uint8Array,
    protos: Uint8Array,
    dports: Uint16Array,
    outVerdict: Int32Array,
    outMatch: Uint8Array | null,
    outCookie: Uint32Array | null,
    n: number,
  ): number;
  dumpMap(id: number): Uint32Array | undefined;
}

/** The builds of the native policy batch loop, narrowest first (native/policy.h). */
export type PolicyBatchSimd = 'portable' | 'avx2' | 'avx512';

export interface NativeModule {
  Ipcache: new (capacity: number) => NativeIpcacheHandle;
  PolicyMapSet: {
    new (): NativePolicySetHandle;
    /**
     * The build of the policy batch loop every set uses: the widest the CPU has ("avx512",
     * "avx2", else "portable"); with an argument, switches to that build (false: not available
     * here).
     */
    batchSimd(): PolicyBatchSimd;
    batchSimd(mode: PolicyBatchSimd): boolean;
  };
  /** Every byte all native maps hold (the addon's own accounting). */
  bytesAllocated(): number;
  abiVersion: number;
  /** True for the AddressSanitizer/UBSan build (native/sanitize.sh). */
  sanitized: boolean;
  /**
   * The fast path's parts alone (native/fastpath/*_testing.cc), for the differential tests
   * (test/datapath/fast-*.test.ts); each test file types the functions it calls.
   */
  fastpathTesting: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** build/Release/hubcap.node of this package (src/maps and dist/maps are both two levels down). */
export function defaultAddonPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'hubcap.node');
}

export interface LoadResult {
  path: string;
  module?: NativeModule;
  reason?: string;
}

let loaded: LoadResult | undefined;

/** Loads the addon at `path` (not cached): the module, or the reason it is unusable. */
export function loadNativeFrom(path: string): LoadResult {
  if (!existsSync(path)) {
    return { path, reason: `${path} is not built (\`npm install\` builds it with node-gyp; it needs python3, make and g++)` };
  }
  try {
    const mod = createRequire(import.meta.url)(path) as NativeModule;
    if (mod.abiVersion !== NATIVE_ABI_VERSION) {
      return { path, reason: `${path} has ABI version ${String(mod.abiVersion)}, this hubcap needs ${NATIVE_ABI_VERSION} (rebuild: npx node-gyp rebuild)` };
    }
    return { path, module: mod };
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { path, reason: `loading ${path} failed: ${message}` };
  }
}

function load(): LoadResult {
  loaded ??= loadNativeFrom(process.env[NATIVE_ADDON_ENV] || defaultAddonPath());
  return loaded;
}

/** The addon, or undefined when it is not built or does not load (see nativeUnavailableReason). */
export function loadNative(): NativeModule | undefined {
  return load().module;
}

/** Why `loadNative()` answered undefined (undefined when the addon loaded). */
export function nativeUnavailableReason(): string | undefined {
  return load().reason;
}

/** The addon, or a NativeError saying why it is unavailable. */
export function requireNative(): NativeModule {
  const r = load();
  if (!r.module) throw new NativeError(`native addon unavailable: ${r.reason ?? 'unknown reason'}`);
  return r.module;
}

export type Backend = 'ts' | 'native';

export interface BackendChoice {
  backend: Backend;
  /** One line for stderr when the default fell back to the TypeScript backend. */
  note?: string;
}

/**
 * The `--backend ts|native` choice (design.md §3): native by default when the addon is built,
 * else ts with a note saying why. An explicit `native` without the addon is an error, as is
 * any other name.
 */
export function selectBackend(requested?: string): BackendChoice {
  if (requested === 'ts') return { backend: 'ts' };
  if (requested !== undefined && requested !== 'native') throw new UsageError(`--backend must be ts or native, got ${requested}`);
  const r = load();
  if (r.module) return { backend: 'native' };
  if (requested === 'native') throw new NativeError(`--backend native: the native addon is unavailable: ${r.reason ?? 'unknown reason'}`);
  return { backend: 'ts', note: `hubcap: native backend unavailable (${r.reason ?? 'unknown reason'}); using the TypeScript backend` };
}

// ---------------------------------------------------------------------------------------------
// Argument checks: ipcache.ts's and policy-map.ts's own (same RangeErrors on both backends).

/** A batch count: an integer that fits every array (words per item for each). */
function checkBatch(what: string, n: number, arrays: Array<[ArrayLike<number>, number]>): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: batch size ${n} is not a count`);
  for (const [a, per] of arrays) {
    if (n * per > a.length) throw new RangeError(`${what}: batch of ${n} needs ${n * per} elements, an array has ${a.length}`);
  }
}

function outOfMemory(what: string): NativeError {
  return new NativeError(`${what}: the native addon is out of memory`);
}

// ---------------------------------------------------------------------------------------------
// ipcache

/** ipcache.ts `Ipcache` on the native LPM (native/lpm.h). */
export class NativeIpcache implements IpcacheLike {
  readonly capacity: number;
  onChange: (() => void) | null = null;
  /** The addon object (for other native calls, e.g. views and the replay fast path). */
  readonly handle: NativeIpcacheHandle;
  private readonly entryOut = new Uint32Array(7);
  // Single lookups through functions bound once: a method call on the handle pays for
  // napi_unwrap every time (native/bindings.h BindFunction).
  private readonly find4: (addr: number) => number;
  private readonly find6: (w0: number, w1: number, w2: number, w3: number) => number;

  constructor(capacity: number = DEFAULT_IPCACHE_CAPACITY, native: NativeModule = requireNative()) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 28) {
      throw new RangeError(`ipcache: capacity ${capacity} is outside 1..${1 << 28}`);
    }
    this.capacity = capacity;
    this.handle = new native.Ipcache(capacity);
    this.find4 = this.handle.bindLookup4();
    this.find6 = this.handle.bindLookup6();
  }

  get size(): number {
    return this.handle.size();
  }

  get overflow(): number {
    return this.handle.overflow();
  }

  /** Bytes this map's native structures hold (the addon's own accounting). */
  bytesAllocated(): number {
    return this.handle.bytesAllocated();
  }

  clear(): void {
    this.handle.clear();
    this.onChange?.();
  }

  upsert(family: 4 | 6, words: ArrayLike<number>, prefixLen: number, identity: number, tunnelEndpoint = 0, flags = 0): boolean {
    checkUpsertArgs(family, words, prefixLen, identity, tunnelEndpoint, flags);
    const h = this.handle;
    const status =
      family === 4
        ? h.upsert4(words[3]!, prefixLen, identity, tunnelEndpoint, flags)
        : h.upsert6(words[0]!, words[1]!, words[2]!, words[3]!, prefixLen, identity, tunnelEndpoint, flags);
    if (status < 0) throw outOfMemory('ipcache');
    if (status === 0) return false;
    this.onChange?.();
    return true;
  }

  delete(family: 4 | 6, words: ArrayLike<number>, prefixLen: number): boolean {
    checkEntryArgs(family, words, prefixLen);
    const ok = family === 4 ? this.handle.delete4(words[3]!, prefixLen) : this.handle.delete6(words[0]!, words[1]!, words[2]!, words[3]!, prefixLen);
    if (ok) this.onChange?.();
    return ok;
  }

  lookup4(addr: number): number {
    return this.find4(addr);
  }

  lookup(family: 4 | 6, words: ArrayLike<number>): number {
    return family === 4 ? this.find4(words[3]!) : this.find6(words[0]!, words[1]!, words[2]!, words[3]!);
  }

  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined {
    const out = this.entryOut;
    const plen = family === 4 ? this.handle.lookupEntry4(words[3]!, out) : this.handle.lookupEntry6(words[0]!, words[1]!, words[2]!, words[3]!, out);
    if (plen < 0) return undefined;
    return { family, words: out.slice(0, 4), prefixLen: plen, identity: out[4]!, tunnelEndpoint: out[5]!, flags: out[6]! };
  }

  *entries(): IterableIterator<IpcacheEntry> {
    const rows = this.handle.dump();
    const list: IpcacheEntry[] = [];
    for (let o = 0; o < rows.length; o += 9) {
      list.push({
        family: rows[o] as 4 | 6,
        words: rows.slice(o + 1, o + 5),
        prefixLen: rows[o + 5]!,
        identity: rows[o + 6]!,
        tunnelEndpoint: rows[o + 7]!,
        flags: rows[o + 8]!,
      });
    }
    list.sort(compareEntries);
    yield* list;
  }

  /** Identities of `n` IPv4 addresses (host-order u32) into `out` (int32, -1 on a miss). */
  lookupBatch4(addrs: Uint32Array, out: Int32Array, n: number = addrs.length): void {
    checkBatch('ipcache lookupBatch4', n, [
      [addrs, 1],
      [out, 1],
    ]);
    if (this.handle.lookupBatch4(addrs, out, n) < 0) throw new NativeError('ipcache lookupBatch4: the addon refused the arguments');
  }

  /** Identities of `n` IPv6 addresses (4 words each) into `out` (int32, -1 on a miss). */
  lookupBatch6(words: Uint32Array, out: Int32Array, n: number = words.length >>> 2): void {
    checkBatch('ipcache lookupBatch6', n, [
      [words, 4],
      [out, 1],
    ]);
    if (this.handle.lookupBatch6(words, out, n) < 0) throw new NativeError('ipcache lookupBatch6: the addon refused the arguments');
  }
}

/** ipcache.ts `IpcacheView` over native maps: the longest prefix over both, local on a tie. */
export class NativeIpcacheView implements IpcacheViewLike {
  readonly shared: NativeIpcache;
  readonly local: NativeIpcache;
  private readonly find4: (addr: number) => number;
  private readonly find6: (w0: number, w1: number, w2: number, w3: number) => number;

  constructor(shared: NativeIpcache, local: NativeIpcache) {
    this.shared = shared;
    this.local = local;
    this.find4 = shared.handle.bindLookup4(local.handle);
    this.find6 = shared.handle.bindLookup6(local.handle);
  }

  lookup4(addr: number): number {
    return this.find4(addr);
  }

  lookup(family: 4 | 6, words: ArrayLike<number>): number {
    if (family === 4) return this.find4(words[3]!);
    return this.find6(words[0]!, words[1]!, words[2]!, words[3]!);
  }

  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined {
    const l = this.local.lookupEntry(family, words);
    const s = this.shared.lookupEntry(family, words);
    if (!l) return s;
    if (!s || l.prefixLen >= s.prefixLen) return l;
    return s;
  }

  /** The merged map: shared entries with local ones replacing equal prefixes, sorted. */
  entries(): IterableIterator<IpcacheEntry> {
    return mergeViewEntries(this.shared.entries(), this.local.entries());
  }

  lookupBatch4(addrs: Uint32Array, out: Int32Array, n: number = addrs.length): void {
    checkBatch('ipcache view lookupBatch4', n, [
      [addrs, 1],
      [out, 1],
    ]);
    if (this.shared.handle.lookupBatchView4(this.local.handle, addrs, out, n) < 0) {
      throw new NativeError('ipcache view lookupBatch4: the addon refused the arguments');
    }
  }

  lookupBatch6(words: Uint32Array, out: Int32Array, n: number = words.length >>> 2): void {
    checkBatch('ipcache view lookupBatch6', n, [
      [words, 4],
      [out, 1],
    ]);
    if (this.shared.handle.lookupBatchView6(this.local.handle, words, out, n) < 0) {
      throw new NativeError('ipcache view lookupBatch6: the addon refused the arguments');
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Policy maps

/** Words per lookup of the packed batch layout (native/policy.h). */
export const POLICY_BATCH_IN_WORDS = 3;
export const POLICY_BATCH_OUT_WORDS = 3;

/**
 * Writes lookup `i` of a packed batch: [mapId, remote identity, dport | protocol << 16 |
 * direction << 24 | untracked fragment << 25]. Like `PolicyMap.lookup`, the identity is taken
 * as a u32, protocol and port by their low 8 and 16 bits.
 */
export function packPolicyLookup(
  input: Uint32Array,
  i: number,
  mapId: number,
  remoteIdentity: number,
  direction: number,
  protocol: number,
  dport: number,
  untrackedFragment = false,
): void {
  const o = i * POLICY_BATCH_IN_WORDS;
  input[o] = mapId;
  input[o + 1] = remoteIdentity;
  input[o + 2] = (dport & 0xffff) | ((protocol & 0xff) << 16) | ((direction & 1) << 24) | (untrackedFragment ? 1 << 25 : 0);
}

/**
 * Reads answer `i` of a packed batch into `out` (a PolicyVerdict, as `PolicyMap.lookup` fills
 * it; `slot` is 0 when an entry matched, -1 otherwise) and returns the verdict.
 */
export function unpackPolicyVerdict(output: Int32Array, i: number, remoteIdentity: number, out: PolicyVerdict): number {
  const o = i * POLICY_BATCH_OUT_WORDS;
  const info = output[o + 2]! >>> 0;
  const matchType = info & 15;
  out.verdict = output[o]!;
  out.cookie = output[o + 1]! >>> 0;
  out.matchType = matchType;
  out.prefixLen = (info >>> 4) & 31;
  out.authType = (info >>> 9) & 127;
  out.proxyPort = info >>> 16;
  out.matchedIdentity =
    matchType === POLICY_MATCH_L3_ONLY || matchType === POLICY_MATCH_L3_L4 || matchType === POLICY_MATCH_L3_PROTO ? remoteIdentity >>> 0 : 0;
  out.slot = matchType === POLICY_MATCH_NONE ? -1 : 0;
  return out.verdict;
}

const KW_DENY = 1 << 29;
const KW_EXPLICIT_AUTH = 1 << 30;

/** A dump row (native/policy.h kDumpWords) as a PolicyEntry, keys in PolicyMap.entryAt's order. */
function rowToEntry(r: Uint32Array, o: number): PolicyEntry {
  const kw = r[o + 1]!;
  const v = r[o + 3]!;
  return {
    identity: r[o]!,
    direction: (kw >>> 31) as 0 | 1,
    protocol: (kw >>> 16) & 0xff,
    port: kw & 0xffff,
    prefixLen: (kw >>> 24) & 0x1f,
    deny: (kw & KW_DENY) !== 0,
    proxyPort: v & 0xffff,
    proxyPortPriority: (v >>> 16) & 0xff,
    authType: (v >>> 24) & 0x7f,
    hasExplicitAuthType: (kw & KW_EXPLICIT_AUTH) !== 0,
    cookie: r[o + 2]!,
  };
}

/**
 * Many policy maps in one native store (one per endpoint), so a batch can mix endpoints:
 * 1,000 endpoints sharing 10^6 entries cost what one map of 10^6 entries costs.
 */
export class NativePolicyMapSet {
  readonly handle: NativePolicySetHandle;
  /** Where the addon's single-entry calls write (bound once; see native/policy_map.cc). */
  readonly scratch = new Uint32Array(8);
  /** handle.bindLookup(): single lookups without napi_unwrap per call (native/bindings.h). */
  readonly lookupOne: (map: number, remote: number, dir: number, proto: number, dport: number, untrackedFragment: number) => number;

  constructor(native: NativeModule = requireNative()) {
    this.handle = new native.PolicyMapSet();
    if (!this.handle.bindScratch(this.scratch)) throw new NativeError('policy map set: the addon refused its scratch array');
    this.lookupOne = this.handle.bindLookup();
  }

  /** A new empty map in this set. */
  createMap(capacity: number = DEFAULT_POLICY_MAP_CAPACITY): NativePolicyMap {
    return new NativePolicyMap(capacity, this);
  }

  /** Entries of every map of the set. */
  get totalEntries(): number {
    return this.handle.totalEntries();
  }

  /** Bytes the set's native structures hold (the addon's own accounting). */
  bytesAllocated(): number {
    return this.handle.bytesAllocated();
  }

  /**
   * `n` lookups in the packed layout (packPolicyLookup / unpackPolicyVerdict): POLICY_BATCH_IN_WORDS
   * words each in, POLICY_BATCH_OUT_WORDS out. Returns how many named a map not in this set
   * (answered as an empty map).
   */
  lookupBatchPacked(input: Uint32Array, output: Int32Array, n: number): number {
    checkBatch('policy lookupBatchPacked', n, [
      [input, POLICY_BATCH_IN_WORDS],
      [output, POLICY_BATCH_OUT_WORDS],
    ]);
    const r = this.handle.lookupBatchPacked(input, output, n);
    if (r < 0) throw new NativeError('policy lookupBatchPacked: the addon refused the arguments');
    return r;
  }

  /**
   * `n` lookups as struct of arrays; `maps` is one map (all lookups in it) or a map id per
   * lookup. `outMatch` and `outCookie` may be null. Returns how many named an unknown map.
   */
  lookupBatch(
    maps: NativePolicyMap | Uint32Array,
    remotes: Uint32Array,
    dirs: Uint8Array,
    protos: Uint8Array,
    dports: Uint16Array,
    outVerdict: Int32Array,
    outMatch: Uint8Array | null,
    outCookie: Uint32Array | null,
    n: number,
  ): number {
    const arrays: Array<[ArrayLike<number>, number]> = [
      [remotes, 1],
      [dirs, 1],
      [protos, 1],
      [dports, 1],
      [outVerdict, 1],
    ];
    if (maps instanceof Uint32Array) arrays.push([maps, 1]);
    if (outMatch) arrays.push([outMatch, 1]);
    if (outCookie) arrays.push([outCookie, 1]);
    checkBatch('policy lookupBatch', n, arrays);
    const ids = maps instanceof Uint32Array ? maps : maps.id;
    const r = this.handle.lookupBatch(ids, remotes, dirs, protos, dports, outVerdict, outMatch, outCookie, n);
    if (r < 0) throw new NativeError('policy lookupBatch: the addon refused the arguments');
    return r;
  }
}

/** policy-map.ts `PolicyMap` on the native store (native/policy.h). */
export class NativePolicyMap implements PolicyMapLike {
  readonly capacity: number;
  onChange: (() => void) | null = null;
  readonly owner: NativePolicyMapSet;
  /** This map's id in its set (the mapId of batch lookups). */
  readonly id: number;
  private disposed = false;

  constructor(capacity: number = DEFAULT_POLICY_MAP_CAPACITY, owner?: NativePolicyMapSet) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 26) {
      throw new RangeError(`policy map: capacity ${capacity} is outside 1..${1 << 26}`);
    }
    this.capacity = capacity;
    this.owner = owner ?? new NativePolicyMapSet();
    const id = this.owner.handle.createMap(capacity);
    if (id < 0) throw outOfMemory('policy map');
    this.id = id;
  }

  get size(): number {
    return this.disposed ? 0 : this.owner.handle.mapSize(this.id);
  }

  get overflow(): number {
    return this.disposed ? 0 : this.owner.handle.mapOverflow(this.id);
  }

  /**
   * @internal The id the native fast path looks this map up by (native/fastpath/stage.h
   * PolicyTables): `id`, or -1 once disposed (as `lookup` passes it: an unknown map, answered as
   * an empty one).
   */
  get nativeId(): number {
    return this.disposed ? -1 : this.id;
  }

  private live(): NativePolicySetHandle {
    if (this.disposed) throw new NativeError(`policy map ${this.id}: used after dispose()`);
    return this.owner.handle;
  }

  /** Frees the map's entries in its set now (the map is unusable afterwards). */
  dispose(): void {
    if (this.disposed) return;
    this.owner.handle.deleteMap(this.id);
    this.disposed = true;
  }

  clear(): void {
    if (!this.live().clearMap(this.id)) throw outOfMemory('policy map');
    this.onChange?.();
  }

  set(entry: PolicyEntry): boolean {
    checkEntry(entry);
    const { identity, direction, protocol, port, prefixLen } = entry;
    const flags = (entry.deny ? 1 : 0) | (entry.hasExplicitAuthType ? 2 : 0);
    const status = this.live().set(
      this.id,
      identity,
      direction,
      protocol,
      port,
      prefixLen,
      flags,
      entry.proxyPort,
      entry.proxyPortPriority,
      entry.authType,
      entry.cookie,
    );
    if (status === 0) return false;
    if (status < 0) throw status === -1 ? outOfMemory('policy map') : new NativeError(`policy map ${this.id}: the addon refused the entry (status ${status})`);
    this.onChange?.();
    return true;
  }

  delete(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): boolean {
    checkKey(identity, direction, protocol, port, prefixLen);
    const ok = this.live().delete(this.id, identity, direction, protocol, port, prefixLen);
    if (ok) this.onChange?.();
    return ok;
  }

  get(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): PolicyEntry | undefined {
    checkKey(identity, direction, protocol, port, prefixLen);
    return this.live().get(this.id, identity, direction, protocol, port, prefixLen) ? rowToEntry(this.owner.scratch, 0) : undefined;
  }

  lookupExact(identity: number, direction: 0 | 1, protocol: number, port: number): PolicyEntry | undefined {
    return this.live().lookupSlot(this.id, identity, direction, protocol, port) ? rowToEntry(this.owner.scratch, 0) : undefined;
  }

  lookup(remoteIdentity: number, direction: 0 | 1, protocol: number, dport: number, out: PolicyVerdict, isUntrackedFragment = false): number {
    // A disposed map answers as an unknown one (no entries).
    const v = this.owner.lookupOne(this.disposed ? -1 : this.id, remoteIdentity, direction, protocol, dport, isUntrackedFragment === true ? 1 : 0);
    const s = this.owner.scratch;
    const info = s[2]!;
    out.verdict = v;
    out.cookie = s[1]!;
    out.matchType = info & 15;
    out.prefixLen = (info >>> 4) & 31;
    out.authType = (info >>> 9) & 127;
    out.proxyPort = info >>> 16;
    out.matchedIdentity = s[3]!;
    out.slot = s[4] === 0xffffffff ? -1 : s[4]!;
    return v;
  }

  *entries(): IterableIterator<PolicyEntry> {
    const rows = this.live().dumpMap(this.id);
    if (!rows) throw outOfMemory('policy map');
    const list: PolicyEntry[] = [];
    for (let o = 0; o < rows.length; o += 4) list.push(rowToEntry(rows, o));
    list.sort(
      (a, b) => a.direction - b.direction || a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.prefixLen - b.prefixLen,
    );
    yield* list;
  }
}
