/**
 * toFQDNs at run time: the agent's incremental update when the DNS proxy's cache learns or forgets
 * an address.
 *
 * Mirrors: pkg/fqdn/namemanager (UpdateGenerateDNS, deriveLabelsForName: every selector whose
 * regex matches a name pointing at the IP labels the IP `fqdn:<selector>`), pkg/ipcache/metadata.go
 * (resolveIdentity: an FQDN prefix also gets the world label of its family and the `cidr:` label
 * of the longest policy CIDR around it, then one local-scope identity per distinct label SET, shared
 * by every IP with those labels), pkg/policy/selectorcache.go (the identity is added to every
 * selector that selects it: the toFQDNs selectors, and everything that selected the address
 * before, i.e. the CIDR or world identity it resolved to), and the incremental policy-map update
 * (pkg/policy/mapstate.go: deny precedence still applies to added entries).
 *
 * This is Cilium 1.16's model (CFP-28427, "label IPs by the FQDN selectors that return them"):
 * an FQDN identity carries no `cidr:<ip>/32` label of its own, so all addresses of one name (and
 * one covering policy CIDR) share one identity. Deliberate differences: identities are not
 * pre-allocated per selector before any answer (Cilium 1.16 can), and an identity's number, once
 * given to a label set, is never reused for another during a replay (flows printed earlier keep
 * their meaning).
 *
 * The agent's half at compile time is `fqdnSelectorUses`, which turns a toFQDNs rule into the
 * templates stored in `FqdnSelectorRecord.uses` (called by policy-resolver.ts for every rule with
 * `fqdn` peers). The run-time half is `FqdnUpdater.apply`, fed with FqdnCache changes
 * (src/proxy/fqdn-cache.ts). The agent imports nothing from the proxy stage above it: the cache
 * and the selector compiler come in through small interfaces; DatapathState is a type import.
 *
 * For one new identity Y with parent P (the identity the address resolved to before) and
 * selectors S, each endpoint's map gets, built with the agent's own MapState so precedence matches
 * a full compile:
 *   1. the identity-0 entries of that map (only as context: covering denies and priorities);
 *   2. every entry P has, re-keyed to Y (the selectors that selected P select Y too);
 *   3. the `uses` templates of S for that endpoint;
 * and the entries MapState keeps for Y are written. Endpoints sharing one PolicyMap with the same
 * result share the write; otherwise the map is copied before it changes (copy-on-write).
 */
import type { DnsRule, PolicyRule } from '../policy/types.js';
import type {
  FqdnSelectorRecord,
  FqdnSelectorUse,
  IdentityRecord,
  L7RuleSetRecord,
  MapsDocument,
  PolicyEntryRecord,
  PolicyMapRecord,
} from '../maps/document.js';
import type { DatapathState } from '../datapath/state.js';
import type { PolicyMapLike } from '../maps/interfaces.js';
import type { PolicyEntry } from '../maps/policy-map.js';
import { fnv1a32, LOCAL_RANGE } from '../identity/allocator.js';
import { LabelSet, parseLabel } from '../identity/labels.js';
import { isLocalIdentity, ReservedIdentity } from '../identity/reserved.js';
import { worldLabelFor } from '../identity/identity-labels.js';
import { formatIp, parseIp, type IpAddress } from '../net/addr.js';
import { MapState, portProtoCovers, type MapStateEntry } from './mapstate.js';
import { AUTH_TYPE_SPIRE, L7_PROXY_PORT_PRIORITY, PROXY_PORTS } from './options.js';
import { expandPortRules, l7ParserOf } from './ports.js';

// --- compile time: rules -> templates -------------------------------------------------------

/** The key the agent groups FQDN selectors by (matchName, matchPattern). */
export function fqdnSelectorKey(selector: DnsRule): string {
  return `${selector.matchName ?? ''}\u0000${selector.matchPattern ?? ''}`;
}

export interface FqdnSelectorUseOf {
  selectorKey: string;
  use: FqdnSelectorUse;
}

