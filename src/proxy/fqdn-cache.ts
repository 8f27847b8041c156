/**
 * The FQDN cache: DNS names -> IPs learned from allowed DNS answers, with expiry.
 *
 * Mirrors: pkg/fqdn/cache.go (DNSCache: Update, updateWithEntryIPs, GC, cleanupExpiredEntries,
 * cleanupOverLimitEntries, Lookup, LookupIP, LookupByRegexp) and the learning condition of
 * pkg/fqdn/messagehandler/message_handler.go (NotifyOnDNSMsg -> UpdateOnDNSMsg).
 *
 *  1. What is learned: only answers the proxy let through (a query it refused never reaches the
 *     server, so the answer a capture shows for it is never learned), only with RCODE NOERROR and
 *     at least one A/AAAA address, and only for the QUERIED name: ExtractMsgDetails follows the
 *     CNAME chain and hands every address at its end to the question's name, with the lowest TTL
 *     along the chain. Cilium does not give the addresses to the CNAME targets (cilium/cilium
 *     #30588, #20191); `learnCnameTargets` does, for users who want that model instead.
 *  2. TTL: each (name, IP) expires `max(ttl, minTtl)` seconds after the answer's capture time
 *     (`--fqdn-min-ttl`, Cilium's `--tofqdns-min-ttl`; hubcap's default 3600 s is the value of
 *     Cilium releases before 1.15, newer releases default to 0 and keep IPs of live connections
 *     as "zombies", which hubcap does not model). A later answer only extends an IP's expiry,
 *     never shortens it (updateWithEntryIPs keeps the latest-expiring entry per name and IP).
 *  3. Expiry: an entry is live while `now <= expires` (cacheEntry.isExpiredBy is After); `advance`
 *     removes what expired before `now` and reports each removal. Cilium does this in its periodic
 *     GC; hubcap does it exactly when the capture clock passes the expiry.
 *  4. Bounds: at most `maxIpsPerName` IPs per name (`--tofqdns-endpoint-max-ip-per-hostname`,
 *     default 1000 in current Cilium, pkg/defaults ToFQDNsMaxIPsPerHost) and at most `maxEntries`
 *     (name, IP) pairs in total (hubcap's memory bound). Over a bound, the entries that expire
 *     first are removed (cleanupOverLimitEntries sorts by ExpirationTime), ties broken by the
 *     order they were learned, oldest first, so eviction is deterministic. Cilium trims a name at
 *     its next GC; hubcap trims at once.
 *
 * Names are canonical: lowercased with the trailing dot. Times are seconds (fractional) on the
 * capture clock. Every mutation returns the (name, IP) pairs it added or removed, in a fixed
 * order, so the agent can update identities, the ipcache and policy maps incrementally.
 */
import { extractMsgDetails, DnsRcode, type DnsMessage } from './dns.js';
import { canonicalDnsName, type DnsNameMatcher } from './dns-rules.js';
import { formatIp, parseIp } from '../net/addr.js';

/** pkg/defaults ToFQDNsMaxIPsPerHost (Cilium 1.15+; 50 before). */
export const DEFAULT_MAX_IPS_PER_NAME = 1000;
/** design.md §3 `--fqdn-min-ttl`. */
export const DEFAULT_FQDN_MIN_TTL = 3600;
export const DEFAULT_MAX_FQDN_ENTRIES = 1_000_000;

export interface FqdnCacheOptions {
  /** Seconds; TTLs below are raised to it. */
  minTtl?: number;
  maxIpsPerName?: number;
  maxEntries?: number;
}

export type FqdnChangeReason = 'learned' | 'expired' | 'evicted';

export interface FqdnCacheChange {
  kind: 'add' | 'remove';
  reason: FqdnChangeReason;
  /** Canonical name. */
  name: string;
  /** Canonical address text (dotted quad, RFC 5952). */
  ip: string;
  /** For 'add': when the pair expires (seconds, capture clock). */
  expires: number;
}

interface Entry {
  name: string;
  ip: string;
  lookup: number;
  expires: number;
  /** Learning order, for deterministic tie-breaks. */
  seq: number;
}

/** Binary min-heap of entries by (expires, seq), with lazy deletion (an item is stale when the entry moved on). */
class ExpiryHeap {
  private items: Array<{ entry: Entry; expires: number; seq: number }> = [];

  get size(): number {
    return this.items.length;
  }

  push(entry: Entry): void {
    const items = this.items;
    items.push({ entry, expires: entry.expires, seq: entry.seq });
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(items[i]!, items[p]!)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }

  peek(): { entry: Entry; expires: number; seq: number } | undefined {
    return this.items[0];
  }

  pop(): void {
    const items = this.items;
    const last = items.pop()!;
    if (items.length === 0) return;
    items[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && less(items[l]!, items[m]!)) m = l;
      if (r < items.length && less(items[r]!, items[m]!)) m = r;
      if (m === i) break;
      [items[i], items[m]] = [items[m]!, items[i]!];
      i = m;
    }
  }

  /** Drops stale items (keeps the heap within a constant factor of the live entries). */
  rebuild(live: Iterable<Entry>): void {
    this.items = [];
    for (const e of live) this.push(e);
  }
}

