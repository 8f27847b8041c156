/**
 * What the flow printers, filters and summaries need from the maps document, looked up once.
 *
 * Mirrors: pkg/hubble/parser/common/endpoint.go (`ResolveEndpoint`: a local endpoint gets its ID,
 * namespace, pod name and its own labels; a remote one its identity's labels and the ipcache's pod
 * metadata, no ID), pkg/hubble/parser/common `SortAndFilterLabels` (labels sorted; for local-scope
 * CIDR identities only the most specific `cidr:` label kept), pkg/node `GetAbsoluteNodeName`
 * (`node_name` is `<cluster>/<node>`), pkg/policy/correlation/correlation.go (`toProto`: a policy as
 * `{name, namespace, labels, kind}` from its derived-from labels).
 *
 * Events carry document indexes; everything they point at is resolved here into shared, frozen
 * objects (endpoint and policy JSON pieces, name strings) so printing a flow looks things up
 * instead of building them. Deliberate difference: the endpoint `workloads` list is never set
 * (the document has no owner references).
 */
import { LOCAL_IDENTITY_SCOPE, RESERVED_IDENTITY_NAMES, reservedIdentityLabels } from '../identity/reserved.js';
import type { MapsDocument } from '../maps/document.js';

/** flow.proto `Endpoint` as protojson prints it (zero values omitted). */
export interface HubbleEndpoint {
  ID?: number;
  identity?: number;
  cluster_name?: string;
  namespace?: string;
  labels?: readonly string[];
  pod_name?: string;
}

/** flow.proto `Policy` (Cilium 1.17+ `*_allowed_by` / `*_denied_by` entries). */
export interface HubblePolicy {
  name?: string;
  namespace?: string;
  labels?: readonly string[];
  kind?: string;
}

/** flow.proto `Service`. */
export interface HubbleService {
  name: string;
  namespace?: string;
}

const CLUSTER_LABEL_PREFIX = 'k8s:io.cilium.k8s.policy.cluster=';

// pkg/k8s/apis/cilium.io/const.go: the labels a policy's rules carry (PolicyLabel*).
const POLICY_LABEL_DERIVED_FROM = 'k8s:io.cilium.k8s.policy.derived-from=';
const POLICY_LABEL_NAME = 'k8s:io.cilium.k8s.policy.name=';
const POLICY_LABEL_NAMESPACE = 'k8s:io.cilium.k8s.policy.namespace=';

const EMPTY_ENDPOINT: HubbleEndpoint = Object.freeze({});

function cidrPrefixLen(label: string): number {
  const slash = label.lastIndexOf('/');
  return slash < 0 ? -1 : Number(label.slice(slash + 1));
}

/**
 * SortAndFilterLabels: labels sorted as Go's sort.Strings (byte order; the labels are ASCII); a
 * local-scope identity (CIDR, FQDN) keeps only its longest `cidr:` label, as Hubble prints it.
 */
