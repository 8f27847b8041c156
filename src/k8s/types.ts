/**
 * The cluster as hubcap reads it from `kubectl get -o yaml` output: only what the agent needs,
 * each object remembering where it was read (file:line:col) for messages.
 *
 * Policy objects are not interpreted here (that is src/policy/, one layer up): the loader hands
 * them over as RawObjects that can position any of their fields, so the policy parser can
 * validate strictly and point at the exact line and column of a bad field.
 */
import type { Document, Node as YamlNode, LineCounter } from 'yaml';
import type { SourcePosition } from '../errors.js';
import type { IpAddress } from '../net/addr.js';
import type { ObjectPositions } from './yaml-node.js';

/** One YAML/JSON document (or one item of a `kind: List`), with its source. */
export interface RawObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  /** The plain JS value of the object. */
  value: Record<string, unknown>;
  file: string;
  /** Where the object starts. */
  position: SourcePosition;
  /** Field path of the object inside its document (`items[3]` for a List item); absent at the top. */
  path?: string;
  /**
   * Read by a fast parser (JSON.parse, js-yaml): finds the YAML node of the object when a
   * position inside it is needed. Set exactly when `node` is not.
   */
  positions?: ObjectPositions;
  /** Read by the `yaml` Document API: the YAML node of the object, for positions of nested fields. */
  node?: YamlNode;
  lineCounter?: LineCounter;
  /** The YAML document holding `node`, to resolve aliases (`*anchor`) inside it. */
  document?: Document;
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
  position: SourcePosition;
}

export interface NamedPort {
  name: string;
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  serviceAccount: string;
  nodeName: string | undefined;
  /** status.podIPs (or status.podIP). */
  ips: IpAddress[];
  hostNetwork: boolean;
  /** containers[].ports[] with a name. */
  namedPorts: NamedPort[];
  position: SourcePosition;
}

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  /** status.addresses of type InternalIP and ExternalIP (and Cilium's CiliumInternalIP if annotated). */
  addresses: IpAddress[];
  /** spec.podCIDRs, for reference (pod addresses come from the pods themselves). */
  podCIDRs: string[];
  position: SourcePosition;
}

export interface ServicePort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  /** Number, or a container port name resolved per backend pod. */
  targetPort: number | string;
  nodePort?: number;
}

export interface ServiceInfo {
  namespace: string;
  name: string;
  type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** spec.clusterIPs (empty for headless services). */
  clusterIPs: IpAddress[];
  externalIPs: IpAddress[];
  ports: ServicePort[];
  /** spec.selector; undefined for services without one (backends from Endpoints only). */
  selector: Record<string, string> | undefined;
  position: SourcePosition;
}

/**
 * A service's backends as Endpoints or EndpointSlices list them: one entry per EndpointSlice or
 * per Endpoints subset (each is a set of addresses that all serve the same ports), so several
 * entries may share a service; union them. When a service has EndpointSlices its Endpoints are
 * left out (Cilium reads EndpointSlices), and only ready addresses are listed.
 */
export interface ServiceBackends {
  namespace: string;
  serviceName: string;
  addresses: IpAddress[];
  /** Backend ports by service port name ('' for the unnamed port). */
  ports: Array<{ name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }>;
  position: SourcePosition;
  /** Which object kind listed these backends. */
  source?: 'Endpoints' | 'EndpointSlice';
}

export interface CiliumIdentityInfo {
  id: number;
  /** `security-labels` as `source:key` -> value. */
  labels: Record<string, string>;
  position: SourcePosition;
}

export interface CiliumEndpointInfo {
  namespace: string;
  name: string;
  identity: number;
  addresses: IpAddress[];
  position: SourcePosition;
}

export interface ClusterObjects {
  namespaces: Map<string, NamespaceInfo>;
  pods: PodInfo[];
  nodes: NodeInfo[];
  services: ServiceInfo[];
  backends: ServiceBackends[];
  ciliumIdentities: CiliumIdentityInfo[];
  ciliumEndpoints: CiliumEndpointInfo[];
  /** NetworkPolicy, CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy objects, unparsed. */
  policies: RawObject[];
  /** Human notes: skipped pods, unknown kinds counted, and similar. */
  notes: string[];
}
