/**
 * The per-endpoint policy map and its two-lookup verdict.
 *
 * Mirrors: bpf/lib/policy.h (`struct policy_key`, `struct policy_entry`, `__policy_can_access`,
 * `__policy_check`) and pkg/maps/policymap (the userspace side that writes it), plus
 * pkg/policy/types/port_range.go (`PortRangeToMaskedPorts`).
 *
 * Kernel layout (BPF_MAP_TYPE_LPM_TRIE, max_entries = bpf-policy-map-max, 16384 by default):
 *
 *   struct policy_key {            // the LPM key, compared bit by bit from sec_label on
 *     bpf_lpm_trie_key lpm_key;    // prefixlen: 32 + 8 + P, P = proto/port prefix (below)
 *     __u32 sec_label;             // remote identity, 0 = any peer (host byte order)
 *     __u8  egress:1, pad:7;       // direction: ingress 0, egress 1
 *     __u8  protocol;              // 0 = any; wildcarded only together with the whole port
 *     __be16 dport;                // network byte order, so a prefix keeps its high bits
 *   };
 *   struct policy_entry {
 *     __be16 proxy_port;           // > 0: redirect to the L7 proxy listening there
 *     __u8  deny:1, reserved:2, lpm_prefix_length:5;   // P again, read by the lookup
 *     __u8  auth_type:7, has_explicit_auth_type:1;
 *     __u8  proxy_port_priority;   // numerically higher wins between the two lookups
 *     __u8  pad1; __u16 pad2;
 *     __u32 cookie;                // the agent puts a provenance index here
 *   };
 *
 * P (`prefixLen` here, 0..24) counts the protocol and port bits that are significant:
 *   0 = any protocol and port; 8 = protocol only; 9..23 = protocol and the top P-8 port bits;
 *   24 = protocol and exact port. 1..7 cannot occur: a protocol is never partially wildcarded.
 * Identity and direction are always exact, so the kernel needs a second lookup with
 * sec_label = 0 for "any peer" entries; policy.h explains this at the struct.
 *
 * Semantics the native backend must reproduce exactly:
 *  - Key bits beyond the prefix are ignored, as the kernel's LPM trie ignores them: set/get/delete
 *    mask the port to the prefix and zero the protocol when P < 8; entries report masked keys.
 *  - `set` of an existing key replaces the entry in place; a new key when `size === capacity`
 *    fails, returns false and counts one overflow (the kernel's update returns -E2BIG/-ENOSPC
 *    and Cilium fails the endpoint's regeneration; hubcap reports it).
 *  - `lookup` is `__policy_can_access` without the ICMP and fragment parts that need the packet
 *    (the datapath puts the ICMP type into `dport` and handles "fragmentation needed" itself);
 *    its precedence is the numbered list at `lookup`. A miss fills PolicyVerdict with
 *    matchType NONE, cookie 0, slot -1. Lookup arguments are not validated (hot path): the
 *    identity is taken as a u32, protocol and port by their low 8 and 16 bits.
 *  - `entries()` is ordered by (direction, identity, protocol, port, prefixLen), masked keys.
 *  - `delete` removes exactly one key, never a covering or covered one.
 *
 * TS layout: entries live in growable records of ENTRY int32 words indexed by slot (key word,
 * identity, cookie, value, priority, list links): an array of structs, not of arrays, since a
 * replay reads one entry of one of a thousand endpoints' maps, cold, and each of its fields from
 * a separate array cost a cache miss of its own. A KeyTable maps (identity, packed key word) ->
 * slot for exact access; per direction, another maps identity -> group. A group is one
 * (identity, direction): a record with a 25-bit mask of the prefix lengths present, its entry
 * count and the head of the linked list of its entries, and a count per length. A lookup finds
 * the group (one probe; the any-peer groups are cached), then scans a small group's entries, or
 * probes a large group once per prefix length present, longest first. Nothing is allocated per
 * lookup.
 */

