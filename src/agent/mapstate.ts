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
  /** Rule indexes (into the document's rule table) this entry came from. */
  derivedFrom: Set<number>;
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

function slotKey(k: MapStateKey): string {
  return `${k.protocol}/${k.port}/${k.prefixLen}`;
}

export class MapState {
  /** direction -> identity -> proto/port slot -> entry. */
  private readonly byDirection: [Map<number, Map<string, MapStateEntry>>, Map<number, Map<string, MapStateEntry>>] = [
    new Map(),
    new Map(),
  ];

  get(key: MapStateKey): MapStateEntry | undefined {
    return this.byDirection[key.direction]!.get(key.identity)?.get(slotKey(key));
  }

  private put(entry: MapStateEntry): void {
    const byIdentity = this.byDirection[entry.direction]!;
    let slots = byIdentity.get(entry.identity);
    if (!slots) {
      slots = new Map();
      byIdentity.set(entry.identity, slots);
    }
    slots.set(slotKey(entry), entry);
  }

  private remove(entry: MapStateKey): void {
    const byIdentity = this.byDirection[entry.direction]!;
    const slots = byIdentity.get(entry.identity);
    if (!slots) return;
    slots.delete(slotKey(entry));
    if (slots.size === 0) byIdentity.delete(entry.identity);
  }

  /** Keys of the same direction whose identity is the key's or 0 and whose prefix covers it. */
  private *broaderOrEqual(key: MapStateKey): Generator<MapStateEntry> {
    const byIdentity = this.byDirection[key.direction]!;
    const identities = key.identity === 0 ? [0] : [key.identity, 0];
    for (const id of identities) {
      const slots = byIdentity.get(id);
      if (!slots) continue;
      for (const entry of slots.values()) if (portProtoCovers(entry, key)) yield entry;
    }
  }

  /** Keys covered by `key`: same identity, or every identity when `key` is for identity 0. */
  private narrowerOrEqual(key: MapStateKey): MapStateEntry[] {
    const byIdentity = this.byDirection[key.direction]!;
    const out: MapStateEntry[] = [];
    const visit = (slots: Map<string, MapStateEntry> | undefined): void => {
      if (!slots) return;
      for (const entry of slots.values()) if (portProtoCovers(key, entry)) out.push(entry);
    };
    if (key.identity === 0) for (const slots of byIdentity.values()) visit(slots);
    else visit(byIdentity.get(key.identity));
    return out;
  }

  insert(entry: MapStateEntry): void {
    if (entry.deny) {
      // (1) covered by another deny: nothing to add.
      for (const other of this.broaderOrEqual(entry)) {
        if (other.deny && !sameKey(other, entry)) return;
      }
      // (2) delete covered keys with a different key (allows and denies alike).
      // An equal key is left for (5), where a deny overwrites an allow.
      for (const other of this.narrowerOrEqual(entry)) {
        if (!sameKey(other, entry)) this.remove(other);
      }
    } else {
      // (3) covered by a deny, or by a key of higher proxy port priority.
      for (const other of this.broaderOrEqual(entry)) {
        if (other.deny || other.proxyPortPriority > entry.proxyPortPriority) return;
      }
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
    if (!old) {
      this.put({ ...entry, derivedFrom: new Set(entry.derivedFrom) });
      return;
    }
    if (entry.deny && !old.deny) {
      this.put({ ...entry, derivedFrom: new Set(entry.derivedFrom) });
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
    for (const r of entry.derivedFrom) old.derivedFrom.add(r);
  }

  /** Entries in the order `cilium bpf policy get` lists them: direction, identity, proto, port, prefix. */
  entries(): MapStateEntry[] {
    const out: MapStateEntry[] = [];
    for (const byIdentity of this.byDirection) for (const slots of byIdentity.values()) out.push(...slots.values());
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
    let n = 0;
    for (const byIdentity of this.byDirection) for (const slots of byIdentity.values()) n += slots.size;
    return n;
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
