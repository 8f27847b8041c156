/**
 * Generates a cluster and a policy set shaped like real ones, as `kubectl get -o yaml` prints
 * them, for the compile, replay and map-scale benchmarks.
 *
 * Shape: namespaces of several apps each, Deployments' pods (with pod-template-hash, named
 * container ports, status with podIPs, conditions and container statuses), nodes with
 * InternalIPs and role labels, a ClusterIP Service per app. Policies mix the kinds users write:
 * per-app CNP ingress from other apps on named and numbered ports, L7 HTTP rules, namespace-wide
 * NetworkPolicies with namespaceSelector, egress to kube-dns with DNS rules, CIDR egress with
 * except, deny rules, and a few clusterwide policies. Deterministic for a given size.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { mulberry32 } from './random.js';

export interface ClusterShape {
  pods: number;
  policies: number;
  nodes?: number;
  podsPerApp?: number;
  appsPerNamespace?: number;
}

export interface GeneratedPod {
  namespace: string;
  name: string;
  app: string;
  ip: string;
  node: string;
}

export interface GeneratedCluster {
  clusterYaml: string;
  policyYaml: string;
  pods: GeneratedPod[];
  nodes: Array<{ name: string; ip: string }>;
  namespaces: string[];
  apps: Array<{ namespace: string; app: string; port: number }>;
}

function podIp(i: number): string {
  // 10.<16+i/65536>.x.y: spread over /16s like per-node pod CIDRs would be.
  const n = i + 10;
  return `10.${16 + Math.floor(n / 65536)}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

export function generateCluster(shape: ClusterShape): GeneratedCluster {
  const random = mulberry32(shape.pods * 31 + shape.policies);
  const nodeCount = shape.nodes ?? Math.max(3, Math.ceil(shape.pods / 100));
  const podsPerApp = shape.podsPerApp ?? 5;
  const appsPerNs = shape.appsPerNamespace ?? 10;
  const appCount = Math.ceil(shape.pods / podsPerApp);
  const nsCount = Math.ceil(appCount / appsPerNs);

  const nodes = Array.from({ length: nodeCount }, (_, i) => ({
    name: `node-${String(i).padStart(3, '0')}`,
    ip: `192.168.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  }));
  const namespaces = Array.from({ length: nsCount }, (_, i) => `team-${String(i).padStart(3, '0')}`);
  const apps: Array<{ namespace: string; app: string; port: number }> = [];
  for (let a = 0; a < appCount; a++) {
    apps.push({ namespace: namespaces[Math.floor(a / appsPerNs)]!, app: `app-${a % appsPerNs}`, port: 8000 + (a % 7) * 10 });
  }

  const items: object[] = [];
  const ts = '2026-10-01T08:00:00Z';
  items.push({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' }, uid: 'ns-kube-system', creationTimestamp: ts },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
  namespaces.forEach((name, i) =>
    items.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name,
        labels: { 'kubernetes.io/metadata.name': name, tier: i % 3 === 0 ? 'frontend' : 'backend', exposed: String(i % 2 === 0) },
        uid: `ns-${i}`,
        resourceVersion: String(1000 + i),
        creationTimestamp: ts,
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    }),
  );
  nodes.forEach((n, i) =>
    items.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: {
          'kubernetes.io/hostname': n.name,
          'kubernetes.io/os': 'linux',
          ...(i === 0 ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
        },
        annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
        uid: `node-${i}`,
        creationTimestamp: ts,
      },
      spec: { podCIDR: `10.${16 + i}.0.0/16`, podCIDRs: [`10.${16 + i}.0.0/16`] },
      status: {
        addresses: [
          { type: 'InternalIP', address: n.ip },
          { type: 'Hostname', address: n.name },
        ],
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: ts, lastTransitionTime: ts }],
        nodeInfo: { kubeletVersion: 'v1.31.2', osImage: 'Debian GNU/Linux 12 (bookworm)', containerRuntimeVersion: 'containerd://1.7.22' },
      },
    }),
  );

  // kube-dns
  const pods: GeneratedPod[] = [];
  const dnsIp = '10.15.0.10';
  items.push(podObject('kube-system', 'coredns-7db6d8ff4d-abcde', { 'k8s-app': 'kube-dns', 'pod-template-hash': '7db6d8ff4d' }, dnsIp, nodes[0]!.name, [
    { name: 'dns', containerPort: 53, protocol: 'UDP' },
    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
  ]));
  pods.push({ namespace: 'kube-system', name: 'coredns-7db6d8ff4d-abcde', app: 'kube-dns', ip: dnsIp, node: nodes[0]!.name });
  items.push(serviceObject('kube-system', 'kube-dns', { 'k8s-app': 'kube-dns' }, '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }]));

  for (let i = 0; i < shape.pods; i++) {
    const appIndex = Math.floor(i / podsPerApp);
    const a = apps[appIndex]!;
    // One ReplicaSet per app: its pods share labels, pod-template-hash included (which Cilium's
    // label filter drops anyway); the random part is the pod suffix.
    const hash = ((appIndex * 2654435761) >>> 0).toString(16).padStart(8, '0').slice(0, 8);
    const suffix = Math.floor(random() * 36 ** 5).toString(36).padStart(5, '0');
    const name = `${a.app}-${hash}-${suffix}`;
    const node = nodes[i % nodeCount]!.name;
    const ip = podIp(i);
    items.push(
      podObject(a.namespace, name, { app: a.app, version: `v${1 + (appIndex % 3)}`, 'pod-template-hash': hash }, ip, node, [
        { name: 'http', containerPort: a.port, protocol: 'TCP' },
        { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
      ]),
    );
    pods.push({ namespace: a.namespace, name, app: a.app, ip, node });
  }
  apps.forEach((a, i) => {
    if (i % podsPerApp === 0) {
      items.push(serviceObject(a.namespace, a.app, { app: a.app }, `10.96.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`, [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 'http' }]));
    }
  });

  const policies: object[] = [];
  for (let p = 0; p < shape.policies; p++) {
    const a = apps[p % apps.length]!;
    const peer = apps[(p * 7 + 3) % apps.length]!;
    const kind = p % 10;
    const meta = { name: `policy-${p}`, namespace: a.namespace };
    if (kind < 4) {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: meta,
        spec: {
          endpointSelector: { matchLabels: { app: a.app } },
          ingress: [
            {
              fromEndpoints: [{ matchLabels: { app: peer.app, 'k8s:io.kubernetes.pod.namespace': peer.namespace } }],
              toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }, { port: '9090', protocol: 'TCP' }] }],
            },
            { fromEndpoints: [{}], toPorts: [{ ports: [{ port: String(a.port), protocol: 'TCP' }] }] },
          ],
        },
      });
    } else if (kind === 4) {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: meta,
        spec: {
          endpointSelector: { matchLabels: { app: a.app } },
          ingress: [
            {
              fromEndpoints: [{ matchLabels: { app: peer.app } }],
              toPorts: [{ ports: [{ port: String(a.port), protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/api/v1/.*' }, { method: 'POST', path: '/api/v1/items' }] } }],
            },
          ],
        },
      });
    } else if (kind === 5) {
      policies.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: meta,
        spec: {
          podSelector: { matchLabels: { app: a.app } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { tier: 'frontend' } }, podSelector: { matchLabels: { version: 'v1' } } }], ports: [{ port: a.port, protocol: 'TCP' }] }],
          egress: [
            { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }], ports: [{ port: 53, protocol: 'UDP' }] },
            { to: [{ podSelector: {} }] },
          ],
        },
      });
    } else if (kind === 6) {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: meta,
        spec: {
          endpointSelector: { matchLabels: { app: a.app } },
          egress: [
            {
              toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
              toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*.example.com' }] } }],
            },
            { toCIDRSet: [{ cidr: `172.${16 + (p % 16)}.0.0/16`, except: [`172.${16 + (p % 16)}.${p % 256}.0/24`] }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
            { toEndpoints: [{}] },
          ],
        },
      });
    } else if (kind === 7) {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: meta,
        spec: {
          endpointSelector: { matchLabels: { app: a.app } },
          ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: peer.app } }], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] }],
          ingress: [{ fromEntities: ['cluster'], toPorts: [{ ports: [{ port: '9000', endPort: 9100, protocol: 'TCP' }] }] }],
        },
      });
    } else if (kind === 8) {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumClusterwideNetworkPolicy',
        metadata: { name: `cw-policy-${p}` },
        spec: {
          endpointSelector: { matchLabels: { 'k8s:io.cilium.k8s.namespace.labels.exposed': 'true', app: a.app } },
          ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': peer.namespace } }], toPorts: [{ ports: [{ port: 'metrics', protocol: 'TCP' }] }] }],
        },
      });
    } else {
      policies.push({
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: meta,
        spec: {
          endpointSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: [a.app, peer.app] }] },
          ingress: [{ fromEndpoints: [{ matchExpressions: [{ key: 'version', operator: 'NotIn', values: ['v3'] }] }], icmps: [{ fields: [{ type: 'EchoRequest', family: 'IPv4' }] }] }],
        },
      });
    }
  }

  return {
    clusterYaml: stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } }, { lineWidth: 0 }),
    policyYaml: stringify({ apiVersion: 'v1', kind: 'List', items: policies, metadata: { resourceVersion: '' } }, { lineWidth: 0 }),
    pods,
    nodes,
    namespaces,
    apps,
  };
}

function podObject(namespace: string, name: string, labels: Record<string, string>, ip: string, node: string, ports: object[]): object {
  const ts = '2026-10-01T08:00:00Z';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels,
      generateName: `${name.slice(0, -6)}-`,
      uid: `uid-${name}`,
      resourceVersion: '12345',
      creationTimestamp: ts,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: name.slice(0, -6), uid: 'rs-uid', controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      containers: [
        {
          name: 'main',
          image: 'registry.example.com/app:1.2.3',
          imagePullPolicy: 'IfNotPresent',
          ports,
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      dnsPolicy: 'ClusterFirst',
      nodeName: node,
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      serviceAccount: 'default',
      serviceAccountName: 'default',
      terminationGracePeriodSeconds: 30,
      tolerations: [{ effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 }],
      volumes: [{ name: 'kube-api-access', projected: { defaultMode: 420, sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }] } }],
    },
    status: {
      phase: 'Running',
      hostIP: '192.168.0.1',
      podIP: ip,
      podIPs: [{ ip }],
      qosClass: 'Burstable',
      startTime: ts,
      conditions: [
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: ts },
        { type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: ts },
        { type: 'ContainersReady', status: 'True', lastProbeTime: null, lastTransitionTime: ts },
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: ts },
      ],
      containerStatuses: [
        {
          name: 'main',
          image: 'registry.example.com/app:1.2.3',
          imageID: 'registry.example.com/app@sha256:0123456789abcdef',
          containerID: 'containerd://0123456789abcdef',
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: ts } },
        },
      ],
    },
  };
}

function serviceObject(namespace: string, name: string, selector: Record<string, string>, clusterIP: string, ports: object[]): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { app: name }, uid: `svc-${namespace}-${name}`, creationTimestamp: '2026-10-01T08:00:00Z' },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports, selector, sessionAffinity: 'None' },
    status: { loadBalancer: {} },
  };
}

/** Writes the generated cluster to `dir/cluster.yaml` and `dir/policies.yaml`. */
export function writeGeneratedCluster(dir: string, cluster: GeneratedCluster): { clusterFile: string; policyFile: string } {
  mkdirSync(dir, { recursive: true });
  const clusterFile = join(dir, 'cluster.yaml');
  const policyFile = join(dir, 'policies.yaml');
  writeFileSync(clusterFile, cluster.clusterYaml);
  writeFileSync(policyFile, cluster.policyYaml);
  return { clusterFile, policyFile };
}
