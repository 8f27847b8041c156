/**
 * The cluster loader: how files, directories, multi-document YAML, `kind: List` (kubectl get -o
 * yaml), typed lists (PodList) and JSON become the cluster model, and the notes it leaves.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildClusterObjects, collectFiles, loadClusterObjects, loadClusterText } from '../../src/k8s/load.js';
import { readDocuments } from '../../src/k8s/documents.js';
import { formatIp } from '../../src/net/addr.js';
import type { IpAddress } from '../../src/net/addr.js';

const ips = (list: IpAddress[]): string[] => list.map((a) => formatIp(a.words, a.family));

function pod(ns: string, name: string, ip: string | undefined, extra = ''): string {
  const status = ip === undefined ? 'status: {phase: Pending}' : `status: {phase: Running, podIPs: [{ip: "${ip}"}]}`;
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}\nspec: {nodeName: n1${extra}}\n${status}\n`;
}

describe('documents', () => {
  test('multi-document YAML, empty documents and comments are skipped', () => {
    const text = `# leading comment\n---\n${pod('a', 'p1', '10.0.0.1')}---\n---\n# only a comment\n---\n${pod('a', 'p2', '10.0.0.2')}`;
    const c = loadClusterText(text, 'multi.yaml');
    expect(c.pods.map((p) => p.name)).toEqual(['p1', 'p2']);
  });

  test('kind: List as kubectl get -o yaml prints it; items keep their own positions', () => {
    const text = [
      'apiVersion: v1',
      'items:',
      '- apiVersion: v1',
      '  kind: Namespace',
      '  metadata: {name: a, labels: {team: x}}',
      '- apiVersion: v1',
      '  kind: Pod',
      '  metadata: {name: p1, namespace: a}',
      '  status: {podIPs: [{ip: 10.0.0.1}, {ip: "fd00::1"}]}',
      'kind: List',
      'metadata: {resourceVersion: ""}',
      '',
    ].join('\n');
    const c = loadClusterText(text, 'list.yaml');
    expect(c.namespaces.get('a')?.labels).toEqual({ team: 'x', 'kubernetes.io/metadata.name': 'a' });
    expect(c.pods[0]!.position).toEqual({ file: 'list.yaml', line: 6, col: 3 });
    expect(ips(c.pods[0]!.ips)).toEqual(['10.0.0.1', 'fd00::1']);
  });

  test('typed lists (PodList) give their items kind and apiVersion', () => {
    const text = 'apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: p1, namespace: a}\n  status: {podIP: 10.0.0.9}\n';
    const r = readDocuments(text, 'podlist.yaml');
    expect(r.objects.map((o) => [o.kind, o.apiVersion, o.name, o.path])).toEqual([['Pod', 'v1', 'p1', 'items[0]']]);
    expect(r.objects[0]!.value.kind).toBe('Pod');
    expect(ips(loadClusterText(text, 'podlist.yaml').pods[0]!.ips)).toEqual(['10.0.0.9']);
  });

  test('JSON (kubectl get -o json), with line and column positions', () => {
    const text = JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'List',
        items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p1', namespace: 'a' }, status: { podIPs: [{ ip: '10.0.0.1' }] } }],
      },
      null,
      2,
    );
    const c = loadClusterText(text, 'pods.json');
    expect(c.pods).toHaveLength(1);
    expect(c.pods[0]!.position.line).toBe(5);
  });

  test('anchors and aliases are followed', () => {
    const text =
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  namespace: a\n  labels: &l {app: web}\n  annotations: *l\nstatus: {podIP: 10.0.0.1}\n';
    expect(loadClusterText(text, 'a.yaml').pods[0]!.labels).toEqual({ app: 'web' });
  });
});

describe('cluster kinds', () => {
  test('pods: labels, service account, node, hostNetwork, named ports', () => {
    const text = `
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  nodeName: worker-1
  hostNetwork: false
  serviceAccountName: web-sa
  containers:
    - name: c
      ports:
        - {name: http, containerPort: 8080}
        - {containerPort: 9000}
        - {name: dns, containerPort: 53, protocol: UDP}
status: {phase: Running, podIP: 10.0.0.5}
`;
    const p = loadClusterText(text, 'p.yaml').pods[0]!;
    expect(p).toMatchObject({ namespace: 'shop', name: 'web', serviceAccount: 'web-sa', nodeName: 'worker-1', hostNetwork: false });
    expect(p.namedPorts).toEqual([
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ]);
  });

  test('pods without IPs and finished pods are skipped with a note each', () => {
    const text = [pod('a', 'up', '10.0.0.1'), pod('a', 'pending', undefined), pod('a', 'done', '10.0.0.3').replace('Running', 'Succeeded'), pod('a', 'crashed', '10.0.0.4').replace('Running', 'Failed')].join('---\n');
    const c = loadClusterText(text, 'p.yaml');
    expect(c.pods.map((p) => p.name)).toEqual(['up']);
    expect(c.notes).toContain('skipped 2 pods in phase Succeeded or Failed: a/done (Succeeded), a/crashed (Failed)');
    expect(c.notes).toContain('skipped 1 pod without an IP address (status.podIPs): a/pending');
  });

  test('a pod in a namespace with no Namespace object creates it, with a note', () => {
    const c = loadClusterText(pod('ghost', 'p', '10.0.0.1'), 'p.yaml');
    expect(c.namespaces.get('ghost')?.labels).toEqual({ 'kubernetes.io/metadata.name': 'ghost' });
    expect(c.notes.some((n) => n.startsWith('created 1 namespace with no Namespace object') && n.endsWith(': ghost'))).toBe(true);
  });

  test('Namespace label kubernetes.io/metadata.name is kept when present', () => {
    const c = loadClusterText('apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {kubernetes.io/metadata.name: a, x: "1"}}\n', 'n.yaml');
    expect(c.namespaces.get('a')?.labels).toEqual({ 'kubernetes.io/metadata.name': 'a', x: '1' });
  });

  test('unknown kinds are counted in one note', () => {
    const text = [
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n',
      'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n',
    ].join('---\n');
    const c = loadClusterText(text, 'x.yaml');
    expect(c.notes).toEqual(['skipped 4 objects of unknown kinds: ConfigMap (3), Deployment (1)']);
  });

  test('duplicates: the later object wins, with a note naming both places', () => {
    const text = pod('a', 'p', '10.0.0.1') + '---\n' + pod('a', 'p', '10.0.0.2');
    const c = loadClusterText(text, 'd.yaml');
    expect(c.pods).toHaveLength(1);
    expect(ips(c.pods[0]!.ips)).toEqual(['10.0.0.2']);
    expect(c.notes).toContain('1 duplicate object, the later one wins: Pod a/p (d.yaml:1:1 replaced by d.yaml:7:1)');
  });

  test('nodes: InternalIP/ExternalIP and the cilium_host annotation, not Hostname; podCIDRs', () => {
    const text = `
apiVersion: v1
kind: Node
metadata:
  name: n1
  labels: {role: edge}
  annotations: {network.cilium.io/ipv4-cilium-host: 10.0.0.1}
spec: {podCIDR: 10.0.0.0/24, podCIDRs: [10.0.0.0/24, "fd00:0:0:1::/64"]}
status:
  addresses:
    - {type: InternalIP, address: 192.168.1.10}
    - {type: ExternalIP, address: 203.0.113.10}
    - {type: Hostname, address: n1}
`;
    const n = loadClusterText(text, 'n.yaml').nodes[0]!;
    expect(ips(n.addresses)).toEqual(['192.168.1.10', '203.0.113.10', '10.0.0.1']);
    expect(n.podCIDRs).toEqual(['10.0.0.0/24', 'fd00:0:0:1::/64']);
    expect(n.labels).toEqual({ role: 'edge' });
  });

  test('services: type, cluster IPs (headless = none), ports with target ports and node ports, selector', () => {
    const text = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  clusterIPs: [10.96.0.20]
  selector: {app: web}
  ports:
    - {name: http, port: 80, targetPort: http, nodePort: 30080}
    - {name: alt, port: 8080, targetPort: "8081", protocol: TCP}
    - {port: 9000}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: None, selector: {}, ports: [{port: 5432}]}
`;
    const [web, db] = loadClusterText(text, 's.yaml').services;
    expect(web!.type).toBe('NodePort');
    expect(ips(web!.clusterIPs)).toEqual(['10.96.0.20']);
    expect(web!.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http', nodePort: 30080 },
      { name: 'alt', protocol: 'TCP', port: 8080, targetPort: 8081 },
      { name: '', protocol: 'TCP', port: 9000, targetPort: 9000 },
    ]);
    expect(web!.selector).toEqual({ app: 'web' });
    expect(db!.type).toBe('ClusterIP');
    expect(db!.clusterIPs).toEqual([]);
    expect(db!.selector).toBeUndefined();
  });

  test('EndpointSlices win over Endpoints for the same service; not-ready addresses are left out', () => {
    const text = `
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets:
  - addresses: [{ip: 10.0.0.5}]
    notReadyAddresses: [{ip: 10.0.0.6}]
    ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: legacy, namespace: shop}
subsets:
  - addresses: [{ip: 10.0.0.7}]
    ports: [{port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
  - addresses: [10.0.0.5]
    conditions: {ready: true}
  - addresses: [10.0.0.6]
    conditions: {ready: false}
  - addresses: [10.0.0.8]
ports: [{name: http, port: 8080, protocol: TCP}]
`;
    const c = loadClusterText(text, 'e.yaml');
    expect(c.backends.map((b) => [b.source, b.serviceName, ips(b.addresses), b.ports])).toEqual([
      ['EndpointSlice', 'web', ['10.0.0.5', '10.0.0.8'], [{ name: 'http', port: 8080, protocol: 'TCP' }]],
      ['Endpoints', 'legacy', ['10.0.0.7'], [{ name: '', port: 80, protocol: 'TCP' }]],
    ]);
  });

  test('CiliumIdentity and CiliumEndpoint', () => {
    const text = `
apiVersion: cilium.io/v2
kind: CiliumIdentity
metadata: {name: "12345"}
security-labels:
  k8s:app: web
  k8s:io.kubernetes.pod.namespace: shop
---
apiVersion: cilium.io/v2
kind: CiliumEndpoint
metadata: {name: web-1, namespace: shop}
status:
  identity: {id: 12345, labels: ["k8s:app=web"]}
  networking:
    addressing: [{ipv4: 10.0.0.5, ipv6: "fd00::5"}]
    node: 192.168.1.10
---
apiVersion: cilium.io/v2
kind: CiliumEndpoint
metadata: {name: starting, namespace: shop}
status: {state: waiting-for-identity}
`;
    const c = loadClusterText(text, 'c.yaml');
    expect(c.ciliumIdentities).toEqual([
      { id: 12345, labels: { 'k8s:app': 'web', 'k8s:io.kubernetes.pod.namespace': 'shop' }, position: { file: 'c.yaml', line: 2, col: 1 } },
    ]);
    expect(c.ciliumEndpoints.map((e) => [e.namespace, e.name, e.identity, ips(e.addresses)])).toEqual([['shop', 'web-1', 12345, ['10.0.0.5', 'fd00::5']]]);
    expect(c.notes).toContain('skipped 1 CiliumEndpoint(s) without status.identity.id: shop/starting');
  });

  test('policy kinds are kept raw for the policy parser', () => {
    const text = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {endpointSelector: {}}\n';
    const c = loadClusterText(text, 'p.yaml');
    expect(c.policies.map((p) => [p.kind, p.namespace, p.name, p.position])).toEqual([
      ['CiliumNetworkPolicy', 'a', 'p', { file: 'p.yaml', line: 1, col: 1 }],
    ]);
  });

  test('buildClusterObjects with nothing gives an empty model', () => {
    const c = buildClusterObjects([]);
    expect(c.pods).toEqual([]);
    expect(c.notes).toEqual([]);
  });
});

describe('files and directories', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hubcap-load-'));
    mkdirSync(join(dir, 'b', 'deep'), { recursive: true });
    mkdirSync(join(dir, 'a'));
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'b', 'deep', '2-pod.yml'), pod('x', 'p2', '10.0.0.2'));
    writeFileSync(join(dir, 'b', '1-pod.yaml'), pod('x', 'p1', '10.0.0.1'));
    writeFileSync(join(dir, 'a', 'z-pod.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p0', namespace: 'x' }, status: { podIP: '10.0.0.9' } }));
    writeFileSync(join(dir, 'a', 'README.md'), '# not yaml: ignored in directories\n');
    writeFileSync(join(dir, 'top.YAML'), pod('x', 'p3', '10.0.0.3'));
    // A symlink back up the tree: not followed (kubectl -R does not follow directory links).
    symlinkSync(dir, join(dir, 'b', 'loop'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('directories are walked recursively in sorted order, only .yaml/.yml/.json', () => {
    const files = collectFiles([join(dir, 'a'), join(dir, 'b'), join(dir, 'top.YAML')]);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['a/z-pod.json', 'b/1-pod.yaml', 'b/deep/2-pod.yml', 'top.YAML']);
    const c = loadClusterObjects([join(dir, 'a'), join(dir, 'b')]);
    expect(c.pods.map((p) => p.name)).toEqual(['p0', 'p1', 'p2']);
  });

  test('a file reached twice is read once', () => {
    const files = collectFiles([join(dir, 'b'), join(dir, 'b', '1-pod.yaml')]);
    expect(files.filter((f) => f.endsWith('1-pod.yaml'))).toHaveLength(1);
  });

  test('an empty path list, a missing path and a directory without YAML are one clear line each', () => {
    expect(() => loadClusterObjects([])).toThrow(/^no input files: give at least one file or directory$/);
    expect(() => loadClusterObjects([join(dir, 'nope.yaml')])).toThrow(`${join(dir, 'nope.yaml')}: no such file or directory`);
    expect(() => loadClusterObjects([join(dir, 'empty')])).toThrow(`${join(dir, 'empty')}: no .yaml, .yml or .json files in this directory`);
  });
});
