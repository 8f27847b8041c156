/**
 * DatapathState on either backend (design.md §3 `--backend ts|native`): the same document
 * loaded into the TypeScript maps and into the native addon's answers every lookup the datapath
 * makes alike (identityOf through each node's view, each endpoint's policy verdicts), shares maps
 * between endpoints the same way, and keeps the generation contract (a change to any map bumps
 * it) on native maps too, including the maps FQDN updates copy (src/agent/fqdn.ts).
 * The addon must be built (a missing addon fails, style.md).
 */
import { describe, expect, test } from 'vitest';
import { FqdnUpdater } from '../../src/agent/fqdn.js';
import { DatapathState } from '../../src/datapath/state.js';
import { compileFromFlags } from '../../src/cli/inputs.js';
import type { MapsDocument } from '../../src/maps/document.js';
import { Ipcache, IpcacheView } from '../../src/maps/ipcache.js';
import { NativeIpcache, NativeIpcacheView, NativePolicyMap } from '../../src/maps/native.js';
import { PolicyMap, PolicyVerdict } from '../../src/maps/policy-map.js';
import { parseIp } from '../../src/net/addr.js';
import { prefixEdges } from '../helpers/prefix-edges.js';
import { compileFqdnSelector } from '../../src/proxy/dns-rules.js';
import { FqdnCache } from '../../src/proxy/fqdn-cache.js';
import { cnp, compile, docs, node, ns, pod } from '../helpers/agent-cluster.js';
import { ingressPort } from '../maps/builders.js';
import { nativeOrFail, plainEntry, verdictFields } from '../maps/native-helpers.js';

const EXAMPLES: Array<[string, string, string]> = [
  ['seed-talk', 'examples/seed-talk/cluster', 'examples/seed-talk/policies'],
  ['starwars L7', 'examples/starwars/cluster', 'examples/starwars/policies-l7'],
  ['deny-over-allow', 'examples/deny-over-allow/cluster', 'examples/deny-over-allow/policies'],
  ['edge', 'examples/edge/cluster', 'examples/edge/policies'],
  ['connectivity to-cidr-external', 'examples/connectivity/cluster', 'examples/connectivity/to-cidr-external/policies'],
  ['l7 fqdn', 'examples/l7/cluster', 'examples/l7/policies/fqdn'],
];

function compileExample(cluster: string, policy: string): MapsDocument {
  return compileFromFlags({ cluster: [cluster], policy: [policy] });
}

/** Addresses worth asking every view about: each prefix's first, second and last address, each endpoint's and node's own. */
function probes(doc: MapsDocument): Array<{ family: 4 | 6; words: Uint32Array }> {
  const out: Array<{ family: 4 | 6; words: Uint32Array }> = [];
  out.push(...prefixEdges(doc));
  for (const a of [...doc.endpoints.flatMap((e) => e.addresses), ...doc.nodes.flatMap((n) => n.addresses), '8.8.8.8', '2001:db8::1']) {
    const ip = parseIp(a);
    if (ip) out.push({ family: ip.family, words: Uint32Array.from(ip.words) });
  }
  return out;
}

describe.each(EXAMPLES)('%s: the same document on both backends', (_name, cluster, policy) => {
  nativeOrFail();
  const doc = compileExample(cluster, policy);
  const ts = new DatapathState(doc, { backend: 'ts' });
  const native = new DatapathState(doc, { backend: 'native' });

  test('the maps are of the backend asked for', () => {
    expect(ts.backend).toBe('ts');
    expect(native.backend).toBe('native');
    expect(ts.sharedView).toBeInstanceOf(IpcacheView);
    expect(ts.ipcache).toBeInstanceOf(Ipcache);
    expect(native.sharedView).toBeInstanceOf(NativeIpcacheView);
    expect(native.ipcache).toBeInstanceOf(NativeIpcache);
    for (const v of native.views) expect(v).toBeInstanceOf(NativeIpcacheView);
    for (const m of ts.policyMaps) expect(m).toBeInstanceOf(PolicyMap);
    for (const m of native.policyMaps) expect(m).toBeInstanceOf(NativePolicyMap);
    expect(native.policyMaps.length).toBeGreaterThan(0);
  });

  test('every node view (and the shared one) gives every probed address the same identity and entry', () => {
    const addrs = probes(doc);
    expect(addrs.length).toBeGreaterThan(10);
    for (let node = -1; node < doc.nodes.length; node++) {
      for (const a of addrs) {
        expect(native.identityOf(node, a.family, a.words)).toBe(ts.identityOf(node, a.family, a.words));
        expect(plainEntry(native.viewOf(node).lookupEntry(a.family, a.words))).toEqual(plainEntry(ts.viewOf(node).lookupEntry(a.family, a.words)));
      }
      expect([...native.viewOf(node).entries()].map(plainEntry)).toEqual([...ts.viewOf(node).entries()].map(plainEntry));
    }
  });

  test('every endpoint\'s policy map holds the same entries and gives the same verdicts', () => {
    const a = new PolicyVerdict();
    const b = new PolicyVerdict();
    let lookups = 0;
    doc.endpoints.forEach((_, i) => {
      const t = ts.policyMaps[i]!;
      const n = native.policyMaps[i]!;
      const entries = [...t.entries()];
      expect([...n.entries()]).toEqual(entries);
      expect(n.size).toBe(t.size);
      const identities = new Set([0, 2, 16777217, ...entries.map((e) => e.identity), ...doc.identities.map((r) => r.identity)]);
      const keys = new Set(['6/80', '17/53', '1/8', '58/128', '132/9']);
      for (const e of entries) for (const d of [-1, 0, 1]) keys.add(`${e.protocol || 6}/${Math.max(0, Math.min(0xffff, e.port + d))}`);
      for (const id of identities) {
        for (const dir of [0, 1] as const) {
          for (const k of keys) {
            const [proto, port] = k.split('/').map(Number) as [number, number];
            t.lookup(id, dir, proto, port, a);
            n.lookup(id, dir, proto, port, b);
            expect(verdictFields(b), `endpoint ${doc.endpoints[i]!.name} identity ${id} dir ${dir} ${k}`).toEqual(verdictFields(a));
            lookups++;
          }
        }
      }
    });
    expect(lookups).toBeGreaterThan(100);
  });

  test('endpoints share a policy map on native exactly where they share one on ts', () => {
    const n = doc.endpoints.length;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) expect(native.policyMaps[i] === native.policyMaps[j]).toBe(ts.policyMaps[i] === ts.policyMaps[j]);
    }
  });
});

