/**
 * Every identity the agent knows, and which of them a selector selects.
 *
 * Mirrors: pkg/policy/selectorcache.go (selectors evaluated once against all identities and
 * cached), pkg/identity (reserved identities), pkg/ipcache/metadata.go (the host identity's
 * labels are per node: it gains `reserved:kube-apiserver` where the apiserver runs).
 */
import { allocateIdentities, CLUSTER_RANGE, LOCAL_RANGE } from '../identity/allocator.js';
import { cidrIdentityLabels } from '../identity/identity-labels.js';
import { LabelSet } from '../identity/labels.js';
import {
  RESERVED_IDENTITY_NAMES,
  ReservedIdentity,
  reservedIdentityLabels,
  reservedLabel,
  type NumericIdentity,
} from '../identity/reserved.js';
import { cidrContains, formatCidr, maskWords, type Cidr } from '../net/addr.js';
import type { EndpointSelector } from '../policy/types.js';
import type { AgentNode, ClusterModel } from './cluster-model.js';
import { isWildcardSelector, selectorMatches } from './selector-match.js';

export type IdentityKind = 'reserved' | 'pod' | 'cidr';

export interface IdentityInfo {
  id: NumericIdentity;
  labels: LabelSet;
  kind: IdentityKind;
  /** For CIDR identities: the prefix. */
  cidr?: Cidr;
}

/** What a peer selects: every identity (wildcard, identity 0 in the map) or a set. */
export interface Selection {
  wildcard: boolean;
  ids: Set<NumericIdentity>;
}

export const SELECT_NOTHING: Selection = Object.freeze({ wildcard: false, ids: new Set<NumericIdentity>() }) as Selection;

export class IdentityRegistry {
  readonly byId = new Map<NumericIdentity, IdentityInfo>();
  /** Identities other than host (1), whose labels are the same on every node. */
  private readonly global: IdentityInfo[] = [];
  private readonly cidrByText = new Map<string, IdentityInfo>();
  private readonly hostLabelsByNode = new Map<string, LabelSet>();
  private readonly podIdentityByLabels = new Map<string, NumericIdentity>();
  private readonly globalSelectionCache = new Map<string, Set<NumericIdentity>>();
  /** label key -> value -> identities carrying it, to narrow selector evaluation (built lazily). */
  private labelIndex: Map<string, Map<string, IdentityInfo[]>> | undefined;
  private readonly hostSelectionCache = new Map<string, boolean>();

