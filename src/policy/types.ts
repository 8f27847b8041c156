/**
 * One normalized rule model for NetworkPolicy, CiliumNetworkPolicy and
 * CiliumClusterwideNetworkPolicy.
 *
 * Mirrors: pkg/policy/api (Rule, IngressRule, EgressRule, PortRule, L7Rules), after the
 * translation Cilium applies when it reads a policy from Kubernetes
 * (pkg/k8s/apis/cilium.io/utils/utils.go ParseToCiliumRule, pkg/k8s/network_policy.go for
 * NetworkPolicy): namespace scoping is already injected into selectors here, so the agent never
 * needs to know which kind a rule came from to decide what it selects.
 */
import type { SourcePosition } from '../errors.js';
import type { Cidr } from '../net/addr.js';

export type PolicyKind = 'NetworkPolicy' | 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';

/** Which policy object a rule came from. `namespace` is absent for the clusterwide kind. */
export interface PolicyRef {
  kind: PolicyKind;
  namespace?: string;
  name: string;
}

/** `Kind/namespace/name` (no namespace part for clusterwide kinds). */
export function formatPolicyRef(ref: PolicyRef): string {
  return ref.namespace === undefined ? `${ref.kind}/${ref.name}` : `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/**
 * A label selector requirement after Cilium's parsing: `source` is `k8s`, `reserved`, `cidr`,
 * `fqdn`, ... or `any` (a key written without a source matches every source).
 */
export interface SelectorRequirement {
  source: string;
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

/** matchLabels and matchExpressions as one AND'ed list; empty selects everything. */
export interface EndpointSelector {
  requirements: SelectorRequirement[];
  /** Canonical text (sorted requirements), for caching and for humans. */
  text: string;
}

/** Cilium's entity names (pkg/policy/api/entity.go). */
export type EntityName =
  | 'all'
  | 'world'
  | 'world-ipv4'
  | 'world-ipv6'
  | 'cluster'
  | 'host'
  | 'remote-node'
  | 'kube-apiserver'
  | 'init'
  | 'health'
  | 'unmanaged'
  | 'ingress'
  | 'none';

/** Who is on the other side of a rule. Several peers in one rule are OR'ed. */
export type Peer =
  /** fromEndpoints/toEndpoints, NetworkPolicy podSelector/namespaceSelector (namespace injected). */
  | { type: 'endpoints'; selector: EndpointSelector }
  /** fromNodes/toNodes: node labels, selects host / remote-node addresses of matching nodes. */
  | { type: 'nodes'; selector: EndpointSelector }
  | { type: 'entity'; entity: EntityName }
  /** fromCIDR/toCIDR/fromCIDRSet/toCIDRSet/ipBlock: outside-cluster addresses only. */
  | { type: 'cidr'; cidr: Cidr; except: Cidr[] }
  /**
   * toServices: resolved by the agent from Services/Endpoints. `namespace` is '' when the
   * policy gave none: any namespace (Cilium's serviceMatches treats an empty namespace as a
   * wildcard). `selector` is a service label selector (k8sServiceSelector), keys as written.
   */
  | { type: 'service'; name?: string; namespace: string; selector?: EndpointSelector }
  /** toFQDNs: selects addresses learned from allowed DNS answers (nothing before). */
  | { type: 'fqdn'; matchName?: string; matchPattern?: string };

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP' | 'ICMPv6' | 'ANY';

export interface PortSpec {
  protocol: PortProtocol;
  /** 0 = all ports; a string is a named port resolved per destination endpoint. */
  port: number | string;
  /** Inclusive end of a range (`endPort`); undefined for a single port. */
  endPort?: number;
}

/** rules.http entries (pkg/policy/api/http.go). Regex fields are RE2, full match. */
export interface HttpRule {
  method?: string;
  path?: string;
  host?: string;
  /** "Name: value" (exact) or "Name" (present). */
  headers?: string[];
  headerMatches?: Array<{ name: string; value?: string; mismatch?: 'LOG' | 'ADD' | 'DELETE' | 'REPLACE' }>;
}

export interface DnsRule {
  matchName?: string;
  matchPattern?: string;
}

export interface KafkaRule {
  role?: 'produce' | 'consume';
  apiKey?: string;
  apiVersion?: string;
  clientID?: string;
  topic?: string;
}

export interface L7Rules {
  http?: HttpRule[];
  dns?: DnsRule[];
  kafka?: KafkaRule[];
  /** `l7proto`: a proxylib parser name; `l7` its key-value rules (accepted, not enforced by hubcap). */
  l7proto?: string;
  l7?: Array<Record<string, string>>;
}

/**
 * One toPorts entry: the ports and the L7 rules that apply to them. A CNP entry without `ports`
 * is normalized to `[{protocol: 'ANY', port: 0}]` (all ports), so an empty `ports` list selects
 * no port at all (an `icmps` item with no `fields`).
 */
export interface PortRule {
  ports: PortSpec[];
  l7?: L7Rules;
  position?: SourcePosition;
  /** `serverNames` (TLS SNI) the entry is limited to. */
  serverNames?: string[];
}

/**
 * One ingress / egress / ingressDeny / egressDeny item of a policy (for NetworkPolicy: one
 * `ingress`/`egress` entry, or the implicit empty rule `policyTypes` creates).
 */
export interface PolicyRule {
  /** The policy this came from and this item's 0-based index among its items, document order. */
  ref: PolicyRef;
  index: number;
  /** Where the item starts in its file. */
  position: SourcePosition;
  direction: 'ingress' | 'egress';
  deny: boolean;
  /**
   * OR'ed peers. `undefined` = no L3 restriction (wildcard peer: identity 0 entries). An empty
   * list selects no peer: a CNP item with neither peers nor ports (`ingress: [{}]`, which only
   * turns default deny on) or with an explicitly empty list (`fromEndpoints: []`) allows nothing.
   */
  peers: Peer[] | undefined;
  /**
   * fromRequires/toRequires of this item: selectors every peer of every rule selecting the
   * same subject must also match (deprecated in Cilium, still honoured).
   */
  requires: EndpointSelector[];
  /**
   * toPorts (ICMP rules turned into ports with protocol ICMP/ICMPv6 and the type as port).
   * Empty list = all ports and protocols.
   */
  portRules: PortRule[];
  /** `authentication.mode: required` (mutual auth): entries get an auth type. */
  authRequired: boolean;
  /** `authentication.mode` as written; `test-always-fail` also sets authRequired. */
  authMode?: 'disabled' | 'required' | 'test-always-fail';
}

/** Which endpoints a policy spec applies to. */
export type Subject =
  /** endpointSelector / podSelector, namespace already injected for namespaced kinds. */
  | { type: 'endpoints'; selector: EndpointSelector }
  /** nodeSelector of a clusterwide policy: the host endpoint of matching nodes (host firewall). */
  | { type: 'nodes'; selector: EndpointSelector };

/** One spec of a policy object (a CNP may carry several under `specs:`). */
export interface PolicySpec {
  ref: PolicyRef;
  /** 0 for `spec`, i for `specs[i]`. */
  specIndex: number;
  position: SourcePosition;
  subject: Subject;
  description?: string;
  /**
   * Whether this spec turns on default deny for its subject in each direction: it has rules in
   * that direction (allow or deny, even an empty list item) and `enableDefaultDeny` does not
   * switch it off; for NetworkPolicy, `policyTypes` decides.
   */
  defaultDeny: { ingress: boolean; egress: boolean };
  rules: PolicyRule[];
}

/** A whole loaded policy object (for `maps` provenance and notes). */
export interface PolicyObject {
  ref: PolicyRef;
  position: SourcePosition;
  specs: PolicySpec[];
  /** What the parser filled in or accepted with a caveat (defaults, host bits, ignored fields). */
  notes?: string[];
}
