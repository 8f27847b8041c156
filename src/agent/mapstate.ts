/**
 * The desired policy-map state of one endpoint, built entry by entry.
 *
 * Mirrors: pkg/policy/mapstate.go (insertWithChanges, addKeyWithChanges, the deny-preferred
 * insertion). The datapath's two lookups (bpf/lib/policy.h) only arbitrate between an entry for
 * the peer identity and an entry for identity 0; precedence among keys of the SAME identity
 * (a broad deny versus a narrower allow) must be settled here, in userspace:
 *
 *   1. A deny is not inserted when a broader-or-equal deny (same identity, or identity 0) covers it.
 *   2. A deny deletes every narrower-or-equal key (same identity, or any identity when the deny is
 *      for identity 0) except itself.
 *   3. An allow is not inserted when a broader-or-equal key (same identity, or identity 0) is a
 *      deny or has a higher proxy port priority.
 *   4. An allow with a proxy port priority deletes narrower-or-equal allows of lower priority.
 *   5. Equal keys merge: a deny overwrites an allow; two allows keep the higher proxy priority,
 *      the stronger auth type, and the union of the rules they came from.
 *
 * The result does not depend on insertion order, which is what makes `maps dump` deterministic.
 */

export interface MapStateKey {
  identity: number;
  /** 0 ingress, 1 egress. */
  direction: number;
  /** 0 = any. */
  protocol: number;
  /** Port (masked to prefixLen). */
  port: number;
  /** 0..24, see design.md §4. */
  prefixLen: number;
}

export interface MapStateEntry extends MapStateKey {
  deny: boolean;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  /** Rule indexes (into the document's rule table) this entry came from, ascending. */
  derivedFrom: number[];
}

/** Bits of the protocol/port field that a prefix length keeps: protocol 8 bits, then port 16. */
function portMask(prefixLen: number): number {
  if (prefixLen <= 8) return 0;
  return (0xffff << (24 - prefixLen)) & 0xffff;
}

/** True when key `a`'s protocol/port prefix covers (is broader than or equal to) key `b`'s. */
export function portProtoCovers(a: MapStateKey, b: MapStateKey): boolean {
  if (a.prefixLen > b.prefixLen) return false;
  if (a.prefixLen === 0) return true;
  if (a.protocol !== b.protocol) return false;
  const mask = portMask(a.prefixLen);
  return (a.port & mask) === (b.port & mask);
}

/** Numeric slot of a protocol/port prefix within one (identity, direction): prefix, proto, masked port. */
function slotOf(prefixLen: number, protocol: number, port: number): number {
  if (prefixLen === 0) return 0;
  return prefixLen * 0x1000000 + protocol * 0x10000 + (port & portMask(prefixLen));
}

/** Prefix lengths a key can have: any (0), protocol only (8), protocol and 1..16 port bits. */
const PREFIX_LENGTHS = [0, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];

type Slots = Map<number, MapStateEntry>;

export class MapState {
  /** direction -> identity -> slot -> entry. */
  private readonly byDirection: [Map<number, Slots>, Map<number, Slots>] = [new Map(), new Map()];
  private count = 0;

  get(key: MapStateKey): MapStateEntry | undefined {
    return this.byDirection[key.direction]!.get(key.identity)?.get(slotOf(key.prefixLen, key.protocol, key.port));
  }

  private put(entry: MapStateEntry): void {
    const byIdentity = this.byDirection[entry.direction]!;
    let slots = byIdentity.get(entry.identity);
    if (!slots) {
      slots = new Map();
      byIdentity.set(entry.identity, slots);
    }
    const slot = slotOf(entry.prefixLen, entry.protocol, entry.port);
    if (!slots.has(slot)) this.count++;
    slots.set(slot, entry);
  }

  private remove(entry: MapStateKey): void {
    const byIdentity = this.byDirection[entry.direction]!;
    const slots = byIdentity.get(entry.identity);
    if (!slots) return;
    if (slots.delete(slotOf(entry.prefixLen, entry.protocol, entry.port))) this.count--;
    if (slots.size === 0) byIdentity.delete(entry.identity);
  }