/**
 * The entries a toFQDNs rule of `endpoint` gives each identity its selectors will select: the
 * same keys, proxy ports and auth types policy-resolver.ts gives other peers of an egress rule.
 * Named ports resolve against the destination's container ports, and an address outside the
 * cluster has none, so a named port yields nothing (as in Cilium). fromRequires/toRequires are
 * not applied to FQDN identities (hubcap limitation). Deny rules cannot name FQDNs.
 */
export function fqdnSelectorUses(endpoint: string, rule: PolicyRule, derivedFrom: number): FqdnSelectorUseOf[] {
  if (rule.deny || rule.direction !== 'egress' || !rule.peers) return [];
  const selectors = rule.peers.filter((p) => p.type === 'fqdn');
  if (selectors.length === 0) return [];
  const out: FqdnSelectorUseOf[] = [];
  for (const { key, portRule } of expandPortRules(rule.portRules, () => [])) {
    let parser = l7ParserOf(portRule);
    if (parser && !(key.protocol === 6 || (parser === 'dns' && key.protocol === 17))) parser = undefined;
    const proxyPort = parser ? PROXY_PORTS[`${parser}/egress`] : 0;
    const use: FqdnSelectorUse = {
      endpoint,
      direction: 'egress',
      protocol: key.protocol,
      port: key.port,
      prefixLen: key.prefixLen,
      deny: false,
      proxyPort,
      proxyPortPriority: proxyPort ? L7_PROXY_PORT_PRIORITY : 0,
      authType: rule.authRequired ? AUTH_TYPE_SPIRE : 0,
      hasExplicitAuthType: rule.authRequired,
      derivedFrom: [derivedFrom],
    };
    if (parser) use.l7 = { parser, port: key.rangeStart, endPort: key.rangeEnd, rules: (portRule!.l7![parser] ?? []) as unknown[] };
    for (const sel of selectors) {
      const s: DnsRule = {};
      if (sel.matchName !== undefined) s.matchName = sel.matchName;
      if (sel.matchPattern !== undefined) s.matchPattern = sel.matchPattern;
      out.push({ selectorKey: fqdnSelectorKey(s), use: { ...use, derivedFrom: [...use.derivedFrom] } });
    }
  }
  return out;
}

/** Document order of templates: endpoint, key, rules. */
export function compareFqdnUses(a: FqdnSelectorUse, b: FqdnSelectorUse): number {
  return (
    (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0) ||
    a.protocol - b.protocol ||
    a.port - b.port ||
    a.prefixLen - b.prefixLen ||
    a.proxyPort - b.proxyPort ||
    (a.derivedFrom[0] ?? 0) - (b.derivedFrom[0] ?? 0)
  );
}

/** Merges per-endpoint templates into the selector records (deduplicated, sorted). */
export function attachFqdnUses(records: Map<string, FqdnSelectorRecord>, uses: readonly FqdnSelectorUseOf[]): void {
  const seen = new Set<string>();
  for (const { selectorKey, use } of uses) {
    const rec = records.get(selectorKey);
    if (!rec) continue;
    const k = `${selectorKey}\u0000${JSON.stringify(use)}`;
    if (seen.has(k)) continue;
    seen.add(k);
    (rec.uses ??= []).push(use);
  }
  for (const rec of records.values()) rec.uses?.sort(compareFqdnUses);
}

// --- run time: cache changes -> identities, ipcache, policy maps ------------------------------

/** `fqdn:<matchName or matchPattern>`: the identity label a selector gives the IPs it selects (FQDNSelector.IdentityLabel). */
export function fqdnSelectorLabel(selector: DnsRule): string {
  return `fqdn:${selector.matchName !== undefined && selector.matchName !== '' ? selector.matchName : (selector.matchPattern ?? '')}`;
}

/** A compiled toFQDNs selector (src/proxy/dns-rules.ts compileFqdnSelector makes these). */
export interface FqdnNameMatcher {
  /** `name` is canonical: lowercased, with the trailing dot. */
  matchesCanonical(name: string): boolean;
}

export type FqdnSelectorCompiler = (selector: DnsRule) => { ok: true; matcher: FqdnNameMatcher } | { ok: false; error: string };

/**
 * What the updater reads from the FQDN cache (src/proxy/fqdn-cache.ts FqdnCache): the names that
 * point at an address now. An interface, so the agent does not import the proxy stage above it.
 */
