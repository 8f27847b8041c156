/**
 * The map interfaces the datapath uses, implemented by both backends: the TypeScript reference
 * (ipcache.ts, policy-map.ts) and the native addon (native.ts). design.md §1: "one interface,
 * two backends".
 *
 * Mirrors: nothing in Cilium; this is the seam between hubcap's two implementations of the same
 * kernel maps (eps.h ipcache, policy.h policy map). Only types live here.
 */
import type { Ipcache, IpcacheEntry, IpcacheView } from './ipcache.js';
import type { PolicyEntry, PolicyMap, PolicyVerdict } from './policy-map.js';

/** An ipcache (eps.h `cilium_ipcache_v2`): longest-prefix match from an address to an identity. */
export interface IpcacheLike {
  readonly capacity: number;
  readonly size: number;
  /** New prefixes refused because the map was full, since construction or `clear()`. */
  readonly overflow: number;
  /** Called after every change of the entries. */
  onChange: (() => void) | null;
  clear(): void;
  /** Inserts or replaces a prefix; false (overflow counter++) when full and the prefix is new. */
  upsert(family: 4 | 6, words: ArrayLike<number>, prefixLen: number, identity: number, tunnelEndpoint?: number, flags?: number): boolean;
  /** Removes exactly this prefix; false when absent. */
  delete(family: 4 | 6, words: ArrayLike<number>, prefixLen: number): boolean;
  /** Identity of the longest IPv4 prefix covering `addr` (host-order u32), or -1. */
  lookup4(addr: number): number;
  /** Identity of the longest prefix covering the address (IPv4 as mapped words), or -1. */
  lookup(family: 4 | 6, words: ArrayLike<number>): number;
  /** The matching entry, for display (allocates). */
  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined;
  /** Every entry, sorted by family, address, prefix length. */
  entries(): IterableIterator<IpcacheEntry>;
}

/** A node's view: node-specific entries over a shared ipcache (ipcache.ts IpcacheView). */
export interface IpcacheViewLike {
  /** The entries every node shares (where the agent and FQDN updates write). */
  readonly shared: IpcacheLike;
  /** This node's own entries (its addresses as `host`), winning ties over `shared`. */
  readonly local: IpcacheLike;
  lookup4(addr: number): number;
  lookup(family: 4 | 6, words: ArrayLike<number>): number;
  lookupEntry(family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined;
  entries(): IterableIterator<IpcacheEntry>;
}

/** A per-endpoint policy map (policy.h) and its two-lookup verdict. */
export interface PolicyMapLike {
  readonly capacity: number;
  readonly size: number;
  /** New keys refused because the map was full, since construction or `clear()`. */
  readonly overflow: number;
  onChange: (() => void) | null;
  clear(): void;
  /** Upsert; false (and overflow counter++) when the map is full and the key is new. */
  set(entry: PolicyEntry): boolean;
  delete(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): boolean;
  get(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): PolicyEntry | undefined;
  /** One LPM lookup of (identity, direction) over proto/port (display and tests; allocates). */
  lookupExact(identity: number, direction: 0 | 1, protocol: number, port: number): PolicyEntry | undefined;
  /** `__policy_can_access`: fills `out`, returns `out.verdict`. */
  lookup(remoteIdentity: number, direction: 0 | 1, protocol: number, dport: number, out: PolicyVerdict, isUntrackedFragment?: boolean): number;
  /** Every entry, ordered by (direction, identity, protocol, port, prefixLen). */
  entries(): IterableIterator<PolicyEntry>;
}

// The TypeScript classes are the reference implementations of these interfaces (a compile error
// here means one of them drifted).
type Assert<T extends true> = T;
type Implements<C, I> = [C] extends [I] ? true : false;
export type TsBackendConforms = [
  Assert<Implements<Ipcache, IpcacheLike>>,
  Assert<Implements<IpcacheView, IpcacheViewLike>>,
  Assert<Implements<PolicyMap, PolicyMapLike>>,
];