import {
  CTX_ACT_OK as CTX_ACT_OKBinding,
  DROP_FRAG_NOSUPPORT as DROP_FRAG_NOSUPPORTBinding,
  DROP_POLICY as DROP_POLICYBinding,
  DROP_POLICY_AUTH_REQUIRED as DROP_POLICY_AUTH_REQUIREDBinding,
  DROP_POLICY_DENY as DROP_POLICY_DENYBinding,
  POLICY_MATCH_ALL as POLICY_MATCH_ALLBinding,
  POLICY_MATCH_L3_L4 as POLICY_MATCH_L3_L4Binding,
  POLICY_MATCH_L3_ONLY as POLICY_MATCH_L3_ONLYBinding,
  POLICY_MATCH_L3_PROTO as POLICY_MATCH_L3_PROTOBinding,
  POLICY_MATCH_L4_ONLY as POLICY_MATCH_L4_ONLYBinding,
  POLICY_MATCH_PROTO_ONLY as POLICY_MATCH_PROTO_ONLYBinding,
} from './codes.js';
import { KeyTable, SlotAllocator, ensureLength } from './key-table.js';

// Imported bindings used on the packet path, as module constants: optimized code loads an
// imported binding from its cell and checks it for the hole at every use, while a module's own
// const folds to the value itself, enum members included (see v8-tuning.ts).
const CTX_ACT_OK = CTX_ACT_OKBinding;
const DROP_FRAG_NOSUPPORT = DROP_FRAG_NOSUPPORTBinding;
const DROP_POLICY = DROP_POLICYBinding;
const DROP_POLICY_AUTH_REQUIRED = DROP_POLICY_AUTH_REQUIREDBinding;
const DROP_POLICY_DENY = DROP_POLICY_DENYBinding;
const POLICY_MATCH_ALL = POLICY_MATCH_ALLBinding;
const POLICY_MATCH_L3_L4 = POLICY_MATCH_L3_L4Binding;
const POLICY_MATCH_L3_ONLY = POLICY_MATCH_L3_ONLYBinding;
const POLICY_MATCH_L3_PROTO = POLICY_MATCH_L3_PROTOBinding;
const POLICY_MATCH_L4_ONLY = POLICY_MATCH_L4_ONLYBinding;
const POLICY_MATCH_PROTO_ONLY = POLICY_MATCH_PROTO_ONLYBinding;