export interface FqdnNameSource {
  namesOf(ip: string): string[];
}

/** The changes the updater looks at (FqdnCacheChange): only the address matters. */
export interface FqdnAddressChange {
  ip: string;
}

export interface FqdnIpcacheChange {
  ip: string;
  /** Identity the address resolved to before / after (the restored CIDR or world identity when released). */
  from: number;
  to: number;
}

export interface FqdnUpdateResult {
  ipcache: FqdnIpcacheChange[];
  /** Identities created by this update (labels are in the document). */
  allocated: number[];
  /** Identities no address uses any more (their policy entries are gone). */
  released: number[];
  policyEntriesAdded: number;
  policyEntriesRemoved: number;
  /** Addresses left as they were: in-cluster addresses (pods, nodes) never get FQDN identities; a full ipcache refuses new prefixes. */
  skipped: Array<{ ip: string; reason: 'cluster-address' | 'ipcache-full' }>;
  /** Entries a full policy map refused (--bpf-policy-map-max). */
  policyOverflow: Array<{ endpoint: string; identity: number }>;
}

interface IpState {
  address: IpAddress;
  /** The FQDN identity installed for it. */
  identity: number;
  /** What it resolved to without us. */
  parent: number;
  /** Identity of an exact host entry that was there before (restored on release), if any. */
  exactBefore: number | undefined;
}

interface FqdnIdentity {
  id: number;
  labels: LabelSet;
  parent: number;
  refs: number;
  /** Policy maps holding its entries. */
  maps: Set<PolicyMapLike>;
  /** L7 rule sets added to the document for it. */
  l7: L7RuleSetRecord[];
}

interface CompiledSelector {
  record: FqdnSelectorRecord;
  matcher: FqdnNameMatcher;
  label: string;
}

function isWorld(id: number): boolean {
  return id === ReservedIdentity.WORLD || id === ReservedIdentity.WORLD_IPV4 || id === ReservedIdentity.WORLD_IPV6;
}

function toMapStateEntry(e: PolicyEntryRecord | FqdnSelectorUse, identity: number): MapStateEntry {
  const deny = 'verdict' in e ? e.verdict === 'deny' : e.deny;
  return {
    identity,
    direction: e.direction === 'ingress' ? 0 : 1,
    protocol: e.protocol,
    port: e.port,
    prefixLen: e.prefixLen,
    deny,
    proxyPort: e.proxyPort,
    proxyPortPriority: e.proxyPortPriority,
    authType: e.authType,
    hasExplicitAuthType: e.hasExplicitAuthType,
    derivedFrom: [...e.derivedFrom],
  };
}

function toPolicyEntry(e: MapStateEntry): PolicyEntry {
  return {
    identity: e.identity,
    direction: e.direction as 0 | 1,
    protocol: e.protocol,
    port: e.port,
    prefixLen: e.prefixLen,
    deny: e.deny,
    proxyPort: e.proxyPort,
    proxyPortPriority: e.proxyPortPriority,
    authType: e.authType,
    hasExplicitAuthType: e.hasExplicitAuthType,
    // As DatapathState loads the document: the cookie is the first rule + 1.
    cookie: e.derivedFrom.length > 0 ? e.derivedFrom[0]! + 1 : 0,
  };
}

/**
 * Applies FQDN cache changes to a live DatapathState (and the labels of new identities to its
 * document, so FlowContext can name them). One instance per replay; not re-entrant.
 */
export class FqdnUpdater {
  readonly state: DatapathState;
  private readonly doc: MapsDocument;
  private readonly selectors: CompiledSelector[] = [];
  /** Selector records whose patterns did not compile (a hand-edited document). */
  readonly errors: string[] = [];
  private readonly ips = new Map<string, IpState>();
  private readonly byLabels = new Map<string, FqdnIdentity>();
  private readonly byId = new Map<number, FqdnIdentity>();
  /** Numbers in use or ever given to a label set. */
  private readonly usedNumbers = new Set<number>();
  private readonly numberOfLabels = new Map<string, number>();
  private readonly policyRecordByEndpoint = new Map<string, PolicyMapRecord>();
  /** Per entries array (endpoints with the same policy share one): its entries by identity. */
  private readonly entriesByIdentity = new Map<readonly PolicyEntryRecord[], Map<number, PolicyEntryRecord[]>>();
  private readonly identityLabelsById = new Map<number, readonly string[]>();

