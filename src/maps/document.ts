/**
 * The agent's whole output as one serialisable document (`hubcap maps dump`, `replay --maps`).
 *
 * This is the contract between the control plane (src/agent/, which reads YAML) and the data
 * plane (src/datapath/, which never does): identities with labels, endpoints, the ipcache of
 * every node view, every policy map with provenance, services with backends, the L7 rules behind
 * each proxy redirect and the FQDN selectors. Same YAML in, same bytes out: every list is sorted.
 *
 * Addresses and prefixes are text (canonical: dotted quad, RFC 5952) so the file diffs well.
 */

export const MAPS_DOCUMENT_VERSION = 1;

export interface MapsOptions {
  clusterName: string;
  enablePolicy: 'default' | 'always' | 'never';
  hostFirewall: boolean;
  policyMapMax: number;
  ipcacheMax: number;
  dualStack: boolean;
}

export interface IdentityRecord {
  identity: number;
  labels: string[];
  /** Endpoints (`ns/pod`, `node/NAME`) that have this identity. */
  endpoints: string[];
}

export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  addresses: string[];
  /** Labels of identity 1 (host) on this node: reserved:host, plus reserved:kube-apiserver where the apiserver runs. */
  hostIdentityLabels: string[];
}

export interface NamedPortRecord {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface EndpointRecord {
  /** Endpoint id, unique in the document (Cilium's are per node; hubcap's are global). */
  id: number;
  /** `ns/pod` or `node/NAME`. */
  name: string;
  kind: 'pod' | 'host';
  namespace?: string;
  pod?: string;
  node: string;
  identity: number;
  labels: string[];
  addresses: string[];
  namedPorts: NamedPortRecord[];
  /** Whether each direction is enforced (default deny) on this endpoint. */
  policyEnabled: { ingress: boolean; egress: boolean };
}

export interface IpcacheRecord {
  prefix: string;
  identity: number;
}

export interface IpcacheViewRecord {
  /** The node whose view this is. */
  node: string;
  /** Entries only this node has (node addresses: host here, remote-node elsewhere). */
  entries: IpcacheRecord[];
}

export interface IpcacheDocument {
  /** Entries every node shares (pods, CIDRs, world defaults). */
  shared: IpcacheRecord[];
  views: IpcacheViewRecord[];
  capacity: number;
  /** Prefixes that did not fit (traffic to them gets the wrong identity, as in Cilium). */
  overflow: string[];
}

export type PolicyVerdictName = 'allow' | 'deny' | 'redirect';

export interface PolicyEntryRecord {
  direction: 'ingress' | 'egress';
  identity: number;
  /** 0 = any. */
  protocol: number;
  port: number;
  /** 0..24: the protocol/port part of the prefix as Cilium counts it (kernel key: 40 + this). */
  prefixLen: number;
  verdict: PolicyVerdictName;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  /** Indexes into `MapsDocument.rules`, the rules this entry was derived from. */
  derivedFrom: number[];
}

export interface PolicyMapRecord {
  endpoint: string;
  endpointId: number;
  capacity: number;
  entries: PolicyEntryRecord[];
  /** Entries that did not fit: Cilium fails to regenerate such an endpoint. */
  overflow: number;
}

/** Provenance of map entries: a policy rule, or one of the agent's own reasons. */
export interface RuleRecord {
  /** `Kind/namespace/name#index`, or a reserved reason such as `allow-any-ingress`. */
  ref: string;
  /** `file:line` of the rule, absent for the agent's own reasons. */
  source?: string;
  kind?: string;
  namespace?: string;
  name?: string;
}

export interface ServiceFrontendRecord {
  /** `ns/name` of the Service. */
  service: string;
  type: 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';
  address: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  backends: Array<{ address: string; port: number }>;
}

export interface L7RuleSetRecord {
  endpoint: string;
  direction: 'ingress' | 'egress';
  protocol: number;
  port: number;
  /** Last port of a range (inclusive); equal to port for a single port. */
  endPort: number;
  parser: 'http' | 'dns' | 'kafka';
  proxyPort: number;
  /** Peer identities the rules apply to; [0] means any peer. */
  peers: number[];
  /** The rules as written (OR'ed); an empty list allows everything (an L3/L4-only rule for the same peers). */
  rules: unknown[];
  derivedFrom: number[];
}

/**
 * One policy-map entry a toFQDNs rule gives every identity its selector selects: the key and
 * value without the identity, which the agent fills in when a DNS answer teaches it an address
 * (src/agent/fqdn.ts). toFQDNs exists only in egress allow rules, so `deny` is false today.
 */
export interface FqdnSelectorUse {
  endpoint: string;
  direction: 'egress';
  protocol: number;
  port: number;
  prefixLen: number;
  deny: boolean;
  proxyPort: number;
  proxyPortPriority: number;
  authType: number;
  hasExplicitAuthType: boolean;
  derivedFrom: number[];
  /** For a redirect: the L7 rules behind it, as an L7RuleSetRecord carries them (port range, parser, rules). */
  l7?: { parser: 'http' | 'dns' | 'kafka'; port: number; endPort: number; rules: unknown[] };
}

export interface FqdnSelectorRecord {
  matchName?: string;
  matchPattern?: string;
  /** Rules that use it. */
  derivedFrom: number[];
  /** The entries each selected identity gets, per endpoint (absent in documents from older hubcap). */
  uses?: FqdnSelectorUse[];
}

export interface MapsDocument {
  version: typeof MAPS_DOCUMENT_VERSION;
  generator: 'hubcap';
  options: MapsOptions;
  nodes: NodeRecord[];
  identities: IdentityRecord[];
  endpoints: EndpointRecord[];
  ipcache: IpcacheDocument;
  policyMaps: PolicyMapRecord[];
  rules: RuleRecord[];
  services: ServiceFrontendRecord[];
  l7: L7RuleSetRecord[];
  fqdnSelectors: FqdnSelectorRecord[];
  notes: string[];
}
