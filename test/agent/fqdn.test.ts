/**
 * toFQDNs at run time (src/agent/fqdn.ts): before an answer a toFQDNs selector selects nothing;
 * after an allowed answer the address has a local-scope identity labelled by the selectors that
 * match its names (Cilium 1.16, CFP-28427), an ipcache entry, and the egress entries the toFQDNs
 * rules imply, with deny precedence; expiry takes all of it away again.
 */
import { describe, expect, it } from 'vitest';
import { FqdnUpdater } from '../../src/agent/fqdn.js';
import { DatapathState } from '../../src/datapath/state.js';
import { FlowContext } from '../../src/flow/context.js';
import { LOCAL_IDENTITY_SCOPE } from '../../src/identity/reserved.js';
import { DROP_POLICY, DROP_POLICY_DENY } from '../../src/maps/codes.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { PolicyVerdict } from '../../src/maps/policy-map.js';
import { parseIp } from '../../src/net/addr.js';
import { compileFqdnSelector } from '../../src/proxy/dns-rules.js';
import { FqdnCache } from '../../src/proxy/fqdn-cache.js';
import { cnp, compile, docs, node, ns, pod } from '../helpers/agent-cluster.js';

const DNS_RULE = {
  toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s-app': 'kube-dns' } }],
  toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }],
};

function cluster(...egress: object[]): MapsDocument {
  return compile(
    docs(
      ns('default'),
      ns('kube-system'),
      node('node-a', '172.18.0.2'),
      pod('default', 'client', { app: 'client' }, '10.0.0.10'),
      pod('default', 'client2', { app: 'client' }, '10.0.0.11'),
      pod('default', 'other', { app: 'other' }, '10.0.0.12'),
      pod('kube-system', 'coredns', { 'k8s-app': 'kube-dns' }, '10.0.0.53'),
      cnp('default', 'fqdn', { endpointSelector: { matchLabels: { app: 'client' } }, egress: [DNS_RULE, ...egress] }),
    ),
  );
}