  /**
   * `compileSelector` is src/proxy/dns-rules.ts compileFqdnSelector (passed in by whoever wires
   * the proxy stage, so the agent does not import it).
   */
  constructor(state: DatapathState, compileSelector: FqdnSelectorCompiler) {
    this.state = state;
    this.doc = state.doc;
    for (const rec of this.doc.fqdnSelectors) {
      const sel: DnsRule = {};
      if (rec.matchName !== undefined) sel.matchName = rec.matchName;
      if (rec.matchPattern !== undefined) sel.matchPattern = rec.matchPattern;
      const compiled = compileSelector(sel);
      if (!compiled.ok) {
        this.errors.push(`toFQDNs ${JSON.stringify(sel)}: ${compiled.error}`);
        continue;
      }
      this.selectors.push({ record: rec, matcher: compiled.matcher, label: fqdnSelectorLabel(sel) });
    }
    for (const id of this.doc.identities) {
      this.usedNumbers.add(id.identity);
      this.identityLabelsById.set(id.identity, id.labels);
    }
    for (const m of this.doc.policyMaps) this.policyRecordByEndpoint.set(m.endpoint, m);
  }

  /** The FQDN identity installed for an address, if any. */
  identityOf(ip: string): number | undefined {
    const a = parseIp(ip);
    return a === undefined ? undefined : this.ips.get(formatIp(a.words, a.family))?.identity;
  }

  /** Labels of an FQDN identity this updater allocated. */
  labelsOf(identity: number): string[] | undefined {
    return this.byId.get(identity)?.labels.toStrings();
  }

  /** Live FQDN identities with how many addresses use each. */
  identities(): Array<{ identity: number; labels: string[]; addresses: number }> {
    return [...this.byId.values()].sort((a, b) => a.id - b.id).map((i) => ({ identity: i.id, labels: i.labels.toStrings(), addresses: i.refs }));
  }

  /**
   * Brings every address named in `changes` up to date with `cache` (the cache is the truth for
   * which names point at an address now; `changes` only says which addresses to look at).
   * Addresses are processed in sorted order, so results are deterministic.
   */
  apply(changes: readonly FqdnAddressChange[], cache: FqdnNameSource): FqdnUpdateResult {
    const result: FqdnUpdateResult = {
      ipcache: [],
      allocated: [],
      released: [],
      policyEntriesAdded: 0,
      policyEntriesRemoved: 0,
      skipped: [],
      policyOverflow: [],
    };
    const ips = [...new Set(changes.map((c) => c.ip))].sort();
    let changed = false;
    for (const ip of ips) changed = this.updateAddress(ip, cache, result) || changed;
    if (changed) this.state.generation++;
    return result;
  }