export const Direction = { INGRESS: 0, EGRESS: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** Cilium's `--bpf-policy-map-max` default. */
export const DEFAULT_POLICY_MAP_CAPACITY = 16384;

/** policy.h LPM_PROTO_PREFIX_BITS: protocol specified, port wildcarded. */
export const LPM_PROTO_PREFIX_BITS = 8;
/** policy.h LPM_FULL_PREFIX_BITS: protocol and exact port. */
export const LPM_FULL_PREFIX_BITS = 24;
/** Static bits of the kernel key before protocol: sec_label (32) + egress byte (8). */
export const POLICY_KEY_STATIC_PREFIX = 40;

// LPM_PROTO_PREFIX_BITS as a module-local const for the lookup (an exported binding is a cell
// that optimized code hole-checks at every use; see datapath/v8-tuning.ts).
const PROTO_PREFIX_BITS = LPM_PROTO_PREFIX_BITS;

export interface PolicyEntry {
  /** Remote identity; 0 = any peer. */
  identity: number;
  direction: 0 | 1;
  /** IP protocol; 0 = any (only with prefixLen 0). */
  protocol: number;
  /** Destination port (or ICMP type for protocol 1/58), masked to the prefix. */
  port: number;
  /** 0 | 8..24: the protocol/port bits that count (the kernel key's prefixlen is 40 + this). */
  prefixLen: number;
  deny: boolean;
  proxyPort: number;
  proxyPortPriority: number;
  /** 0..127. */
  authType: number;
  hasExplicitAuthType: boolean;
  /** u32; the agent stores a provenance index. */
  cookie: number;
}

/** Out-record of `PolicyMap.lookup`, reused per packet. */
export class PolicyVerdict {
  /** < 0 drop code, 0 allow, > 0 proxy port (redirect). */
  verdict = 0;
  /** POLICY_MATCH_*; NONE when nothing matched. */
  matchType = 0;
  /** Cookie of the chosen entry (set on deny too); 0 on a miss. */
  cookie = 0;
  /** The effective auth type when the verdict is DROP_POLICY_AUTH_REQUIRED (the ext_err), else 0. */
  authType = 0;
  /** Proto/port prefix length of the chosen entry. */
  prefixLen = 0;
  /** Identity of the chosen entry: the peer (L3 match) or 0 (L4-only match). */
  matchedIdentity = 0;
  /** Proxy port of the chosen entry when it was read (allow or auth-required), else 0. */
  proxyPort = 0;
  /** Slot of the chosen entry (see `PolicyMap.entryAt`), -1 on a miss. */
  slot = -1;

  reset(): void {
    this.verdict = 0;
    this.matchType = 0;
    this.cookie = 0;
    this.authType = 0;
    this.prefixLen = 0;
    this.matchedIdentity = 0;
    this.proxyPort = 0;
    this.slot = -1;
  }
}

/** Port mask for a proto/port prefix length (index 0..24). */
const PORT_MASK = new Uint16Array(25);
for (let p = 0; p <= 24; p++) PORT_MASK[p] = p <= 8 ? 0 : (0xffff << (24 - p)) & 0xffff;

/** Groups with at most this many entries are scanned instead of probed per prefix length. */
const SCAN_MAX = 8;

const FLAG_DENY = 1;
const FLAG_EXPLICIT_AUTH = 2;

/** Entry record: ENTRY int32 words per slot. */
const ENTRY = 8;
/** The key word (keyWord), as int32. */
const E_KEY = 0;
/** Remote identity, as int32 (read back as u32). */
const E_IDENTITY = 1;
/** Cookie, as int32 (read back as u32). */
const E_COOKIE = 2;
/** Proxy port (bits 0..15), FLAG_* (16..17), auth type (24..30). */
const E_VALUE = 3;
const E_PRIO = 4;
/** The group's doubly linked list of entries (-1 ends it). */
const E_NEXT = 5;
const E_PREV = 6;

/** Group record: GROUP int32 words per group: prefix lengths present (bit p), entries, list head. */
const GROUP = 4;
const G_MASK = 0;
const G_SIZE = 1;
const G_HEAD = 2;
/** Valid prefix lengths as a bit set: 0 and 8..24. */
const VALID_PREFIXES = (1 | (0x1ffff << 8)) >>> 0;

function isValidPrefix(p: number): boolean {
  return Number.isInteger(p) && p >= 0 && p <= 24 && ((VALID_PREFIXES >>> p) & 1) === 1;
}

/**
 * The second key word: direction (bit 31), prefix length (bits 24..28), protocol (16..23) and
 * masked port (0..15), with bits beyond the prefix cleared.
 */
function keyWord(direction: number, prefixLen: number, protocol: number, port: number): number {
  const proto = prefixLen >= PROTO_PREFIX_BITS ? protocol & 0xff : 0;
  return ((direction << 31) | (prefixLen << 24) | (proto << 16) | (port & PORT_MASK[prefixLen]!)) >>> 0;
}

/** @internal Argument checks shared with the native backend (same RangeErrors). */
export function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`policy map: ${name} ${v} is not a u32`);
}
/**
 * @internal The checks of an entry `set` takes, on both backends: the key, then the value's
 * fields within their widths in the map value (proxy port 16 bits, priority 8, auth type 7,
 * cookie 32).
 */
export function checkEntry(entry: PolicyEntry): void {
  checkKey(entry.identity, entry.direction, entry.protocol, entry.port, entry.prefixLen);
  checkRange('proxy port', entry.proxyPort, 0xffff);
  checkRange('proxy port priority', entry.proxyPortPriority, 0xff);
  checkRange('auth type', entry.authType, 0x7f);
  checkU32('cookie', entry.cookie);
}
/** @internal */
export function checkRange(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`policy map: ${name} ${v} is outside 0..${max}`);
}