  /**
   * Keys of the same direction whose identity is the key's or 0 and whose prefix covers it:
   * one direct probe per shorter-or-equal prefix length instead of a scan.
   */
  private broaderOrEqual(key: MapStateKey, visit: (e: MapStateEntry) => boolean): void {
    const byIdentity = this.byDirection[key.direction]!;
    for (let pass = 0; pass < 2; pass++) {
      const id = pass === 0 ? key.identity : 0;
      if (pass === 1 && key.identity === 0) break;
      const slots = byIdentity.get(id);
      if (!slots) continue;
      for (const len of PREFIX_LENGTHS) {
        if (len > key.prefixLen) break;
        const e = slots.get(slotOf(len, key.protocol, key.port));
        if (e && visit(e)) return;
      }
    }
  }

  /** Keys covered by `key`: same identity, or every identity when `key` is for identity 0. */
  private narrowerOrEqual(key: MapStateKey): MapStateEntry[] {
    const byIdentity = this.byDirection[key.direction]!;
    const out: MapStateEntry[] = [];
    const visit = (slots: Slots | undefined): void => {
      if (!slots) return;
      for (const entry of slots.values()) if (portProtoCovers(key, entry)) out.push(entry);
    };
    if (key.identity === 0) for (const slots of byIdentity.values()) visit(slots);
    else visit(byIdentity.get(key.identity));
    return out;
  }

  /** Inserts `entry`, which the map then owns (it may keep and later mutate it). */
  insert(entry: MapStateEntry): void {
    if (entry.deny) {
      // (1) covered by another deny: nothing to add.
      let covered = false;
      this.broaderOrEqual(entry, (other) => (covered = other.deny && !sameKey(other, entry)));
      if (covered) return;
      // (2) delete covered keys with a different key; an equal key is left for (5).
      for (const other of this.narrowerOrEqual(entry)) {
        if (!sameKey(other, entry)) this.remove(other);
      }
    } else {
      // (3) covered by a deny, or by a key of higher proxy port priority.
      let covered = false;
      this.broaderOrEqual(entry, (other) => (covered = other.deny || other.proxyPortPriority > entry.proxyPortPriority));
      if (covered) return;
      // (4) a redirect removes narrower allows of lower priority.
      if (entry.proxyPortPriority > 0) {
        for (const other of this.narrowerOrEqual(entry)) {
          if (!other.deny && other.proxyPortPriority < entry.proxyPortPriority && !sameKey(other, entry)) {
            this.remove(other);
          }
        }
      }
    }
    this.addOrMerge(entry);
  }

  /** (5) mapstate.go addKeyWithChanges. */
  private addOrMerge(entry: MapStateEntry): void {
    const old = this.get(entry);
    if (!old || (entry.deny && !old.deny)) {
      // The map takes ownership of inserted entries (callers build a fresh one per insert).
      this.put(entry);
      return;
    }
    if (old.deny && !entry.deny) return;
    if (!old.deny) {
      if (entry.proxyPortPriority > old.proxyPortPriority) {
        old.proxyPort = entry.proxyPort;
        old.proxyPortPriority = entry.proxyPortPriority;
      }
      // An explicit auth type beats a derived one; between equals the greater type wins.
      if (entry.hasExplicitAuthType && !old.hasExplicitAuthType) {
        old.authType = entry.authType;
        old.hasExplicitAuthType = true;
      } else if (entry.hasExplicitAuthType === old.hasExplicitAuthType && entry.authType > old.authType) {
        old.authType = entry.authType;
      }
    }
    for (const r of entry.derivedFrom) {
      if (!old.derivedFrom.includes(r)) {
        old.derivedFrom.push(r);
        old.derivedFrom.sort((a, b) => a - b);
      }
    }
  }

  /** Entries in the order `cilium bpf policy get` lists them: direction, identity, proto, port, prefix. */
  entries(): MapStateEntry[] {
    const out: MapStateEntry[] = [];
    for (const byIdentity of this.byDirection) for (const slots of byIdentity.values()) for (const e of slots.values()) out.push(e);
    out.sort(
      (a, b) =>
        a.direction - b.direction ||
        a.identity - b.identity ||
        a.protocol - b.protocol ||
        a.port - b.port ||
        a.prefixLen - b.prefixLen,
    );
    return out;
  }

  get size(): number {
    return this.count;
  }
}

function sameKey(a: MapStateKey, b: MapStateKey): boolean {
  return (
    a.identity === b.identity &&
    a.direction === b.direction &&
    a.protocol === b.protocol &&
    a.port === b.port &&
    a.prefixLen === b.prefixLen
  );
}