export function sortAndFilterLabels(labels: readonly string[], identity: number): string[] {
  let out = [...labels];
  if ((identity & LOCAL_IDENTITY_SCOPE) !== 0) {
    let best = '';
    let bestLen = -1;
    for (const l of out) {
      if (!l.startsWith('cidr:')) continue;
      const len = cidrPrefixLen(l);
      if (len > bestLen) {
        best = l;
        bestLen = len;
      }
    }
    if (bestLen >= 0) out = out.filter((l) => !l.startsWith('cidr:') || l === best);
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function clusterNameOf(labels: readonly string[]): string | undefined {
  for (const l of labels) if (l.startsWith(CLUSTER_LABEL_PREFIX)) return l.slice(CLUSTER_LABEL_PREFIX.length);
  return undefined;
}

function freezeEndpoint(e: HubbleEndpoint): HubbleEndpoint {
  if (e.labels) Object.freeze(e.labels);
  return Object.freeze(e);
}

export class FlowContext {
  readonly doc: MapsDocument;
  readonly clusterName: string;
  /** Per endpoint: index of its node in `doc.nodes`, -1 when unknown. */
  readonly endpointNode: Int32Array;
  /** Per endpoint: `ns/pod` or `node/NAME`. */
  readonly endpointName: readonly string[];
  /** Per endpoint: namespace and pod name, '' for host endpoints. */
  readonly endpointNamespace: readonly string[];
  readonly endpointPod: readonly string[];
  /** Per endpoint: 1 for host endpoints (`node/NAME`). */
  readonly endpointIsHost: Uint8Array;
  /** Per node: `node_name` as Hubble prints it, `<cluster>/<node>`. */
  readonly nodeNames: readonly string[];
  /** Per rule: the policies Hubble lists in `*_allowed_by` / `*_denied_by`; undefined for the agent's own reasons. */
  readonly rulePolicies: ReadonlyArray<readonly HubblePolicy[] | undefined>;
  /** Per service frontend: the Service as `destination_service`. */
  readonly services: readonly HubbleService[];
  /** Proxy port -> L7 parser of the rules behind it. */
  readonly l7ParserByProxyPort: ReadonlyMap<number, 'http' | 'dns' | 'kafka'>;

  private readonly identityLabels = new Map<number, readonly string[]>();
  /** How many of `doc.identities` are indexed: the agent may add FQDN identities during a replay. */
  private indexedIdentities = 0;
  /** Endpoint JSON pieces keyed by endpoint index * 2 + (local ? 1 : 0), for the endpoint's own identity. */
  private readonly endpointObjects = new Map<number, HubbleEndpoint>();
  /** Same, for an event identity that differs from the endpoint's (host endpoints seen from elsewhere). */
  private readonly endpointObjectsOther = new Map<number, Map<number, HubbleEndpoint>>();
  private readonly identityObjects = new Map<number, HubbleEndpoint>();

  constructor(doc: MapsDocument) {
    this.doc = doc;
    this.clusterName = doc.options.clusterName;
    const nodeIndex = new Map<string, number>();
    doc.nodes.forEach((n, i) => nodeIndex.set(n.name, i));
    this.nodeNames = doc.nodes.map((n) => `${this.clusterName}/${n.name}`);
    const eps = doc.endpoints;
    this.endpointNode = new Int32Array(eps.length);
    this.endpointIsHost = new Uint8Array(eps.length);
    eps.forEach((e, i) => {
      this.endpointNode[i] = nodeIndex.get(e.node) ?? -1;
      this.endpointIsHost[i] = e.kind === 'host' ? 1 : 0;
    });
    this.endpointName = eps.map((e) => e.name);
    this.endpointNamespace = eps.map((e) => (e.kind === 'pod' ? (e.namespace ?? '') : ''));
    this.endpointPod = eps.map((e) => (e.kind === 'pod' ? (e.pod ?? '') : ''));
    this.indexIdentities();
    this.rulePolicies = doc.rules.map((r) => {
      if (r.kind === undefined || r.name === undefined) return undefined;
      const labels = [`${POLICY_LABEL_DERIVED_FROM}${r.kind}`, `${POLICY_LABEL_NAME}${r.name}`];
      if (r.namespace !== undefined && r.namespace !== '') labels.push(`${POLICY_LABEL_NAMESPACE}${r.namespace}`);
      const p: HubblePolicy = { name: r.name };
      if (r.namespace !== undefined && r.namespace !== '') p.namespace = r.namespace;
      p.labels = Object.freeze(labels);
      p.kind = r.kind;
      return Object.freeze([Object.freeze(p)]);
    });
    this.services = doc.services.map((s) => {
      const slash = s.service.indexOf('/');
      const svc: HubbleService = slash < 0 ? { name: s.service } : { name: s.service.slice(slash + 1), namespace: s.service.slice(0, slash) };
      return Object.freeze(svc);
    });
    const parsers = new Map<number, 'http' | 'dns' | 'kafka'>();
    for (const l7 of doc.l7) if (l7.proxyPort > 0) parsers.set(l7.proxyPort, l7.parser);
    this.l7ParserByProxyPort = parsers;
  }

  /** (Re)indexes the document's identities; printed pieces built from older labels are dropped. */
  private indexIdentities(): void {
    this.identityLabels.clear();
    for (const id of this.doc.identities) this.identityLabels.set(id.identity, id.labels);
    this.indexedIdentities = this.doc.identities.length;
    this.identityObjects.clear();
    this.endpointObjectsOther.clear();
  }

  /** The labels of an identity: from the document, else the reserved identity's own. */
  labelsOfIdentity(identity: number): readonly string[] {
    if (this.doc.identities.length !== this.indexedIdentities) this.indexIdentities();
    const known = this.identityLabels.get(identity);
    if (known !== undefined) return known;
    return reservedIdentityLabels(identity).toStrings();
  }

  /**
   * A short display name for an identity that is not a managed endpoint: the reserved name
   * (`world`), the most specific `cidr:`/`fqdn:` label, or `identity N`.
   */
  identityDisplayName(identity: number): string {
    const reserved = RESERVED_IDENTITY_NAMES[identity];
    if (reserved !== undefined) return reserved;
    const labels = sortAndFilterLabels(this.labelsOfIdentity(identity), identity);
    for (const l of labels) if (l.startsWith('cidr:') || l.startsWith('fqdn:')) return l;
    return `identity ${identity}`;
  }

  /**
   * flow.proto Endpoint for one side of an event. `endpoint` is the document index (-1 for
   * none), `identity` the datapath's identity for that side and `node` the observing node: an
   * endpoint of another node is remote there, so it has no ID and carries its identity's labels.
   */
  endpoint(endpoint: number, identity: number, node: number): HubbleEndpoint {
    if (endpoint < 0 || endpoint >= this.endpointName.length) return this.identityEndpoint(identity);
    const local = node < 0 || this.endpointNode[endpoint] === node;
    const rec = this.doc.endpoints[endpoint]!;
    if (identity === rec.identity || identity === 0) {
      const key = endpoint * 2 + (local ? 1 : 0);
      let e = this.endpointObjects.get(key);
      if (e === undefined) {
        e = this.buildEndpoint(endpoint, rec.identity, local);
        this.endpointObjects.set(key, e);
      }
      return e;
    }
    const key = endpoint * 2 + (local ? 1 : 0);
    let byIdentity = this.endpointObjectsOther.get(key);
    if (byIdentity === undefined) {
      byIdentity = new Map();
      this.endpointObjectsOther.set(key, byIdentity);
    }
    let e = byIdentity.get(identity);
    if (e === undefined) {
      e = this.buildEndpoint(endpoint, identity, local);
      byIdentity.set(identity, e);
    }
    return e;
  }

  private buildEndpoint(endpoint: number, identity: number, local: boolean): HubbleEndpoint {
    const rec = this.doc.endpoints[endpoint]!;
    // A local endpoint prints its own labels when the datapath agrees on its identity; otherwise
    // (a host endpoint seen as remote-node) the labels of the identity the datapath used.
    const own = local && identity === rec.identity;
    const labels = sortAndFilterLabels(own ? rec.labels : this.labelsOfIdentity(identity), identity);
    const e: HubbleEndpoint = {};
    if (local && rec.id !== 0) e.ID = rec.id;
    if (identity !== 0) e.identity = identity;
    const cluster = clusterNameOf(labels);
    if (cluster !== undefined) e.cluster_name = cluster;
    if (rec.kind === 'pod' && rec.namespace) e.namespace = rec.namespace;
    if (labels.length > 0) e.labels = labels;
    if (rec.kind === 'pod' && rec.pod) e.pod_name = rec.pod;
    return freezeEndpoint(e);
  }

  /** flow.proto Endpoint for an address that is no managed endpoint: identity and its labels. */
  identityEndpoint(identity: number): HubbleEndpoint {
    if (identity === 0) return EMPTY_ENDPOINT;
    if (this.doc.identities.length !== this.indexedIdentities) this.indexIdentities();
    let e = this.identityObjects.get(identity);
    if (e === undefined) {
      const labels = sortAndFilterLabels(this.labelsOfIdentity(identity), identity);
      e = { identity };
      const cluster = clusterNameOf(labels);
      if (cluster !== undefined) e.cluster_name = cluster;
      if (labels.length > 0) e.labels = labels;
      e = freezeEndpoint(e);
      this.identityObjects.set(identity, e);
    }
    return e;
  }

  /** `node_name` of a node index, undefined for -1. */
  nodeName(node: number): string | undefined {
    return node >= 0 ? this.nodeNames[node] : undefined;
  }

  /** Display name of one side for summaries: `ns/pod`, `node/NAME`, or the identity's name. */
  sideName(endpoint: number, identity: number): string {
    if (endpoint >= 0 && endpoint < this.endpointName.length) return this.endpointName[endpoint]!;
    return this.identityDisplayName(identity);
  }
}