/** @internal */
export function checkKey(identity: number, direction: number, protocol: number, port: number, prefixLen: number): void {
  checkU32('identity', identity);
  if (direction !== 0 && direction !== 1) throw new RangeError(`policy map: direction ${direction} is not 0 or 1`);
  checkRange('protocol', protocol, 0xff);
  checkRange('port', port, 0xffff);
  if (!isValidPrefix(prefixLen)) throw new RangeError(`policy map: prefix length ${prefixLen} is not 0 or 8..24`);
}

export class PolicyMap {
  readonly capacity: number;
  /**
   * Called after every change of the entries (set, delete, clear): the datapath caches verdicts
   * per connection and must hear of changes (datapath/state.ts `generation`). Null: nobody listens.
   */
  onChange: (() => void) | null = null;
  private overflowCount = 0;

  /** (identity, keyWord) -> slot. */
  private readonly index = new KeyTable(2);
  /**
   * Per direction, identity -> group. Fields of the map itself (not an array of two), as the
   * any-peer groups below: a replay's lookups find the maps cold, and every object between the
   * map and its entries is one more dependent cache miss (an array and a typed array here cost
   * ~0.2 us per lookup in the benchmark replay).
   */
  private readonly ingressGroups = new KeyTable(1);
  private readonly egressGroups = new KeyTable(1);
  private readonly slots = new SlotAllocator();
  private readonly groupSlots = new SlotAllocator();

  /** Entries, ENTRY words per slot. */
  private ent = new Int32Array(8 * ENTRY);
  /** Groups, GROUP words per group, and an entry count per prefix length (25 per group). */
  private grp = new Int32Array(8 * GROUP);
  private gCounts = new Int32Array(8 * 25);
  /** The group of identity 0 (any peer) per direction, or -1: the second lookup skips its probe. */
  private anyPeerIngress = -1;
  private anyPeerEgress = -1;

  constructor(capacity: number = DEFAULT_POLICY_MAP_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 26) {
      throw new RangeError(`policy map: capacity ${capacity} is outside 1..${1 << 26}`);
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this.index.size;
  }

  /** New keys refused because the map was full, since construction or `clear()`. */
  get overflow(): number {
    return this.overflowCount;
  }

  clear(): void {
    this.index.clear();
    this.ingressGroups.clear();
    this.egressGroups.clear();
    this.slots.clear();
    this.groupSlots.clear();
    this.anyPeerIngress = -1;
    this.anyPeerEgress = -1;
    this.overflowCount = 0;
    this.onChange?.();
  }

  /** Upsert; false (and overflow counter++) when the map is full and the key is new. */
  set(entry: PolicyEntry): boolean {
    checkEntry(entry);
    const { identity, direction, protocol, port, prefixLen } = entry;
    const kw = keyWord(direction, prefixLen, protocol, port);
    let slot = this.index.get(identity, kw);
    if (slot < 0) {
      if (this.index.size >= this.capacity) {
        this.overflowCount++;
        return false;
      }
      slot = this.slots.alloc();
      this.growEntries(this.slots.used);
      this.index.set(slot, identity, kw);
      this.ent[slot * ENTRY + E_IDENTITY] = identity | 0;
      this.ent[slot * ENTRY + E_KEY] = kw | 0;
      this.addToGroup(slot, identity, direction, prefixLen);
    }
    const flags = (entry.deny ? FLAG_DENY : 0) | (entry.hasExplicitAuthType ? FLAG_EXPLICIT_AUTH : 0);
    const o = slot * ENTRY;
    this.ent[o + E_VALUE] = entry.proxyPort | (flags << 16) | (entry.authType << 24);
    this.ent[o + E_PRIO] = entry.proxyPortPriority;
    this.ent[o + E_COOKIE] = entry.cookie | 0;
    this.onChange?.();
    return true;
  }

