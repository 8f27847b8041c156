/**
 * The seed talk's policy set (../shared/seeds/001: "Turn Your Kubernetes Cluster Into a Castle"),
 * compiled against examples/seed-talk. Expected entries are the talk's stated intent: host
 * firewall on control-plane nodes opens 6443/TCP to everyone; the ingress controller takes 80
 * and 443 from everything; namespaces labelled exposed=true admit the nginx identity, others do
 * not; Prometheus reaches namespaces labelled metrics=true.
 */
import { describe, expect, test } from 'vitest';
import { compileFromFlags } from '../../src/cli/inputs.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { entryLines, identityOf } from '../helpers/agent-cluster.js';

const doc: MapsDocument = compileFromFlags({ cluster: ['examples/seed-talk/cluster'], policy: ['examples/seed-talk/policies'] });
const NGINX = 'ingress-nginx/ingress-nginx-controller-6d8b6f7c9-q4wzn';
const WEB = 'my-namespace-xy/web-6b7f9c8d4-r2k9m';
const CLIENT = 'other-ns/client';
const COREDNS = 'kube-system/coredns-7db6d8ff4d-8kq2x';

describe('seed talk: host firewall', () => {
  test('control-plane host endpoint admits TCP/6443 from identity 0 (host-cp)', () => {
    expect(entryLines(doc, 'node/cp-1', 'ingress')).toContain('ingress 0 TCP/6443/24 allow');
  });

  test('etcd ports only from kube-apiserver, which is host on cp-1 and identity 7 elsewhere', () => {
    const lines = entryLines(doc, 'node/cp-1', 'ingress');
    expect(lines).toEqual(expect.arrayContaining(['ingress 7 TCP/2379/24 allow', 'ingress 7 TCP/2380/24 allow', 'ingress 1 TCP/2379/24 allow']));
    expect(lines).not.toContain('ingress 0 TCP/2379/24 allow');
  });

  test('worker host endpoints have no 6443 and keep SSH from the jumphost CIDR only', () => {
    const lines = entryLines(doc, 'node/worker-1', 'ingress');
    expect(lines.join('\n')).not.toContain('TCP/6443/');
    const jump = doc.identities.find((i) => i.labels.includes('cidr:10.1.101.110/32'))!.identity;
    expect(lines).toContain(`ingress ${jump} TCP/22/24 allow`);
    expect(lines).toContain('ingress 0 ICMP/8/24 allow');
    expect(lines).toContain('ingress 6 TCP/4240/24 allow');
    expect(doc.endpoints.find((e) => e.name === 'node/worker-1')!.policyEnabled).toEqual({ ingress: true, egress: false });
  });

  test('infra host endpoint opens 80 and 443 to everyone (host-infra)', () => {
    expect(entryLines(doc, 'node/infra-1', 'ingress')).toEqual(expect.arrayContaining(['ingress 0 TCP/80/24 allow', 'ingress 0 TCP/443/24 allow']));
  });

  test('a node address is host on its own node and remote-node or kube-apiserver elsewhere', () => {
    const view = (node: string) => doc.ipcache.views.find((v) => v.node === node)!.entries;
    expect(view('cp-1')).toContainEqual({ prefix: '192.168.10.11/32', identity: 1 });
    expect(view('worker-1')).toContainEqual({ prefix: '192.168.10.11/32', identity: 7 });
    expect(view('worker-1')).toContainEqual({ prefix: '192.168.10.12/32', identity: 6 });
  });
});

describe('seed talk: infra namespaces and user workloads', () => {
  test('nginx admits 80 and 443 from everything (all-to-nginx)', () => {
    expect(entryLines(doc, NGINX, 'ingress')).toEqual(expect.arrayContaining(['ingress 0 TCP/80/24 allow', 'ingress 0 TCP/443/24 allow']));
  });

  test('a pod in an exposed namespace admits the nginx identity (global-infra-nginx)', () => {
    expect(entryLines(doc, WEB, 'ingress')).toContain(`ingress ${identityOf(doc, NGINX)} ANY/0/0 allow`);
  });

  test('a pod in a namespace without the label does not admit it', () => {
    const lines = entryLines(doc, CLIENT, 'ingress');
    expect(doc.endpoints.find((e) => e.name === CLIENT)!.policyEnabled.ingress).toBe(true);
    expect(lines.join('\n')).not.toContain(`ingress ${identityOf(doc, NGINX)} `);
    expect(lines).not.toContain('ingress 0 ANY/0/0 allow');
  });

  test('nginx may only leave towards exposed namespaces, kube-apiserver:6443 and DNS', () => {
    const lines = entryLines(doc, NGINX, 'egress');
    expect(lines).toContain(`egress ${identityOf(doc, WEB)} ANY/0/0 allow`);
    expect(lines).toContain('egress 7 TCP/6443/24 allow');
    expect(lines.join('\n')).not.toContain(`egress ${identityOf(doc, CLIENT)} `);
  });

  test('every pod sends DNS to CoreDNS through the DNS proxy (global-infra-dns)', () => {
    const dns = identityOf(doc, COREDNS);
    for (const ep of [WEB, CLIENT, NGINX]) {
      expect(entryLines(doc, ep, 'egress')).toEqual(expect.arrayContaining([`egress ${dns} TCP/53/24 redirect:10004`, `egress ${dns} UDP/53/24 redirect:10004`]));
    }
    const rules = doc.l7.filter((r) => r.endpoint === WEB && r.parser === 'dns');
    expect(rules.length).toBeGreaterThan(0);
    expect(rules[0]!.rules).toEqual([{ matchPattern: '*' }]);
  });

  test('Prometheus reaches metrics=true namespaces only', () => {
    const prom = identityOf(doc, 'monitoring/prometheus-0');
    expect(entryLines(doc, WEB, 'ingress')).toContain(`ingress ${prom} ANY/0/0 allow`);
    expect(entryLines(doc, CLIENT, 'ingress').join('\n')).not.toContain(`ingress ${prom} `);
  });

  test('entries remember the rule and file line they came from', () => {
    const map = doc.policyMaps.find((m) => m.endpoint === 'node/cp-1')!;
    const e = map.entries.find((x) => x.port === 6443 && x.identity === 0)!;
    const rule = doc.rules[e.derivedFrom[0]!]!;
    expect(rule.ref).toBe('CiliumClusterwideNetworkPolicy/host-cp#0');
    expect(rule.source).toMatch(/examples\/seed-talk\/policies\/host-cp\.yaml:\d+$/);
  });

  test('the same inputs give the same bytes (deterministic dump)', () => {
    const again = compileFromFlags({ cluster: ['examples/seed-talk/cluster'], policy: ['examples/seed-talk/policies'] });
    expect(JSON.stringify(again)).toBe(JSON.stringify(doc));
  });
});