function less(a: { expires: number; seq: number }, b: { expires: number; seq: number }): boolean {
  return a.expires < b.expires || (a.expires === b.expires && a.seq < b.seq);
}

function isCurrent(item: { entry: Entry; expires: number; seq: number }, forward: Map<string, Map<string, Entry>>): boolean {
  const e = forward.get(item.entry.name)?.get(item.entry.ip);
  return e === item.entry && e.expires === item.expires && e.seq === item.seq;
}

/** Canonical text of an address, or undefined when it is not one. */
export function canonicalIp(text: string): string | undefined {
  const ip = parseIp(text);
  return ip ? formatIp(ip.words, ip.family) : undefined;
}

export class FqdnCache {
  readonly minTtl: number;
  readonly maxIpsPerName: number;
  readonly maxEntries: number;
  /** name -> ip -> entry (DNSCache.forward). */
  private readonly forward = new Map<string, Map<string, Entry>>();
  /** ip -> names (DNSCache.reverse). */
  private readonly reverse = new Map<string, Set<string>>();
  private readonly heap = new ExpiryHeap();
  private count = 0;
  private seq = 0;
  /** Latest time passed to `advance` or `learn`. */
  private clock = -Infinity;

  constructor(options: FqdnCacheOptions = {}) {
    this.minTtl = options.minTtl ?? DEFAULT_FQDN_MIN_TTL;
    this.maxIpsPerName = options.maxIpsPerName ?? DEFAULT_MAX_IPS_PER_NAME;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_FQDN_ENTRIES;
    for (const [k, v] of [
      ['minTtl', this.minTtl],
      ['maxIpsPerName', this.maxIpsPerName],
      ['maxEntries', this.maxEntries],
    ] as const) {
      if (!Number.isFinite(v) || v < 0 || (k !== 'minTtl' && v < 1)) throw new RangeError(`fqdn cache: ${k} ${v} is out of range`);
    }
  }

  /** (name, IP) pairs held. */
  get size(): number {
    return this.count;
  }

  get nameCount(): number {
    return this.forward.size;
  }

  /**
   * DNSCache.Update: `ips` answered for `name` at `now` (seconds) with `ttl` seconds. Expired
   * entries are removed first (their removals come first in the result).
   */
  learn(name: string, ips: readonly string[], ttl: number, now: number): FqdnCacheChange[] {
    const out = this.advance(now);
    const key = canonicalDnsName(name);
    const effective = Math.max(Number.isFinite(ttl) ? ttl : 0, this.minTtl);
    const expires = now + effective;
    let entries = this.forward.get(key);
    for (const text of ips) {
      const ip = canonicalIp(text);
      if (ip === undefined) continue;
      if (!entries) {
        entries = new Map();
        this.forward.set(key, entries);
      }
      const old = entries.get(ip);
      if (old && old.expires >= expires) continue;
      const entry: Entry = { name: key, ip, lookup: now, expires, seq: this.seq++ };
      entries.set(ip, entry);
      this.heap.push(entry);
      if (!old) {
        this.count++;
        let names = this.reverse.get(ip);
        if (!names) this.reverse.set(ip, (names = new Set()));
        names.add(key);
        out.push({ kind: 'add', reason: 'learned', name: key, ip, expires });
      }
    }
    if (entries && entries.size > this.maxIpsPerName) this.trimName(key, entries, out);
    while (this.count > this.maxEntries) this.evictEarliest(out);
    this.maybeCompact();
    return out;
  }

  /** Removes every pair that expired before `now` (DNSCache.GC), in expiry order. */
  advance(now: number): FqdnCacheChange[] {
    const out: FqdnCacheChange[] = [];
    if (now > this.clock) this.clock = now;
    for (;;) {
      const top = this.heap.peek();
      if (!top) break;
      if (!isCurrent(top, this.forward)) {
        this.heap.pop();
        continue;
      }
      if (!(top.expires < now)) break;
      this.heap.pop();
      this.remove(top.entry);
      out.push({ kind: 'remove', reason: 'expired', name: top.entry.name, ip: top.entry.ip, expires: top.entry.expires });
    }
    return out;
  }

  /** Live IPs of a name, sorted (DNSCache.Lookup). */
  lookup(name: string): string[] {
    const entries = this.forward.get(canonicalDnsName(name));
    return entries ? [...entries.keys()].sort(compareIpText) : [];
  }

  /** When the pair expires, or undefined. */
  expiresAt(name: string, ip: string): number | undefined {
    const c = canonicalIp(ip);
    return c === undefined ? undefined : this.forward.get(canonicalDnsName(name))?.get(c)?.expires;
  }

  /** Names that point at this IP now, sorted (DNSCache.LookupIP). */
  namesOf(ip: string): string[] {
    const c = canonicalIp(ip);
    const names = c === undefined ? undefined : this.reverse.get(c);
    return names ? [...names].sort() : [];
  }