  delete(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): boolean {
    checkKey(identity, direction, protocol, port, prefixLen);
    const slot = this.index.delete(identity, keyWord(direction, prefixLen, protocol, port));
    if (slot < 0) return false;
    this.slots.release(slot);
    this.removeFromGroup(slot, identity, direction, prefixLen);
    this.onChange?.();
    return true;
  }

  get(identity: number, direction: 0 | 1, protocol: number, port: number, prefixLen: number): PolicyEntry | undefined {
    checkKey(identity, direction, protocol, port, prefixLen);
    const slot = this.index.get(identity, keyWord(direction, prefixLen, protocol, port));
    return slot < 0 ? undefined : this.entryAt(slot);
  }

  /**
   * LPM lookup of one (identity, direction) over proto/port: the slot of the entry with the
   * longest prefix covering (protocol, port), or -1. This is one `map_lookup_elem` of policy.h.
   */
  lookupSlot(identity: number, direction: number, protocol: number, port: number): number {
    identity >>>= 0;
    return this.lookupInGroup(this.groupsOf(direction).get1(identity), identity, direction, protocol, port);
  }

  /**
   * The LPM lookup within group `g` (-1: no entries, a miss). A small group is scanned (every
   * entry whose masked key equals the probe's, the longest prefix wins); a large one is probed
   * once per prefix length present, longest first.
   */
  private lookupInGroup(g: number, identity: number, direction: number, protocol: number, port: number): number {
    if (g < 0) return -1;
    const hi = (direction << 31) | ((protocol & 0xff) << 16);
    // p === 0 is the any-protocol entry: protocol and port are not part of its key.
    const any = direction << 31;
    const grp = this.grp;
    if (grp[g * GROUP + G_SIZE]! <= SCAN_MAX) {
      // Key words compared as int32 (the direction bit is the sign).
      const ent = this.ent;
      let best = -1;
      let bestP = -1;
      for (let s = grp[g * GROUP + G_HEAD]!; s >= 0; s = ent[s * ENTRY + E_NEXT]!) {
        const kw = ent[s * ENTRY + E_KEY]!;
        const p = (kw >>> 24) & 0x1f;
        if (p > bestP && kw === (p >= PROTO_PREFIX_BITS ? hi | (p << 24) | (port & PORT_MASK[p]!) : any)) {
          best = s;
          bestP = p;
        }
      }
      return best;
    }
    let mask = grp[g * GROUP + G_MASK]!;
    while (mask !== 0) {
      const p = 31 - Math.clz32(mask);
      mask ^= 1 << p;
      const kw = p >= PROTO_PREFIX_BITS ? hi | (p << 24) | (port & PORT_MASK[p]!) : any;
      const slot = this.index.get2(identity, kw);
      if (slot >= 0) return slot;
    }
    return -1;
  }

  /** `lookupSlot` returning a fresh entry object (display and tests; allocates). */
  lookupExact(identity: number, direction: 0 | 1, protocol: number, port: number): PolicyEntry | undefined {
    const slot = this.lookupSlot(identity, direction, protocol, port);
    return slot < 0 ? undefined : this.entryAt(slot);
  }