  private updateAddress(ip: string, cache: FqdnNameSource, result: FqdnUpdateResult): boolean {
    const address = parseIp(ip);
    if (!address) return false;
    ip = formatIp(address.words, address.family);
    const names = cache.namesOf(ip);
    const labels = new Set<string>();
    for (const sel of this.selectors) {
      if (names.some((n) => sel.matcher.matchesCanonical(n))) labels.add(sel.label);
    }
    const current = this.ips.get(ip);
    const shared = this.state.sharedView.shared;
    const hostLen = address.family === 4 ? 32 : 128;

    if (labels.size === 0) {
      if (!current) return false;
      // No selector wants this address any more: restore what was there.
      if (current.exactBefore !== undefined) shared.upsert(address.family, address.words, hostLen, current.exactBefore);
      else shared.delete(address.family, address.words, hostLen);
      this.ips.delete(ip);
      result.ipcache.push({ ip, from: current.identity, to: current.exactBefore ?? current.parent });
      this.release(current.identity, result);
      return true;
    }

    let parent: number;
    let exactBefore: number | undefined;
    if (current) {
      parent = current.parent;
      exactBefore = current.exactBefore;
    } else {
      if (this.state.endpointByAddress.get(address.family, address.words) !== undefined || this.state.nodeByAddress.get(address.family, address.words) !== undefined) {
        result.skipped.push({ ip, reason: 'cluster-address' });
        return false;
      }
      const entry = shared.lookupEntry(address.family, address.words);
      parent = entry && entry.identity > 0 ? entry.identity : address.family === 4 ? this.state.worldIdentity4 : this.state.worldIdentity6;
      exactBefore = entry && entry.prefixLen === hostLen ? entry.identity : undefined;
      if (!this.isOutsideCluster(parent)) {
        result.skipped.push({ ip, reason: 'cluster-address' });
        return false;
      }
    }

    const all: string[] = [...labels, `reserved:${worldName(address.family, this.doc.options.dualStack)}`];
    for (const l of this.identityLabelsById.get(parent) ?? []) if (l.startsWith('cidr:')) all.push(l);
    const labelSet = new LabelSet(all.map((t) => parseLabel(t)));
    const key = labelSet.key();
    if (current && this.byId.get(current.identity)?.labels.key() === key) return false;

    const ident = this.acquire(labelSet, parent, result);
    if (!current) {
      if (!shared.upsert(address.family, address.words, hostLen, ident.id)) {
        this.release(ident.id, result);
        result.skipped.push({ ip, reason: 'ipcache-full' });
        return false;
      }
      this.ips.set(ip, { address, identity: ident.id, parent, exactBefore });
      result.ipcache.push({ ip, from: exactBefore ?? parent, to: ident.id });
      return true;
    }
    shared.upsert(address.family, address.words, hostLen, ident.id);
    result.ipcache.push({ ip, from: current.identity, to: ident.id });
    const old = current.identity;
    current.identity = ident.id;
    this.release(old, result);
    return true;
  }

  /** World, or a CIDR identity of a policy prefix: the addresses toFQDNs may label. */
  private isOutsideCluster(id: number): boolean {
    if (isWorld(id)) return true;
    if (!isLocalIdentity(id)) return false;
    const labels = this.identityLabelsById.get(id) ?? [];
    return labels.some((l) => l.startsWith('cidr:')) && !labels.some((l) => l.startsWith('fqdn:'));
  }

  private numberFor(key: string): number {
    const known = this.numberOfLabels.get(key);
    if (known !== undefined) return known;
    const size = LOCAL_RANGE.last - LOCAL_RANGE.first + 1;
    let slot = fnv1a32(key) % size;
    while (this.usedNumbers.has(LOCAL_RANGE.first + slot)) slot = (slot + 1) % size;
    const id = LOCAL_RANGE.first + slot;
    this.usedNumbers.add(id);
    this.numberOfLabels.set(key, id);
    return id;
  }

  private acquire(labels: LabelSet, parent: number, result: FqdnUpdateResult): FqdnIdentity {
    const key = labels.key();
    let ident = this.byLabels.get(key);
    if (ident) {
      ident.refs++;
      return ident;
    }
    const id = this.numberFor(key);
    ident = { id, labels, parent, refs: 1, maps: new Set(), l7: [] };
    this.byLabels.set(key, ident);
    this.byId.set(id, ident);
    this.publishIdentity(ident);
    this.installPolicy(ident, result);
    result.allocated.push(id);
    return ident;
  }

  private release(id: number, result: FqdnUpdateResult): void {
    const ident = this.byId.get(id);
    if (!ident) return;
    if (--ident.refs > 0) return;
    this.byId.delete(id);
    this.byLabels.delete(ident.labels.key());
    for (const map of ident.maps) {
      const keys: PolicyEntry[] = [];
      for (const e of map.entries()) if (e.identity === id) keys.push(e);
      for (const e of keys) if (map.delete(id, e.direction, e.protocol, e.port, e.prefixLen)) result.policyEntriesRemoved++;
    }
    if (ident.l7.length > 0) {
      const drop = new Set(ident.l7);
      const kept = this.doc.l7.filter((r) => !drop.has(r));
      this.doc.l7.length = 0;
      this.doc.l7.push(...kept);
    }
    result.released.push(id);
  }

