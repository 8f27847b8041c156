/**
 * CIDR peers select the CIDR identities inside them (pkg/policy: a toCIDR rule selects every
 * CIDR identity its prefix contains). The registry answers that by binary search over the
 * identities sorted by address; a scan of every CIDR identity per peer made a policy with
 * 60,000 toCIDR entries compile for more than ten minutes (found by fuzzing with absurd sizes).
 * Checked here: the range query equals the brute-force definition on random prefixes, and a
 * large policy compiles with one egress entry per CIDR identity.
 */
import { describe, expect, test } from 'vitest';
import { buildClusterModel } from '../../src/agent/cluster-model.js';
import { IdentityRegistry } from '../../src/agent/identities.js';
import { loadClusterText } from '../../src/k8s/load.js';
import { cidrContains, formatCidr, parseCidr, type Cidr } from '../../src/net/addr.js';
import { cnp, compile, docs, node, ns, pod } from '../helpers/agent-cluster.js';
import { prng } from '../helpers/capture-fixtures.js';

const CLUSTER = docs(ns('default'), node('n1', '192.168.1.1'), pod('default', 'client', { app: 'client' }, '10.1.0.10', { node: 'n1' }));

function randomCidr(rand: () => number): Cidr {
  if (rand() < 0.3) {
    const len = [16, 32, 48, 56, 64, 120, 128][Math.floor(rand() * 7)]!;
    return parseCidr(`2001:db8:${Math.floor(rand() * 4).toString(16)}:${Math.floor(rand() * 4).toString(16)}::/${len}`)!;
  }
  const len = [1, 8, 9, 12, 16, 20, 24, 25, 31, 32][Math.floor(rand() * 10)]!;
  const octet = (): number => [0, 1, 10, 128, 192, 255][Math.floor(rand() * 6)]!;
  return parseCidr(`${octet()}.${octet()}.${octet()}.${octet()}/${len}`)!;
}

describe('CIDR identities inside a CIDR peer', () => {
  test('the range query equals the brute-force containment check', () => {
    const rand = prng(7);
    const cidrs = Array.from({ length: 400 }, () => randomCidr(rand));
    const registry = new IdentityRegistry(buildClusterModel(loadClusterText(CLUSTER, 'c.yaml'), 'default'), cidrs);
    const all = registry.cidrIdentities();
    expect(all.length).toBeGreaterThan(100);
    for (let i = 0; i < 300; i++) {
      const q = i < 250 ? randomCidr(rand) : cidrs[i]!;
      const want = all
        .filter((info) => info.cidr!.family === q.family && info.cidr!.prefixLen >= q.prefixLen && cidrContains(q, q.family, info.cidr!.words))
        .map((info) => formatCidr(info.cidr!))
        .sort();
      const got = registry.cidrIdentitiesWithin(q).map((info) => formatCidr(info.cidr!)).sort();
      expect(got, formatCidr(q)).toEqual(want);
    }
  });

  test('a policy with 20,000 toCIDR entries compiles quickly, one egress entry per prefix', () => {
    const toCIDR = Array.from({ length: 20_000 }, (_, i) => `172.${16 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) * 16}/28`);
    const started = performance.now();
    const doc = compile(docs(CLUSTER, cnp('default', 'many', { endpointSelector: { matchLabels: { app: 'client' } }, egress: [{ toCIDR }] })), {
      policyMapMax: 65536,
    });
    const elapsed = performance.now() - started;
    const map = doc.policyMaps.find((m) => m.endpoint === 'default/client')!;
    const egress = map.entries.filter((e) => e.direction === 'egress' && e.verdict === 'allow');
    const cidrIds = new Set(doc.ipcache.shared.filter((r) => r.prefix.startsWith('172.')).map((r) => r.identity));
    expect(cidrIds.size).toBe(20_000);
    expect(new Set(egress.map((e) => e.identity))).toEqual(cidrIds);
    expect(elapsed).toBeLessThan(15_000);
  });
});