const CILIUM_443 = { toFQDNs: [{ matchPattern: '*.cilium.io' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] };
const API_HTTP = { toFQDNs: [{ matchName: 'api.example.com' }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET' }] } }] };

class Harness {
  readonly state: DatapathState;
  readonly updater: FqdnUpdater;
  readonly cache: FqdnCache;
  private readonly out = new PolicyVerdict();

  constructor(readonly doc: MapsDocument, minTtl = 0) {
    this.state = new DatapathState(doc);
    this.updater = new FqdnUpdater(this.state, compileFqdnSelector);
    this.cache = new FqdnCache({ minTtl });
  }

  learn(name: string, ips: string[], ttl: number, now: number) {
    return this.updater.apply(this.cache.learn(name, ips, ttl, now), this.cache);
  }

  advance(now: number) {
    return this.updater.apply(this.cache.advance(now), this.cache);
  }

  endpoint(name: string): number {
    return this.state.endpoints.findIndex((e) => e.name === name);
  }

  identity(ip: string): number {
    const a = parseIp(ip)!;
    return this.state.identityOf(this.state.endpointNode[this.endpoint('default/client')]!, a.family, a.words);
  }

  /** Egress verdict of `endpoint` towards `ip` on TCP `port`, with the ipcache's identity. */
  egress(endpoint: string, ip: string, port: number, protocol = 6): number {
    return this.state.policyMaps[this.endpoint(endpoint)]!.lookup(this.identity(ip), 1, protocol, port, this.out);
  }

  entriesOf(endpoint: string, identity: number): string[] {
    return [...this.state.policyMaps[this.endpoint(endpoint)]!.entries()]
      .filter((e) => e.identity === identity)
      .map((e) => `${e.direction ? 'egress' : 'ingress'} ${e.protocol}/${e.port}/${e.prefixLen} ${e.deny ? 'deny' : e.proxyPort ? `redirect:${e.proxyPort}` : 'allow'}`);
  }
}

describe('compile time: the document carries what a selected identity would get', () => {
  it('FqdnSelectorRecord.uses: per endpoint, the keys, proxy port and provenance of the toFQDNs rule', () => {
    const doc = cluster(CILIUM_443, API_HTTP);
    const cilium = doc.fqdnSelectors.find((s) => s.matchPattern === '*.cilium.io')!;
    expect(cilium.uses!.map((u) => `${u.endpoint} ${u.protocol}/${u.port}/${u.prefixLen} ${u.proxyPort}`)).toEqual([
      'default/client 6/443/24 0',
      'default/client2 6/443/24 0',
    ]);
    expect(doc.rules[cilium.uses![0]!.derivedFrom[0]!]!.ref).toBe('CiliumNetworkPolicy/default/fqdn#1');
    const api = doc.fqdnSelectors.find((s) => s.matchName === 'api.example.com')!;
    expect(api.uses![0]).toMatchObject({ protocol: 6, port: 80, proxyPort: 10002, proxyPortPriority: 1, l7: { parser: 'http', rules: [{ method: 'GET' }] } });
    // Nothing is selected yet: no policy entry names an FQDN identity.
    for (const m of doc.policyMaps) for (const e of m.entries) expect(e.identity & LOCAL_IDENTITY_SCOPE).toBe(0);
  });
});

describe('run time: answers teach the datapath', () => {
  it('before the answer nothing is selected; after it the address has an identity, an ipcache entry and the egress entries', () => {
    const h = new Harness(cluster(CILIUM_443));
    const ctx = new FlowContext(h.doc);
    const gen = h.state.generation;
    expect(h.identity('104.16.1.1')).toBe(2);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(DROP_POLICY);

    const r = h.learn('docs.cilium.io', ['104.16.1.1', '104.16.1.2'], 300, 1000);
    expect(r.allocated).toHaveLength(1);
    const y = r.allocated[0]!;
    expect(y & LOCAL_IDENTITY_SCOPE).toBe(LOCAL_IDENTITY_SCOPE);
    expect(h.identity('104.16.1.1')).toBe(y);
    expect(h.identity('104.16.1.2')).toBe(y); // one identity per label set, shared by both addresses
    expect(r.ipcache).toEqual([
      { ip: '104.16.1.1', from: 2, to: y },
      { ip: '104.16.1.2', from: 2, to: y },
    ]);
    expect(h.doc.identities.find((i) => i.identity === y)!.labels).toEqual(['fqdn:*.cilium.io', 'reserved:world']);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(0);
    expect(h.egress('default/client2', '104.16.1.2', 443)).toBe(0);
    expect(h.egress('default/client', '104.16.1.1', 80)).toBe(DROP_POLICY);
    expect(h.entriesOf('default/client', y)).toEqual(['egress 6/443/24 allow']);
    expect(h.entriesOf('default/other', y)).toEqual([]);
    // client and client2 share one policy map and got the same change: still one map.
    expect(h.state.policyMaps[h.endpoint('default/client')]).toBe(h.state.policyMaps[h.endpoint('default/client2')]);
    expect(h.state.generation).toBeGreaterThan(gen);
    // The flow printer names the new identity (FlowContext re-indexes added identities).
    expect(ctx.identityDisplayName(y)).toBe('fqdn:*.cilium.io');
    // Another name the selector does not match teaches nothing.
    expect(h.learn('cilium.io', ['104.16.9.9'], 300, 1001)).toMatchObject({ allocated: [], ipcache: [] });
    expect(h.identity('104.16.9.9')).toBe(2);
  });

  it('expiry removes the ipcache entry and, with the last address, the identity\'s entries', () => {
    const h = new Harness(cluster(CILIUM_443));
    const y = h.learn('docs.cilium.io', ['104.16.1.1'], 60, 0).allocated[0]!;
    h.learn('www.cilium.io', ['104.16.1.2'], 600, 0);
    const first = h.advance(61);
    expect(first).toMatchObject({ ipcache: [{ ip: '104.16.1.1', from: y, to: 2 }], released: [] });
    expect(h.identity('104.16.1.1')).toBe(2);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(DROP_POLICY);
    expect(h.egress('default/client', '104.16.1.2', 443)).toBe(0);
    const last = h.advance(601);
    expect(last.released).toEqual([y]);
    expect(last.policyEntriesRemoved).toBe(1);
    expect(h.entriesOf('default/client', y)).toEqual([]);
    expect(h.egress('default/client', '104.16.1.2', 443)).toBe(DROP_POLICY);
    // The identity stays in the document so flows printed earlier keep their labels.
    expect(h.doc.identities.some((i) => i.identity === y)).toBe(true);
  });

  it('--fqdn-min-ttl keeps a short-TTL address selected for the minimum', () => {
    const h = new Harness(cluster(CILIUM_443), 3600);
    h.learn('docs.cilium.io', ['104.16.1.1'], 5, 0);
    expect(h.advance(3000).ipcache).toEqual([]);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(0);
    expect(h.advance(3601).ipcache).toHaveLength(1);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(DROP_POLICY);
  });

  it('an address two selectors select gets an identity with both labels, both rules\' entries and the L7 rules', () => {
    const h = new Harness(cluster(CILIUM_443, API_HTTP));
    const y1 = h.learn('docs.cilium.io', ['104.16.1.1', '104.16.1.2'], 300, 0).allocated[0]!;
    const r = h.learn('api.example.com', ['104.16.1.1'], 300, 0);
    const y2 = r.allocated[0]!;
    expect(r.released).toEqual([]); // 104.16.1.2 still uses y1
    expect(h.doc.identities.find((i) => i.identity === y2)!.labels).toEqual(['fqdn:*.cilium.io', 'fqdn:api.example.com', 'reserved:world']);
    expect(h.identity('104.16.1.1')).toBe(y2);
    expect(h.identity('104.16.1.2')).toBe(y1);
    expect(h.entriesOf('default/client', y2)).toEqual(['egress 6/80/24 redirect:10002', 'egress 6/443/24 allow']);
    const l7 = h.doc.l7.filter((x) => x.peers.includes(y2) && x.endpoint === 'default/client');
    expect(l7).toEqual([expect.objectContaining({ parser: 'http', port: 80, proxyPort: 10002, rules: [{ method: 'GET' }] })]);
    // When api.example.com expires, 104.16.1.1 goes back to y1 and y2 is released with its L7 rules.
    const back = h.learn('docs.cilium.io', ['104.16.1.1', '104.16.1.2'], 900, 100);
    expect(back.released).toEqual([]);
    const exp = h.advance(301);
    expect(exp.released).toEqual([y2]);
    expect(h.identity('104.16.1.1')).toBe(y1);
    expect(h.doc.l7.some((x) => x.peers.includes(y2))).toBe(false);
  });

  it('identity numbers depend only on the labels (two replays agree)', () => {
    const a = new Harness(cluster(CILIUM_443)).learn('docs.cilium.io', ['104.16.1.1'], 300, 0).allocated;
    const b = new Harness(cluster(CILIUM_443)).learn('x.cilium.io', ['203.0.113.5'], 10, 50).allocated;
    expect(a).toEqual(b);
  });

  it('in-cluster addresses never get FQDN identities', () => {
    const h = new Harness(cluster(CILIUM_443));
    const r = h.learn('pod.cilium.io', ['10.0.0.12', '172.18.0.2'], 300, 0);
    expect(r.skipped).toEqual([
      { ip: '10.0.0.12', reason: 'cluster-address' },
      { ip: '172.18.0.2', reason: 'cluster-address' },
    ]);
    expect(r.ipcache).toEqual([]);
    expect(h.identity('10.0.0.12')).not.toBe(2);
  });
});

describe('precedence and parents', () => {
  it('a deny that covers the world also covers the new identity: its toFQDNs allow is not added', () => {
    const doc = compile(
      docs(
        ns('default'),
        node('node-a', '172.18.0.2'),
        pod('default', 'client', { app: 'client' }, '10.0.0.10'),
        cnp('default', 'fqdn', {
          endpointSelector: { matchLabels: { app: 'client' } },
          egress: [{ toFQDNs: [{ matchPattern: '*.cilium.io' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }, { port: '8443', protocol: 'TCP' }] }] }],
          egressDeny: [{ toEntities: ['world'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }],
        }),
      ),
    );
    const h = new Harness(doc);
    const y = h.learn('docs.cilium.io', ['104.16.1.1'], 300, 0).allocated[0]!;
    expect(h.entriesOf('default/client', y)).toEqual(['egress 6/443/24 deny', 'egress 6/8443/24 allow']);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(DROP_POLICY_DENY);
    expect(h.egress('default/client', '104.16.1.1', 8443)).toBe(0);
  });

  it('an address inside a policy CIDR keeps that CIDR\'s entries and carries its label', () => {
    const doc = cluster(CILIUM_443, { toCIDR: ['104.16.0.0/12'], toPorts: [{ ports: [{ port: '22', protocol: 'TCP' }] }] });
    const h = new Harness(doc);
    const parent = h.identity('104.16.1.1');
    expect(parent & LOCAL_IDENTITY_SCOPE).toBe(LOCAL_IDENTITY_SCOPE);
    expect(h.egress('default/client', '104.16.1.1', 22)).toBe(0);
    const r = h.learn('docs.cilium.io', ['104.16.1.1'], 300, 0);
    const y = r.allocated[0]!;
    expect(r.ipcache).toEqual([{ ip: '104.16.1.1', from: parent, to: y }]);
    expect(h.doc.identities.find((i) => i.identity === y)!.labels).toEqual(['cidr:104.16.0.0/12', 'fqdn:*.cilium.io', 'reserved:world']);
    expect(h.egress('default/client', '104.16.1.1', 22)).toBe(0);
    expect(h.egress('default/client', '104.16.1.1', 443)).toBe(0);
    expect(h.egress('default/client', '104.16.1.1', 80)).toBe(DROP_POLICY);
    h.advance(301);
    expect(h.identity('104.16.1.1')).toBe(parent);
  });

  it('a policy map shared by endpoints that get different entries is copied before it changes', () => {
    const doc = cluster(CILIUM_443);
    // client2 shares client's map but (in this hand-edited document) no toFQDNs template.
    const sel = doc.fqdnSelectors.find((s) => s.matchPattern === '*.cilium.io')!;
    sel.uses = sel.uses!.filter((u) => u.endpoint === 'default/client');
    const h = new Harness(doc);
    const c1 = h.endpoint('default/client');
    const c2 = h.endpoint('default/client2');
    const shared = h.state.policyMaps[c1]!;
    expect(h.state.policyMaps[c2]).toBe(shared);
    const y = h.learn('docs.cilium.io', ['104.16.1.1'], 300, 0).allocated[0]!;
    expect(h.state.policyMaps[c2]).toBe(shared);
    expect(h.state.policyMaps[c1]).not.toBe(shared);
    expect(h.entriesOf('default/client', y)).toEqual(['egress 6/443/24 allow']);
    expect(h.entriesOf('default/client2', y)).toEqual([]);
    expect(h.egress('default/client2', '104.16.1.1', 443)).toBe(DROP_POLICY);
    // Release removes the entries from the copy too.
    h.advance(301);
    expect(h.entriesOf('default/client', y)).toEqual([]);
  });
});
