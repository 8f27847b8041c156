/**
 * Tiny builders and brute-force references for the map tests (the habit of Cilium's
 * pkg/policy/mapstate_test.go: `ingressKey`-style helpers, an invariant check after mutations).
 */
import { expect } from 'vitest';
import { parseCidr, parseIp } from '../../src/net/addr.js';
import type { Ipcache, IpcacheEntry } from '../../src/maps/ipcache.js';
import type { PolicyEntry, PolicyMap } from '../../src/maps/policy-map.js';

export const TCP = 6;
export const UDP = 17;

type EntryOpts = Partial<Omit<PolicyEntry, 'identity' | 'direction' | 'protocol' | 'port' | 'prefixLen'>>;

function entry(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number, opts: EntryOpts = {}): PolicyEntry {
  return {
    identity,
    direction,
    protocol,
    port,
    prefixLen,
    deny: false,
    proxyPort: 0,
    proxyPortPriority: 0,
    authType: 0,
    hasExplicitAuthType: false,
    cookie: 0,
    ...opts,
  };
}

/** Ingress entry for `identity` on exact `proto`/`port` (prefix 24). */
export const ingressPort = (identity: number, protocol: number, port: number, opts?: EntryOpts) => entry(identity, 0, protocol, port, 24, opts);
/** Ingress entry for `identity`, protocol only (prefix 8). */
export const ingressProto = (identity: number, protocol: number, opts?: EntryOpts) => entry(identity, 0, protocol, 0, 8, opts);
/** Ingress entry for `identity`, any protocol and port (prefix 0). */
export const ingressAny = (identity: number, opts?: EntryOpts) => entry(identity, 0, 0, 0, 0, opts);
/** Ingress entry with a masked port prefix. */
export const ingressMasked = (identity: number, protocol: number, port: number, prefixLen: number, opts?: EntryOpts) =>
  entry(identity, 0, protocol, port, prefixLen, opts);
export const egressPort = (identity: number, protocol: number, port: number, opts?: EntryOpts) => entry(identity, 1, protocol, port, 24, opts);
export { entry as policyEntry };

export function portMask(prefixLen: number): number {
  return prefixLen <= 8 ? 0 : (0xffff << (24 - prefixLen)) & 0xffff;
}

/** Normalises an entry key as the kernel sees it (bits beyond the prefix cleared). */
export function normalised(e: PolicyEntry): PolicyEntry {
  return { ...e, protocol: e.prefixLen >= 8 ? e.protocol : 0, port: e.port & portMask(e.prefixLen) };
}

export function policyKeyString(e: Pick<PolicyEntry, 'identity' | 'direction' | 'protocol' | 'port' | 'prefixLen'>): string {
  const n = normalised(e as PolicyEntry);
  return `${n.direction}/${n.identity}/${n.protocol}/${n.port}/${n.prefixLen}`;
}

/** Brute-force LPM over a list of entries: longest prefix of (identity, direction) covering proto/port. */
export function refLookupExact(entries: Iterable<PolicyEntry>, identity: number, direction: number, protocol: number, port: number): PolicyEntry | undefined {
  let best: PolicyEntry | undefined;
  for (const e of entries) {
    if (e.identity !== identity || e.direction !== direction) continue;
    if (e.prefixLen >= 8 && e.protocol !== protocol) continue;
    if ((port & portMask(e.prefixLen)) !== (e.port & portMask(e.prefixLen))) continue;
    if (!best || e.prefixLen > best.prefixLen) best = e;
  }
  return best;
}

/**
 * bpf/lib/policy.h `__policy_can_access` + `__policy_check`, written a second time as plainly as
 * possible from the C source, for property tests.
 */