  /**
   * `__policy_can_access` (bpf/lib/policy.h): the two lookups and `__policy_check`, filling `out`.
   * Returns `out.verdict`: < 0 drop code, 0 allow, > 0 proxy port.
   *
   * Precedence when both lookups hit (numbered as in policy.h):
   *  1. A deny is chosen: the L3 (peer) entry's deny wins at once, before the second lookup;
   *     then the L4-only (identity 0) entry's deny.
   *  2. The entry with the higher proxy port priority.
   *  3. On equal priority, the L4-only entry only with a strictly longer proto/port prefix.
   *  4. Otherwise the L3 entry.
   * Nothing matched: DROP_FRAG_NOSUPPORT for an untracked fragment, else DROP_POLICY.
   */
  lookup(remoteIdentity: number, direction: 0 | 1, protocol: number, dport: number, out: PolicyVerdict, isUntrackedFragment = false): number {
    out.reset();
    const l3 = this.lookupSlot(remoteIdentity, direction, protocol, dport);
    const ent = this.ent;
    // 1. An L3 deny is chosen without the second lookup.
    if (l3 >= 0 && (flagsOf(ent, l3) & FLAG_DENY) !== 0) return this.checkL3(l3, -1, remoteIdentity, out);
    const l4 = this.lookupInGroup((direction & 1) === 1 ? this.anyPeerEgress : this.anyPeerIngress, 0, direction, protocol, dport);
    if (l4 >= 0) {
      if (l3 < 0 || (flagsOf(ent, l4) & FLAG_DENY) !== 0) return this.checkL4(l4, l3, out);
      const p4 = ent[l4 * ENTRY + E_PRIO]!;
      const p3 = ent[l3 * ENTRY + E_PRIO]!;
      // 2. Higher proxy port priority; 3. equal priority and strictly longer prefix.
      if (p4 > p3 || (p4 === p3 && prefixOf(ent, l4) > prefixOf(ent, l3))) {
        return this.checkL4(l4, l3, out);
      }
    }
    // 4. The L3 entry.
    if (l3 >= 0) return this.checkL3(l3, l4, remoteIdentity, out);
    out.verdict = isUntrackedFragment ? DROP_FRAG_NOSUPPORT : DROP_POLICY;
    return out.verdict;
  }

  private checkL3(slot: number, other: number, remoteIdentity: number, out: PolicyVerdict): number {
    const p = prefixOf(this.ent, slot);
    out.matchType = p > PROTO_PREFIX_BITS ? POLICY_MATCH_L3_L4 : p > 0 ? POLICY_MATCH_L3_PROTO : POLICY_MATCH_L3_ONLY;
    out.matchedIdentity = remoteIdentity >>> 0;
    return this.check(slot, other, p, out);
  }

  private checkL4(slot: number, other: number, out: PolicyVerdict): number {
    const p = prefixOf(this.ent, slot);
    out.matchType = p === 0 ? POLICY_MATCH_ALL : p <= PROTO_PREFIX_BITS ? POLICY_MATCH_PROTO_ONLY : POLICY_MATCH_L4_ONLY;
    out.matchedIdentity = 0;
    return this.check(slot, other, p, out);
  }

  /** `__policy_check(policy, policy2)`. */
  private check(slot: number, other: number, prefixLen: number, out: PolicyVerdict): number {
    out.slot = slot;
    out.prefixLen = prefixLen;
    const ent = this.ent;
    out.cookie = ent[slot * ENTRY + E_COOKIE]! >>> 0;
    const flags = flagsOf(ent, slot);
    if ((flags & FLAG_DENY) !== 0) {
      out.verdict = DROP_POLICY_DENY;
      return out.verdict;
    }
    const proxyPort = ent[slot * ENTRY + E_VALUE]! & 0xffff;
    out.proxyPort = proxyPort;
    // The auth type comes from the chosen entry, or from the other (less specific) one when that
    // one's is greater and the chosen entry has no explicit auth type.
    let auth = authOf(ent, slot);
    if (other >= 0 && authOf(ent, other) > auth && (flags & FLAG_EXPLICIT_AUTH) === 0) auth = authOf(ent, other);
    if (auth !== 0) {
      out.authType = auth;
      out.verdict = DROP_POLICY_AUTH_REQUIRED;
      return out.verdict;
    }
    out.verdict = proxyPort > 0 ? proxyPort : CTX_ACT_OK;
    return out.verdict;
  }