describe('the generation on native maps', () => {
  const doc = compileExample('examples/starwars/cluster', 'examples/starwars/policies');
  const addr = parseIp('203.0.113.7')!;

  test('a change to the shared ipcache, a node\'s local entries or a policy map bumps it', () => {
    const s = new DatapathState(doc, { backend: 'native' });
    let g = s.generation;
    expect(s.ipcache.upsert(4, addr.words, 32, 16777300)).toBe(true);
    expect(s.generation).toBeGreaterThan(g);
    expect(s.identityOf(0, 4, addr.words)).toBe(16777300);
    g = s.generation;
    expect(s.viewOf(0).local.upsert(4, addr.words, 32, 16777301)).toBe(true);
    expect(s.generation).toBeGreaterThan(g);
    expect(s.identityOf(0, 4, addr.words)).toBe(16777301);
    g = s.generation;
    s.policyMaps[0]!.set(ingressPort(16777301, 6, 9999));
    expect(s.generation).toBeGreaterThan(g);
  });

  test('createPolicyMap makes a map of the state\'s backend; replacePolicyMap puts it in place and hooks its changes', () => {
    for (const backend of ['ts', 'native'] as const) {
      const s = new DatapathState(doc, { backend });
      const m = s.createPolicyMap(64);
      expect(m).toBeInstanceOf(backend === 'native' ? NativePolicyMap : PolicyMap);
      expect(m.capacity).toBe(64);
      let g = s.generation;
      s.replacePolicyMap(0, m);
      expect(s.policyMaps[0]).toBe(m);
      expect(s.generation).toBe(g + 1);
      g = s.generation;
      m.set({ identity: 0, direction: 1, protocol: 0, port: 0, prefixLen: 0, deny: true, proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, cookie: 0 });
      expect(s.generation).toBeGreaterThan(g);
    }
  });

  test('an unknown backend name is refused', () => {
    expect(() => new DatapathState(doc, { backend: 'wasm' as 'ts' })).toThrow(RangeError);
  });
});

describe('FQDN updates on native maps (copy-on-write of a shared map)', () => {
  const CILIUM_443 = { toFQDNs: [{ matchPattern: '*.cilium.io' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] };
  const DNS_RULE = {
    toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s-app': 'kube-dns' } }],
    toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }], rules: { dns: [{ matchPattern: '*' }] } }],
  };
  function cluster(): MapsDocument {
    const doc = compile(
      docs(
        ns('default'),
        ns('kube-system'),
        node('node-a', '172.18.0.2'),
        pod('default', 'client', { app: 'client' }, '10.0.0.10'),
        pod('default', 'client2', { app: 'client' }, '10.0.0.11'),
        pod('kube-system', 'coredns', { 'k8s-app': 'kube-dns' }, '10.0.0.53'),
        cnp('default', 'fqdn', { endpointSelector: { matchLabels: { app: 'client' } }, egress: [DNS_RULE, CILIUM_443] }),
      ),
    );
    // client2 shares client's map but (in this hand-edited document) no toFQDNs template.
    const sel = doc.fqdnSelectors.find((s) => s.matchPattern === '*.cilium.io')!;
    sel.uses = sel.uses!.filter((u) => u.endpoint === 'default/client');
    return doc;
  }

  test.each(['ts', 'native'] as const)('%s: the copy is of the same backend, decides alike, and loses its entries on expiry', (backend) => {
    const s = new DatapathState(cluster(), { backend });
    const updater = new FqdnUpdater(s, compileFqdnSelector);
    const cache = new FqdnCache({ minTtl: 0 });
    const c1 = s.endpoints.findIndex((e) => e.name === 'default/client');
    const c2 = s.endpoints.findIndex((e) => e.name === 'default/client2');
    const shared = s.policyMaps[c1]!;
    expect(s.policyMaps[c2]).toBe(shared);
    const ip = parseIp('104.16.1.1')!;
    const y = updater.apply(cache.learn('docs.cilium.io', ['104.16.1.1'], 300, 0), cache).allocated[0]!;
    expect(s.identityOf(0, 4, ip.words)).toBe(y);
    const copy = s.policyMaps[c1]!;
    expect(copy).not.toBe(shared);
    expect(s.policyMaps[c2]).toBe(shared);
    expect(copy).toBeInstanceOf(backend === 'native' ? NativePolicyMap : PolicyMap);
    const out = new PolicyVerdict();
    expect(copy.lookup(y, 1, 6, 443, out)).toBe(0);
    expect(shared.lookup(y, 1, 6, 443, out)).toBeLessThan(0);
    updater.apply(cache.advance(301), cache);
    expect([...copy.entries()].filter((e) => e.identity === y)).toEqual([]);
    expect(s.identityOf(0, 4, ip.words)).not.toBe(y);
  });
});
