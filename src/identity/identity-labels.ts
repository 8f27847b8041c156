/**
 * The label sets identities are allocated for.
 *
 * Mirrors: pkg/k8s/utils (GetPodMetadata: pod labels + namespace, service account, cluster and
 * namespace labels), pkg/labels/cidr.go (CIDR labels, IPv6 colons written as dashes, plus the
 * world label of the family in dual stack), pkg/labelsfilter (identity-relevant labels).
 */
import { formatIp, type Cidr } from '../net/addr.js';
import { isIdentityRelevant, K8sLabel, LabelSet, LabelSource, type Label } from './labels.js';
import { reservedLabel } from './reserved.js';

export interface PodLabelInput {
  namespace: string;
  labels: Record<string, string>;
  namespaceLabels: Record<string, string>;
  serviceAccount: string;
  clusterName: string;
}

function k8s(key: string, value: string): Label {
  return { source: LabelSource.K8S, key, value };
}

/**
 * Identity labels of a pod: its own labels (Cilium strips `io.cilium.k8s.*` keys a user put on
 * the pod, since Cilium owns them), namespace, service account, cluster and every namespace
 * label, then the default identity-relevant filter.
 */
export function podIdentityLabels(input: PodLabelInput): LabelSet {
  const all: Label[] = [];
  for (const [key, value] of Object.entries(input.labels)) {
    if (key.startsWith('io.cilium.k8s.')) continue;
    all.push(k8s(key, value));
  }
  all.push(k8s(K8sLabel.POD_NAMESPACE, input.namespace));
  all.push(k8s(K8sLabel.SERVICE_ACCOUNT, input.serviceAccount));
  all.push(k8s(K8sLabel.CLUSTER, input.clusterName));
  for (const [key, value] of Object.entries(input.namespaceLabels)) {
    all.push(k8s(K8sLabel.NAMESPACE_LABELS_PREFIX + key, value));
  }
  return new LabelSet(all.filter(isIdentityRelevant));
}

/** Labels of a node's host endpoint, for nodeSelector matching: reserved:host + node labels. */
export function hostEndpointLabels(nodeLabels: Record<string, string>): LabelSet {
  const all: Label[] = [reservedLabel('host')];
  for (const [key, value] of Object.entries(nodeLabels)) all.push(k8s(key, value));
  return new LabelSet(all);
}

/** `cidr:` label key of a prefix: IPv6 colons become dashes, with a 0 where one would lead or trail. */
export function cidrLabelKey(cidr: Cidr): string {
  const text = formatIp(cidr.words, cidr.family);
  let out = '';
  if (text.includes(':')) {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch !== ':') out += ch;
      else if (i === 0) out += '0-';
      else if (i === text.length - 1) out += '-0';
      else out += '-';
    }
  } else {
    out = text;
  }
  return `${out}/${cidr.prefixLen}`;
}

/** The world label an address of this family gets: world-ipv4/world-ipv6 in dual stack, else world. */
export function worldLabelFor(family: 4 | 6, dualStack: boolean): Label {
  if (!dualStack) return reservedLabel('world');
  return reservedLabel(family === 4 ? 'world-ipv4' : 'world-ipv6');
}

/** Identity labels of a CIDR prefix named by a policy: `cidr:<prefix>` plus the world label. */
export function cidrIdentityLabels(cidr: Cidr, dualStack: boolean): LabelSet {
  return new LabelSet([{ source: LabelSource.CIDR, key: cidrLabelKey(cidr), value: '' }, worldLabelFor(cidr.family, dualStack)]);
}