  /** The entry stored at a slot returned by `lookupSlot` / `PolicyVerdict.slot` (allocates). */
  entryAt(slot: number): PolicyEntry {
    const ent = this.ent;
    const o = slot * ENTRY;
    const kw = ent[o + E_KEY]! >>> 0;
    const flags = flagsOf(ent, slot);
    return {
      identity: ent[o + E_IDENTITY]! >>> 0,
      direction: (kw >>> 31) as 0 | 1,
      protocol: (kw >>> 16) & 0xff,
      port: kw & 0xffff,
      prefixLen: (kw >>> 24) & 0x1f,
      deny: (flags & FLAG_DENY) !== 0,
      proxyPort: ent[o + E_VALUE]! & 0xffff,
      proxyPortPriority: ent[o + E_PRIO]!,
      authType: authOf(ent, slot),
      hasExplicitAuthType: (flags & FLAG_EXPLICIT_AUTH) !== 0,
      cookie: ent[o + E_COOKIE]! >>> 0,
    };
  }

  /** Every entry, ordered by (direction, identity, protocol, port, prefixLen). */
  *entries(): IterableIterator<PolicyEntry> {
    const slots: number[] = [];
    this.index.forEachSlot((s) => slots.push(s));
    const ent = this.ent;
    // Sort key: direction, identity, protocol, port, prefix length.
    slots.sort((a, b) => {
      const ka = ent[a * ENTRY + E_KEY]! >>> 0;
      const kb = ent[b * ENTRY + E_KEY]! >>> 0;
      return (
        (ka >>> 31) - (kb >>> 31) ||
        (ent[a * ENTRY + E_IDENTITY]! >>> 0) - (ent[b * ENTRY + E_IDENTITY]! >>> 0) ||
        ((ka >>> 16) & 0xff) - ((kb >>> 16) & 0xff) ||
        (ka & 0xffff) - (kb & 0xffff) ||
        ((ka >>> 24) & 0x1f) - ((kb >>> 24) & 0x1f)
      );
    });
    for (const s of slots) yield this.entryAt(s);
  }

  private growEntries(n: number): void {
    if (n * ENTRY <= this.ent.length) return;
    this.ent = ensureLength(this.ent, n * ENTRY);
  }

  /** The identity -> group table of a direction. */
  private groupsOf(direction: number): KeyTable {
    return (direction & 1) === 1 ? this.egressGroups : this.ingressGroups;
  }

  private setAnyPeerGroup(direction: number, g: number): void {
    if ((direction & 1) === 1) this.anyPeerEgress = g;
    else this.anyPeerIngress = g;
  }

  private addToGroup(slot: number, identity: number, direction: number, prefixLen: number): void {
    const table = this.groupsOf(direction);
    let g = table.get(identity);
    if (g < 0) {
      g = this.groupSlots.alloc();
      const n = this.groupSlots.used;
      if (n * GROUP > this.grp.length) {
        this.grp = ensureLength(this.grp, n * GROUP);
        this.gCounts = ensureLength(this.gCounts, (this.grp.length / GROUP) * 25);
      }
      this.grp[g * GROUP + G_MASK] = 0;
      this.grp[g * GROUP + G_SIZE] = 0;
      this.grp[g * GROUP + G_HEAD] = -1;
      this.gCounts.fill(0, g * 25, g * 25 + 25);
      table.set(g, identity);
      if (identity === 0) this.setAnyPeerGroup(direction, g);
    }
    this.gCounts[g * 25 + prefixLen]!++;
    const grp = this.grp;
    const ent = this.ent;
    grp[g * GROUP + G_MASK]! |= 1 << prefixLen;
    grp[g * GROUP + G_SIZE]!++;
    const head = grp[g * GROUP + G_HEAD]!;
    ent[slot * ENTRY + E_NEXT] = head;
    ent[slot * ENTRY + E_PREV] = -1;
    if (head >= 0) ent[head * ENTRY + E_PREV] = slot;
    grp[g * GROUP + G_HEAD] = slot;
  }