  /** Adds the identity to the document (sorted by number) once; records are never removed. */
  private publishIdentity(ident: FqdnIdentity): void {
    if (this.identityLabelsById.has(ident.id)) return;
    const record: IdentityRecord = { identity: ident.id, labels: ident.labels.toStrings(), endpoints: [] };
    const list = this.doc.identities;
    let i = list.length;
    while (i > 0 && list[i - 1]!.identity > ident.id) i--;
    list.splice(i, 0, record);
    this.identityLabelsById.set(ident.id, record.labels);
  }

  /** The selectors' templates for this identity, per endpoint. */
  private usesByEndpoint(ident: FqdnIdentity): Map<string, FqdnSelectorUse[]> {
    const wanted = new Set(ident.labels.toStrings().filter((l) => l.startsWith('fqdn:')));
    const out = new Map<string, FqdnSelectorUse[]>();
    for (const sel of this.selectors) {
      if (!wanted.has(sel.label)) continue;
      for (const use of sel.record.uses ?? []) {
        const list = out.get(use.endpoint);
        if (list) list.push(use);
        else out.set(use.endpoint, [use]);
      }
    }
    return out;
  }

  private installPolicy(ident: FqdnIdentity, result: FqdnUpdateResult): void {
    const state = this.state;
    const uses = this.usesByEndpoint(ident);
    // Per endpoint: the entries Y gets, as a canonical key for grouping endpoints of a shared map.
    const wantByEndpoint: Array<{ entries: MapStateEntry[]; key: string } | undefined> = [];
    // Endpoints with the same entries array and the same templates get the same result: compute once.
    const computed = new Map<readonly PolicyEntryRecord[], Map<string, { entries: MapStateEntry[]; key: string } | undefined>>();
    state.endpoints.forEach((ep, i) => {
      const record = this.policyRecordByEndpoint.get(ep.name);
      if (!record) return;
      const epUses = uses.get(ep.name) ?? [];
      const byId = this.indexEntries(record.entries);
      const parentEntries = byId.get(ident.parent) ?? [];
      if (epUses.length === 0 && parentEntries.length === 0) return;
      const usesKey = JSON.stringify(epUses.map((u) => ({ ...u, endpoint: '' })));
      let perRecord = computed.get(record.entries);
      if (!perRecord) computed.set(record.entries, (perRecord = new Map()));
      let want = perRecord.get(usesKey);
      if (!perRecord.has(usesKey)) {
        const ms = new MapState();
        for (const e of byId.get(0) ?? []) ms.insert(toMapStateEntry(e, 0));
        for (const e of parentEntries) ms.insert(toMapStateEntry(e, ident.id));
        for (const u of epUses) ms.insert(toMapStateEntry(u, ident.id));
        const entries = ms.entries().filter((e) => e.identity === ident.id);
        want = entries.length === 0 ? undefined : { entries, key: JSON.stringify(entries.map(toPolicyEntry)) };
        perRecord.set(usesKey, want);
      }
      if (!want) return;
      wantByEndpoint[i] = want;
      this.addL7(ident, ep.name, epUses, parentEntries);
    });

    // Endpoints by the map object they use now.
    const groups = new Map<PolicyMapLike, number[]>();
    state.endpoints.forEach((_, i) => {
      const map = state.policyMaps[i]!;
      const list = groups.get(map);
      if (list) list.push(i);
      else groups.set(map, [i]);
    });
    for (const [map, members] of groups) {
      const byKey = new Map<string, number[]>();
      for (const i of members) {
        const k = wantByEndpoint[i]?.key ?? '';
        const list = byKey.get(k);
        if (list) list.push(i);
        else byKey.set(k, [i]);
      }
      // Endpoints that get nothing keep the map as it is; so does the first group when all get
      // something. Every other group gets its own copy, taken before anything is written.
      const keeper = byKey.has('') ? '' : byKey.keys().next().value!;
      const targets: Array<[PolicyMapLike, string, number[]]> = [];
      for (const [k, eps] of byKey) {
        if (k === keeper) {
          targets.push([map, k, eps]);
          continue;
        }
        const copy = this.cloneMap(map);
        for (const i of eps) this.replaceMap(i, copy);
        targets.push([copy, k, eps]);
      }
      for (const [target, k, eps] of targets) {
        if (k === '') continue;
        for (const e of wantByEndpoint[eps[0]!]!.entries) {
          if (target.set(toPolicyEntry(e))) result.policyEntriesAdded++;
          else for (const i of eps) result.policyOverflow.push({ endpoint: state.endpoints[i]!.name, identity: ident.id });
        }
        ident.maps.add(target);
      }
    }
  }

