/**
 * The seed-talk examples (examples/seed-talk/, from "Turn Your Kubernetes Cluster Into a Castle
 * Using Advanced Cilium Network Policies"): every file loads and parses, and the cluster is the
 * one examples/seed-talk/README.md documents.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadClusterObjects } from '../../src/k8s/load.js';
import { formatIp } from '../../src/net/addr.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { formatPolicyRef } from '../../src/policy/types.js';
import { peerTexts } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..', 'examples', 'seed-talk');
const POLICY_DIR = join(ROOT, 'policies');
const CLUSTER_DIR = join(ROOT, 'cluster');

describe('seed-talk policies', () => {
  const files = readdirSync(POLICY_DIR).filter((f) => f.endsWith('.yaml')).sort();

  test('the talk\'s thirteen policies and the user namespace template for other-ns are there', () => {
    expect(files).toHaveLength(14);
    expect(files).toContain('allow-within-namespace-other-ns.yaml');
  });

  test.each(files)('%s loads and parses without notes', (file) => {
    const c = loadClusterObjects([join(POLICY_DIR, file)]);
    expect(c.policies).toHaveLength(1);
    expect(c.notes).toEqual([]);
    const p = parsePolicy(c.policies[0]!);
    expect(p.notes).toBeUndefined();
    expect(p.specs.flatMap((s) => s.rules).length).toBeGreaterThan(0);
  });

  test('the set as Cilium would hold it', () => {
    const c = loadClusterObjects([POLICY_DIR]);
    const byRef = new Map(c.policies.map((raw) => {
      const p = parsePolicy(raw);
      return [formatPolicyRef(p.ref), p] as const;
    }));
    expect([...byRef.keys()].sort()).toEqual([
      'CiliumClusterwideNetworkPolicy/global-infra-dns',
      'CiliumClusterwideNetworkPolicy/global-infra-nginx',
      'CiliumClusterwideNetworkPolicy/global-infra-prometheus',
      'CiliumClusterwideNetworkPolicy/host-all',
      'CiliumClusterwideNetworkPolicy/host-cp',
      'CiliumClusterwideNetworkPolicy/host-infra',
      'CiliumClusterwideNetworkPolicy/nginx-to-services',
      'CiliumClusterwideNetworkPolicy/prometheus-to-metrics',
      'CiliumNetworkPolicy/ingress-nginx/all-to-nginx',
      'CiliumNetworkPolicy/ingress-nginx/allow-within-namespace',
      'CiliumNetworkPolicy/ingress-nginx/nginx-ingress-to-kapi',
      'CiliumNetworkPolicy/kube-system/allow-to-coredns',
      'CiliumNetworkPolicy/my-namespace-xy/allow-within-namespace',
      'CiliumNetworkPolicy/other-ns/allow-within-namespace',
    ]);

    // Host policies: nodeSelector subjects; host-all has the seven items of both slides.
    const hostAll = byRef.get('CiliumClusterwideNetworkPolicy/host-all')!;
    expect(hostAll.specs[0]!.subject).toMatchObject({ type: 'nodes', selector: { text: '{}' } });
    expect(hostAll.specs[0]!.rules.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(hostAll.specs[0]!.rules[1]!.portRules[0]!.ports).toEqual([{ protocol: 'ICMP', port: 8 }]);

    // The fixed indentation: toPorts in the same item as fromEntities.
    const hostCp = byRef.get('CiliumClusterwideNetworkPolicy/host-cp')!;
    const etcd = hostCp.specs[0]!.rules[1]!;
    expect(peerTexts(etcd)).toEqual(['entity:kube-apiserver']);
    expect(etcd.portRules[0]!.ports).toEqual([
      { protocol: 'TCP', port: 2379 },
      { protocol: 'TCP', port: 2380 },
    ]);

    // "Allow within namespace": {} peers are the policy's namespace.
    const within = byRef.get('CiliumNetworkPolicy/my-namespace-xy/allow-within-namespace')!;
    expect(within.specs[0]!.rules.map(peerTexts)).toEqual([
      ['endpoints:k8s:io.kubernetes.pod.namespace=my-namespace-xy'],
      ['endpoints:k8s:io.kubernetes.pod.namespace=my-namespace-xy'],
    ]);

    // CCNP peers on namespace labels: every namespace with the label, pods only.
    const nginx = byRef.get('CiliumClusterwideNetworkPolicy/nginx-to-services')!;
    expect(peerTexts(nginx.specs[0]!.rules[0]!)).toEqual([
      'endpoints:k8s:io.cilium.k8s.namespace.labels.exposed=true,k8s:io.kubernetes.pod.namespace',
    ]);

    // DNS through the proxy for everyone.
    const dns = byRef.get('CiliumClusterwideNetworkPolicy/global-infra-dns')!;
    expect(dns.specs[0]!.rules[0]!.portRules[0]).toMatchObject({ ports: [{ protocol: 'ANY', port: 53 }], l7: { dns: [{ matchPattern: '*' }] } });
  });
});

describe('seed-talk cluster', () => {
  const c = loadClusterObjects([CLUSTER_DIR]);

  test('the only note is the finished backup pod', () => {
    expect(c.notes).toEqual(['skipped 1 pod in phase Succeeded or Failed: default/backup-28501920-x9z8k (Succeeded)']);
    expect(c.policies).toEqual([]);
  });

  test('nodes with roles, addresses and pod CIDRs as the README says', () => {
    expect(c.nodes.map((n) => [n.name, n.addresses.map((a) => formatIp(a.words, a.family)), n.podCIDRs])).toEqual([
      ['cp-1', ['192.168.10.11', '10.0.0.1'], ['10.0.0.0/24']],
      ['infra-1', ['192.168.10.12', '10.0.1.1'], ['10.0.1.0/24']],
      ['worker-1', ['192.168.10.13', '10.0.2.1'], ['10.0.2.0/24']],
      ['worker-2', ['192.168.10.14', '10.0.3.1'], ['10.0.3.0/24']],
    ]);
    expect(c.nodes[0]!.labels['node-role.kubernetes.io/control-plane']).toBe('');
    expect(c.nodes[1]!.labels['node-role.kubernetes.io/infra']).toBe('');
  });

  test('namespaces, with the talk labels on my-namespace-xy and the name label filled in for other-ns', () => {
    expect([...c.namespaces.keys()].sort()).toEqual(['default', 'ingress-nginx', 'kube-system', 'monitoring', 'my-namespace-xy', 'other-ns']);
    expect(c.namespaces.get('my-namespace-xy')!.labels).toMatchObject({ exposed: 'true', metrics: 'true' });
    expect(c.namespaces.get('other-ns')!.labels).toEqual({ 'kubernetes.io/metadata.name': 'other-ns' });
  });

  test('pods: ten endpoints, the API server on the host network', () => {
    expect(c.pods).toHaveLength(10);
    const apiserver = c.pods.find((p) => p.name === 'kube-apiserver-cp-1')!;
    expect(apiserver.hostNetwork).toBe(true);
    expect(formatIp(apiserver.ips[0]!.words, 4)).toBe('192.168.10.11');
    const web = c.pods.find((p) => p.name.startsWith('web-'))!;
    expect(web.namedPorts).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  test('services and their backends', () => {
    expect(c.services.map((s) => `${s.namespace}/${s.name} ${s.type} ${formatIp(s.clusterIPs[0]!.words, 4)}`)).toEqual([
      'default/kubernetes ClusterIP 10.96.0.1',
      'kube-system/kube-dns ClusterIP 10.96.0.10',
      'ingress-nginx/ingress-nginx-controller NodePort 10.96.120.15',
      'my-namespace-xy/web ClusterIP 10.96.200.20',
    ]);
    const kapi = c.backends.filter((b) => b.serviceName === 'kubernetes');
    expect(kapi.map((b) => [b.addresses.map((a) => formatIp(a.words, 4)), b.ports])).toEqual([
      [['192.168.10.11'], [{ name: 'https', port: 6443, protocol: 'TCP' }]],
    ]);
  });
});