  private removeFromGroup(slot: number, identity: number, direction: number, prefixLen: number): void {
    const table = this.groupsOf(direction);
    const g = table.get(identity);
    if (g < 0) return; // unreachable while the index and groups agree
    const grp = this.grp;
    const ent = this.ent;
    const next = ent[slot * ENTRY + E_NEXT]!;
    const prev = ent[slot * ENTRY + E_PREV]!;
    if (prev >= 0) ent[prev * ENTRY + E_NEXT] = next;
    else grp[g * GROUP + G_HEAD] = next;
    if (next >= 0) ent[next * ENTRY + E_PREV] = prev;
    grp[g * GROUP + G_SIZE]!--;
    if (--this.gCounts[g * 25 + prefixLen]! === 0) {
      grp[g * GROUP + G_MASK]! &= ~(1 << prefixLen);
      if (grp[g * GROUP + G_MASK] === 0) {
        table.delete(identity);
        this.groupSlots.release(g);
        if (identity === 0) this.setAnyPeerGroup(direction, -1);
      }
    }
  }
}

/** FLAG_* bits of entry `slot`. */
function flagsOf(ent: Int32Array, slot: number): number {
  return (ent[slot * ENTRY + E_VALUE]! >>> 16) & 0xff;
}

/** Auth type of entry `slot`. */
function authOf(ent: Int32Array, slot: number): number {
  return (ent[slot * ENTRY + E_VALUE]! >>> 24) & 0x7f;
}

/** Proto/port prefix length of entry `slot`. */
function prefixOf(ent: Int32Array, slot: number): number {
  return (ent[slot * ENTRY + E_KEY]! >>> 24) & 0x1f;
}

/**
 * Port ranges to masked prefixes, as Cilium's `PortRangeToMaskedPorts`
 * (pkg/policy/types/port_range.go): the fewest [port, prefixLen] pairs whose union is exactly
 * start..end, with prefixLen = 8 + the number of significant port bits (9..24).
 * 0-65535 (or 0-0) is the wildcard port: one pair [0, 8], "protocol only".
 * `end <= start` is the single port `start` (prefixLen 24), as in Cilium.
 * Returned sorted by port (Cilium returns them unordered).
 */
export function portRangeToMaskedPorts(start: number, end: number): Array<{ port: number; prefixLen: number }> {
  checkRange('range start', start, 0xffff);
  checkRange('range end', end, 0xffff);
  if (start === 0 && (end === 0 || end === 0xffff)) return [{ port: 0, prefixLen: PROTO_PREFIX_BITS }];
  if (end <= start) return [{ port: start, prefixLen: LPM_FULL_PREFIX_BITS }];
  const out: Array<{ port: number; prefixLen: number }> = [];
  // A port with its lowest `wildcardBits` bits wildcarded.
  const masked = (port: number, wildcardBits: number): void => {
    const mask = (0xffff << wildcardBits) & 0xffff;
    out.push({ port: port & mask, prefixLen: LPM_FULL_PREFIX_BITS - wildcardBits });
  };
  const ctz16 = (x: number): number => (x === 0 ? 16 : 31 - Math.clz32(x & -x));
  // Common leading bits of start and end (as 16-bit numbers).
  const commonBits = Math.clz32(start ^ end) - 16;
  const lowMask = 0xffff >>> commonBits;
  // All bits after the common ones are 0 in start and 1 in end: one prefix covers the range.
  if ((start & lowMask) === 0 && (~end & lowMask) === 0) {
    masked(start, 16 - commonBits);
  } else {
    // Approach the highest differing ("middle") bit from both ends.
    const middleBit = 16 - 1 - commonBits;
    const middle = 1 << middleBit;
    let bit = ctz16(start | middle);
    masked(start, bit);
    for (bit++; bit < middleBit; bit++) {
      if ((start & (1 << bit)) === 0) masked(start + (1 << bit), bit);
    }
    bit = ctz16((~end & 0xffff) | middle);
    masked(end, bit);
    for (bit++; bit < middleBit; bit++) {
      if ((end & (1 << bit)) !== 0) masked(end - (1 << bit), bit);
    }
  }
  out.sort((a, b) => a.port - b.port || a.prefixLen - b.prefixLen);
  return out;
}