  /**
   * Puts a copied map in place for endpoint `i`: through DatapathState.replacePolicyMap when the
   * state has it (it hooks the map's changes to the generation), else directly (apply bumps the
   * generation itself either way).
   */
  private replaceMap(i: number, map: PolicyMapLike): void {
    const replace = (this.state as { replacePolicyMap?: (endpoint: number, map: PolicyMapLike) => void }).replacePolicyMap;
    if (replace) replace.call(this.state, i, map);
    else this.state.policyMaps[i] = map;
  }

  private indexEntries(entries: readonly PolicyEntryRecord[]): Map<number, PolicyEntryRecord[]> {
    let byId = this.entriesByIdentity.get(entries);
    if (!byId) {
      byId = new Map();
      for (const e of entries) {
        const list = byId.get(e.identity);
        if (list) list.push(e);
        else byId.set(e.identity, [e]);
      }
      this.entriesByIdentity.set(entries, byId);
    }
    return byId;
  }

  /**
   * A copy of a policy map, of the state's backend; identities with entries in the source also
   * own them in the copy.
   */
  private cloneMap(source: PolicyMapLike): PolicyMapLike {
    const copy = this.state.createPolicyMap(source.capacity);
    for (const e of source.entries()) copy.set(e);
    for (const ident of this.byId.values()) if (ident.maps.has(source)) ident.maps.add(copy);
    return copy;
  }

  /**
   * L7 rule sets for the new identity on one endpoint: the templates' own rules, every rule set
   * that named the parent, and (as policy-resolver.ts does) an allow-all set where a plain L3/L4
   * allow of the identity covers a redirected port.
   */
  private addL7(ident: FqdnIdentity, endpoint: string, uses: FqdnSelectorUse[], parentEntries: PolicyEntryRecord[]): void {
    const redirects: L7RuleSetRecord[] = [];
    for (const u of uses) {
      if (!u.l7) continue;
      redirects.push({
        endpoint,
        direction: 'egress',
        protocol: u.protocol,
        port: u.l7.port,
        endPort: u.l7.endPort,
        parser: u.l7.parser,
        proxyPort: u.proxyPort,
        peers: [ident.id],
        rules: u.l7.rules,
        derivedFrom: [...u.derivedFrom],
      });
    }
    for (const r of this.doc.l7) {
      if (r.endpoint === endpoint && r.peers.includes(ident.parent)) redirects.push({ ...r, peers: [ident.id], derivedFrom: [...r.derivedFrom] });
    }
    const plain: Array<{ key: { protocol: number; port: number; prefixLen: number }; derivedFrom: number[] }> = [];
    for (const u of uses) if (!u.l7 && !u.deny && u.proxyPort === 0) plain.push({ key: u, derivedFrom: u.derivedFrom });
    for (const e of parentEntries) if (e.verdict === 'allow') plain.push({ key: e, derivedFrom: e.derivedFrom });
    const out: L7RuleSetRecord[] = [...redirects];
    for (const r of redirects) {
      const probe = { identity: 0, direction: 1, protocol: r.protocol, port: r.port, prefixLen: 24 };
      for (const p of plain) {
        if (!portProtoCovers({ ...p.key, identity: 0, direction: 1 }, probe)) continue;
        out.push({ ...r, rules: [], derivedFrom: [...p.derivedFrom] });
      }
    }
    const seen = new Set<string>();
    for (const r of out) {
      const k = JSON.stringify(r);
      if (seen.has(k)) continue;
      seen.add(k);
      this.doc.l7.push(r);
      ident.l7.push(r);
    }
  }
}

function worldName(family: 4 | 6, dualStack: boolean): string {
  return worldLabelFor(family, dualStack).key;
}