export function refPolicyCanAccess(
  entries: PolicyEntry[],
  remote: number,
  direction: number,
  protocol: number,
  dport: number,
): { verdict: number; matchType: number; cookie: number; authType: number; matchedIdentity: number } {
  const policy = refLookupExact(entries, remote, direction, protocol, dport);
  let chosen: PolicyEntry | undefined;
  let other: PolicyEntry | undefined;
  let l3 = false;
  if (policy && policy.deny) {
    chosen = policy;
    l3 = true;
  } else {
    const l4policy = refLookupExact(entries, 0, direction, protocol, dport);
    if (
      l4policy &&
      (l4policy.deny ||
        !policy ||
        l4policy.proxyPortPriority > policy.proxyPortPriority ||
        (l4policy.proxyPortPriority === policy.proxyPortPriority && l4policy.prefixLen > policy.prefixLen))
    ) {
      chosen = l4policy;
      other = policy;
    } else if (policy) {
      chosen = policy;
      other = l4policy;
      l3 = true;
    }
  }
  if (!chosen) return { verdict: -133, matchType: 0, cookie: 0, authType: 0, matchedIdentity: 0 };
  const p = chosen.prefixLen;
  const matchType = l3 ? (p > 8 ? 2 : p > 0 ? 5 : 1) : p === 0 ? 4 : p <= 8 ? 6 : 3;
  const base = { matchType, cookie: chosen.cookie, matchedIdentity: l3 ? remote : 0 };
  if (chosen.deny) return { ...base, verdict: -181, authType: 0 };
  let auth = chosen.authType;
  if (other && other.authType > auth && !chosen.hasExplicitAuthType) auth = other.authType;
  if (auth) return { ...base, verdict: -189, authType: auth };
  return { ...base, verdict: chosen.proxyPort, authType: 0 };
}

/** Invariants after every mutation: size, sorted entries, every entry retrievable by `get`. */
export function checkPolicyMapInvariants(map: PolicyMap, model: Map<string, PolicyEntry>): void {
  const order = (e: PolicyEntry) => [e.direction, e.identity, e.protocol, e.port, e.prefixLen];
  const expected = [...model.values()].sort((a, b) => compareTuples(order(a), order(b)));
  const listed = [...map.entries()];
  if (map.size !== model.size) expect(map.size).toBe(model.size);
  // Compared as JSON first: expect's deep equality is slow in a loop, and is only needed for the diff.
  if (JSON.stringify(listed) !== JSON.stringify(expected)) expect(listed).toEqual(expected);
  const got = listed.map((e) => map.get(e.identity, e.direction, e.protocol, e.port, e.prefixLen));
  if (JSON.stringify(got) !== JSON.stringify(listed)) expect(got).toEqual(listed);
}

export function compareTuples(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Words of an address text (IPv4 as mapped words). */
export function ip(text: string): { family: 4 | 6; words: Uint32Array } {
  const a = parseIp(text);
  if (!a) throw new Error(`bad test address ${text}`);
  return a;
}

export function ipv4Number(text: string): number {
  return ip(text).words[3]!;
}

/** Upserts `prefix` (CIDR text) with `identity`. */
export function put(cache: Ipcache, prefix: string, identity: number): boolean {
  const c = parseCidr(prefix);
  if (!c) throw new Error(`bad test prefix ${prefix}`);
  return cache.upsert(c.family, c.words, c.prefixLen, identity);
}

export function del(cache: Ipcache, prefix: string): boolean {
  const c = parseCidr(prefix);
  if (!c) throw new Error(`bad test prefix ${prefix}`);
  return cache.delete(c.family, c.words, c.prefixLen);
}

export function lookupText(cache: { lookup(family: 4 | 6, words: ArrayLike<number>): number }, addr: string): number {
  const a = ip(addr);
  return cache.lookup(a.family, a.words);
}

/** Brute-force LPM over ipcache entries (same family, longest covering prefix). */
export function refIpcacheLookup(entries: Iterable<IpcacheEntry>, family: 4 | 6, words: ArrayLike<number>): IpcacheEntry | undefined {
  let best: IpcacheEntry | undefined;
  for (const e of entries) {
    if (e.family !== family) continue;
    const total = family === 4 ? 96 + e.prefixLen : e.prefixLen;
    let match = true;
    for (let w = 0; w < 4 && match; w++) {
      // IPv4 words 0..2 are the fixed mapped prefix; only word 3 is compared for family 4.
      if (family === 4 && w < 3) continue;
      const bits = Math.max(0, Math.min(32, total - 32 * w));
      const mask = bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
      if (((words[w]! & mask) >>> 0) !== ((e.words[w]! & mask) >>> 0)) match = false;
    }
    if (match && (!best || e.prefixLen > best.prefixLen)) best = e;
  }
  return best;
}