  /** Names matching a selector with their IPs (DNSCache.LookupByRegexp), names sorted. */
  lookupMatching(matcher: DnsNameMatcher): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const name of [...this.forward.keys()].sort()) {
      if (matcher.matchesCanonical(name)) out.set(name, this.lookup(name));
    }
    return out;
  }

  /** Every live name, sorted. */
  names(): string[] {
    return [...this.forward.keys()].sort();
  }

  private remove(entry: Entry): void {
    const entries = this.forward.get(entry.name);
    if (!entries || entries.get(entry.ip) !== entry) return;
    entries.delete(entry.ip);
    if (entries.size === 0) this.forward.delete(entry.name);
    const names = this.reverse.get(entry.ip);
    if (names) {
      names.delete(entry.name);
      if (names.size === 0) this.reverse.delete(entry.ip);
    }
    this.count--;
  }

  /** cleanupOverLimitEntries for one name: drop the earliest-expiring IPs (ties: learned first). */
  private trimName(name: string, entries: Map<string, Entry>, out: FqdnCacheChange[]): void {
    const sorted = [...entries.values()].sort((a, b) => a.expires - b.expires || a.seq - b.seq);
    const over = entries.size - this.maxIpsPerName;
    for (let i = 0; i < over; i++) {
      const e = sorted[i]!;
      this.remove(e);
      if (!removeAdd(out, name, e.ip)) out.push({ kind: 'remove', reason: 'evicted', name, ip: e.ip, expires: e.expires });
    }
  }

  private evictEarliest(out: FqdnCacheChange[]): void {
    for (;;) {
      const top = this.heap.peek();
      if (!top) return;
      this.heap.pop();
      if (!isCurrent(top, this.forward)) continue;
      this.remove(top.entry);
      if (!removeAdd(out, top.entry.name, top.entry.ip)) {
        out.push({ kind: 'remove', reason: 'evicted', name: top.entry.name, ip: top.entry.ip, expires: top.entry.expires });
      }
      return;
    }
  }

  private maybeCompact(): void {
    if (this.heap.size > 2 * this.count + 64) {
      const live: Entry[] = [];
      for (const entries of this.forward.values()) for (const e of entries.values()) live.push(e);
      this.heap.rebuild(live);
    }
  }
}

/**
 * A pair learned and evicted in the same call is reported as neither (the caller never saw it);
 * returns true when an 'add' was withdrawn.
 */
function removeAdd(out: FqdnCacheChange[], name: string, ip: string): boolean {
  for (let i = out.length - 1; i >= 0; i--) {
    const c = out[i]!;
    if (c.kind === 'add' && c.name === name && c.ip === ip) {
      out.splice(i, 1);
      return true;
    }
  }
  return false;
}

function compareIpText(a: string, b: string): number {
  const fa = a.includes(':') ? 6 : 4;
  const fb = b.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  const pa = parseIp(a)!;
  const pb = parseIp(b)!;
  for (let i = 0; i < 4; i++) if (pa.words[i] !== pb.words[i]) return pa.words[i]! < pb.words[i]! ? -1 : 1;
  return 0;
}

export interface LearnOptions {
  /** Also give the addresses to every CNAME target in the chain (not what Cilium does; see 1.). */
  learnCnameTargets?: boolean;
}

export type LearnResult =
  | { learned: true; name: string; ips: string[]; ttl: number; changes: FqdnCacheChange[] }
  | { learned: false; why: 'refused' | 'not-a-response' | 'rcode' | 'no-addresses' | 'malformed'; changes: FqdnCacheChange[]; error?: string };

/**
 * NotifyOnDNSMsg's learning step for one DNS response: `queryAllowed` is the proxy's verdict on
 * the query this answers. Expired pairs are removed first in every case (their removals lead
 * `changes`), so the caller can feed every response through here.
 */
export function learnFromResponse(cache: FqdnCache, msg: DnsMessage, queryAllowed: boolean, now: number, options: LearnOptions = {}): LearnResult {
  const expired = cache.advance(now);
  if (!queryAllowed) return { learned: false, why: 'refused', changes: expired };
  if (!msg.qr) return { learned: false, why: 'not-a-response', changes: expired };
  const details = extractMsgDetails(msg);
  if (!details.ok) return { learned: false, why: 'malformed', error: details.error, changes: expired };
  const d = details.details;
  if (msg.rcode !== DnsRcode.NOERROR) return { learned: false, why: 'rcode', changes: expired };
  if (d.ips.length === 0) return { learned: false, why: 'no-addresses', changes: expired };
  const changes = expired.concat(cache.learn(d.qname, d.ips, d.ttl, now));
  if (options.learnCnameTargets) for (const target of d.cnames) changes.push(...cache.learn(target, d.ips, d.ttl, now));
  return { learned: true, name: d.qname, ips: d.ips, ttl: d.ttl, changes };
}
