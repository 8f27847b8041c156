/**
 * Cluster objects -> the agent's view of nodes and endpoints, with identity label sets.
 *
 * Mirrors what each Cilium agent learns from Kubernetes: pods become endpoints on their node
 * (pkg/k8s/watchers/pod.go; hostNetwork pods are not endpoints, their traffic is the node's),
 * every node has a host endpoint (pkg/endpoint host endpoint, labels = node labels), and the
 * addresses behind `default/kubernetes` are the kube-apiserver (pkg/k8s/watchers/endpoint.go).
 */
import type { ClusterObjects, NamedPort, NodeInfo, PodInfo } from '../k8s/types.js';
import { hostEndpointLabels, podIdentityLabels } from '../identity/identity-labels.js';
import { LabelSet, parseLabel } from '../identity/labels.js';
import { formatIp, type IpAddress } from '../net/addr.js';

export interface AgentNode {
  name: string;
  labels: Record<string, string>;
  addresses: IpAddress[];
  /** True when one of its addresses backs `default/kubernetes`. */
  hostsApiserver: boolean;
  /** Labels of its host endpoint (reserved:host + node labels), for nodeSelector. */
  hostEndpointLabels: LabelSet;
}

export interface AgentPod {
  namespace: string;
  name: string;
  node: string;
  addresses: IpAddress[];
  namedPorts: NamedPort[];
  identityLabels: LabelSet;
  /** Identity given by a CiliumEndpoint object, if any. */
  ciliumEndpointIdentity: number | undefined;
}

export interface ClusterModel {
  nodes: AgentNode[];
  pods: AgentPod[];
  /** Addresses behind default/kubernetes that are not node addresses (managed control planes). */
  externalApiserverAddresses: IpAddress[];
  /** Identity numbers from CiliumIdentity objects, by canonical label text. */
  preassignedIdentities: Map<string, number>;
  dualStack: boolean;
  notes: string[];
}

function addressKey(a: IpAddress): string {
  return formatIp(a.words, a.family);
}

export function buildClusterModel(objects: ClusterObjects, clusterName: string): ClusterModel {
  const notes: string[] = [];
  const apiserverAddresses = new Set<string>();
  for (const b of objects.backends) {
    if (b.namespace === 'default' && b.serviceName === 'kubernetes') {
      for (const a of b.addresses) apiserverAddresses.add(addressKey(a));
    }
  }

  const nodeAddressSet = new Set<string>();
  const nodes: AgentNode[] = [...objects.nodes]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((n: NodeInfo) => {
      for (const a of n.addresses) nodeAddressSet.add(addressKey(a));
      return {
        name: n.name,
        labels: n.labels,
        addresses: n.addresses,
        hostsApiserver: n.addresses.some((a) => apiserverAddresses.has(addressKey(a))),
        hostEndpointLabels: hostEndpointLabels(n.labels),
      };
    });
  const nodeNames = new Set(nodes.map((n) => n.name));

  const cepIdentity = new Map<string, number>();
  for (const cep of objects.ciliumEndpoints) cepIdentity.set(`${cep.namespace}/${cep.name}`, cep.identity);

  const pods: AgentPod[] = [];
  for (const p of [...objects.pods].sort(comparePods)) {
    if (p.hostNetwork) continue; // the node's own identity covers it
    if (p.nodeName === undefined || !nodeNames.has(p.nodeName)) {
      notes.push(
        `pod ${p.namespace}/${p.name}: node ${p.nodeName ?? '(none)'} is not among the Node objects; ` +
          'it is treated as a pod on an unknown node (no host endpoint, policy decided by its own maps)',
      );
    }
    const ns = objects.namespaces.get(p.namespace);
    pods.push({
      namespace: p.namespace,
      name: p.name,
      node: p.nodeName ?? '',
      addresses: p.ips,
      namedPorts: p.namedPorts,
      identityLabels: podIdentityLabels({
        namespace: p.namespace,
        labels: p.labels,
        namespaceLabels: ns?.labels ?? {},
        serviceAccount: p.serviceAccount,
        clusterName,
      }),
      ciliumEndpointIdentity: cepIdentity.get(`${p.namespace}/${p.name}`),
    });
  }

  const preassignedIdentities = new Map<string, number>();
  for (const ci of objects.ciliumIdentities) {
    const labels = new LabelSet(
      Object.entries(ci.labels).map(([k, v]) => {
        const parsed = parseLabel(k, 'unspec');
        return { source: parsed.source, key: parsed.key, value: v };
      }),
    );
    preassignedIdentities.set(labels.key(), ci.id);
  }
  for (const pod of pods) {
    if (pod.ciliumEndpointIdentity !== undefined) {
      preassignedIdentities.set(pod.identityLabels.key(), pod.ciliumEndpointIdentity);
    }
  }

  const externalApiserverAddresses: IpAddress[] = [];
  for (const b of objects.backends) {
    if (b.namespace !== 'default' || b.serviceName !== 'kubernetes') continue;
    for (const a of b.addresses) if (!nodeAddressSet.has(addressKey(a))) externalApiserverAddresses.push(a);
  }

  const dualStack =
    pods.some((p) => p.addresses.some((a) => a.family === 6)) && pods.some((p) => p.addresses.some((a) => a.family === 4));

  return { nodes, pods, externalApiserverAddresses, preassignedIdentities, dualStack, notes };
}

function comparePods(a: PodInfo, b: PodInfo): number {
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