  constructor(model: ClusterModel, policyCidrs: Iterable<Cidr>) {
    for (const idText of Object.keys(RESERVED_IDENTITY_NAMES)) {
      const id = Number(idText);
      if (id === ReservedIdentity.UNKNOWN) continue;
      const info: IdentityInfo = { id, labels: reservedIdentityLabels(id), kind: 'reserved' };
      this.byId.set(id, info);
      if (id !== ReservedIdentity.HOST) this.global.push(info);
    }
    for (const node of model.nodes) this.hostLabelsByNode.set(node.name, hostIdentityLabels(node));

    const podSets = model.pods.map((p) => p.identityLabels);
    const podIds = allocateIdentities(podSets, CLUSTER_RANGE, model.preassignedIdentities);
    for (const set of podSets) {
      const id = podIds.get(set.key())!;
      this.podIdentityByLabels.set(set.key(), id);
      if (!this.byId.has(id)) {
        const info: IdentityInfo = { id, labels: set, kind: 'pod' };
        this.byId.set(id, info);
        this.global.push(info);
      }
    }

    const cidrs = new Map<string, Cidr>();
    for (const c of policyCidrs) cidrs.set(formatCidr(c), c);
    const cidrSets = new Map<string, { cidr: Cidr; labels: LabelSet }>();
    for (const [text, cidr] of cidrs) {
      // /0 prefixes are the world identities themselves, not CIDR identities (pkg/labels/cidr.go).
      if (cidr.prefixLen === 0) continue;
      cidrSets.set(text, { cidr, labels: cidrIdentityLabels(cidr, model.dualStack) });
    }
    const cidrIds = allocateIdentities(
      [...cidrSets.values()].map((c) => c.labels),
      LOCAL_RANGE,
    );
    for (const [text, { cidr, labels }] of [...cidrSets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const info: IdentityInfo = { id: cidrIds.get(labels.key())!, labels, kind: 'cidr', cidr };
      this.byId.set(info.id, info);
      this.global.push(info);
      this.cidrByText.set(text, info);
    }
  }

  podIdentity(labels: LabelSet): NumericIdentity {
    const id = this.podIdentityByLabels.get(labels.key());
    if (id === undefined) throw new Error(`BUG: no identity for ${labels.key()}`);
    return id;
  }

  cidrIdentities(): IdentityInfo[] {
    return [...this.cidrByText.values()];
  }

  /** CIDR identities sorted by family, then address words: the prefixes inside one CIDR are a run of it. */
  private cidrsByAddress: IdentityInfo[] | undefined;

  /**
   * The CIDR identities whose prefix lies inside `cidr` (same family, at least as long, same
   * leading bits), by binary search over the identities sorted by address: a policy with n CIDR
   * peers costs O(n log n) instead of n scans of every CIDR identity (60,000 toCIDR entries took
   * more than ten minutes that way).
   */
  cidrIdentitiesWithin(cidr: Cidr): IdentityInfo[] {
    const sorted = (this.cidrsByAddress ??= this.cidrIdentities().sort((a, b) => compareAddress(a.cidr!, b.cidr!)));
    const lo = maskWords(cidr.words, cidr.family, cidr.prefixLen);
    let first = 0;
    let last = sorted.length;
    while (first < last) {
      const mid = (first + last) >>> 1;
      if (compareAddress(sorted[mid]!.cidr!, { family: cidr.family, words: lo }) < 0) first = mid + 1;
      else last = mid;
    }
    const out: IdentityInfo[] = [];
    for (let i = first; i < sorted.length; i++) {
      const c = sorted[i]!.cidr!;
      if (!cidrContains(cidr, c.family, c.words)) break;
      if (c.prefixLen >= cidr.prefixLen) out.push(sorted[i]!);
    }
    return out;
  }

  cidrIdentity(cidr: Cidr): IdentityInfo | undefined {
    return this.cidrByText.get(formatCidr(cidr));
  }

  /** Labels of identity `id` as node `node` sees it (only host differs between nodes). */
  labelsOn(id: NumericIdentity, node: string): LabelSet | undefined {
    if (id === ReservedIdentity.HOST) return this.hostLabelsByNode.get(node) ?? reservedIdentityLabels(id);
    return this.byId.get(id)?.labels;
  }

  /** Identities (as `node` sees them) that a label selector selects. */
  select(selector: EndpointSelector, node: string): Selection {
    if (isWildcardSelector(selector)) return { wildcard: true, ids: new Set() };
    let ids = this.globalSelectionCache.get(selector.text);
    if (!ids) {
      ids = new Set();
      for (const info of this.candidates(selector)) if (selectorMatches(selector, info.labels)) ids.add(info.id);
      this.globalSelectionCache.set(selector.text, ids);
    }
    const hostKey = `${node}\u0000${selector.text}`;
    let hostMatches = this.hostSelectionCache.get(hostKey);
    if (hostMatches === undefined) {
      hostMatches = selectorMatches(selector, this.labelsOn(ReservedIdentity.HOST, node)!);
      this.hostSelectionCache.set(hostKey, hostMatches);
    }
    if (!hostMatches) return { wildcard: false, ids };
    const withHost = new Set(ids);
    withHost.add(ReservedIdentity.HOST);
    return { wildcard: false, ids: withHost };
  }

  /**
   * Identities that can match: those carrying the key of an `In` or `Exists` requirement (the
   * narrowest such list), or all of them. The selector cache does the same with its
   * per-key indexes; results are identical to testing every identity.
   */
  private candidates(selector: EndpointSelector): readonly IdentityInfo[] {
    if (!this.labelIndex) {
      this.labelIndex = new Map();
      for (const info of this.global) {
        for (const l of info.labels.labels) {
          let byValue = this.labelIndex.get(l.key);
          if (!byValue) this.labelIndex.set(l.key, (byValue = new Map()));
          const list = byValue.get(l.value);
          if (list) list.push(info);
          else byValue.set(l.value, [info]);
        }
      }
    }
    let best: readonly IdentityInfo[] = this.global;
    for (const req of selector.requirements) {
      if (req.operator !== 'In' && req.operator !== 'Exists') continue;
      const byValue = this.labelIndex.get(req.key);
      if (!byValue) return [];
      const list: IdentityInfo[] = [];
      if (req.operator === 'In') for (const v of req.values) list.push(...(byValue.get(v) ?? []));
      else for (const l of byValue.values()) list.push(...l);
      if (list.length < best.length) best = list;
    }
    return best;
  }

  /** Every identity known, as `node` sees them, sorted by number. */
  all(node: string): IdentityInfo[] {
    const out = [...this.byId.values()].map((info) =>
      info.id === ReservedIdentity.HOST ? { ...info, labels: this.labelsOn(info.id, node)! } : info,
    );
    return out.sort((a, b) => a.id - b.id);
  }
}

/** reserved:host, plus reserved:kube-apiserver on the node that runs the apiserver. */
export function hostIdentityLabels(node: AgentNode): LabelSet {
  const labels = [reservedLabel('host')];
  if (node.hostsApiserver) labels.push(reservedLabel('kube-apiserver'));
  return new LabelSet(labels);
}

/** Orders addresses by family, then by their words as unsigned numbers (network order). */
function compareAddress(a: { family: number; words: Uint32Array }, b: { family: number; words: Uint32Array }): number {
  if (a.family !== b.family) return a.family - b.family;
  for (let w = 0; w < 4; w++) {
    const d = a.words[w]! - b.words[w]!;
    if (d !== 0) return d;
  }
  return 0;
}
