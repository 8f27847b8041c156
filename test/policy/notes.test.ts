/**
 * What the parser accepts with a caveat is said in PolicyObject.notes: values Cilium rewrites
 * (host bits, missing namespace) and things the API server or hubcap treat specially.
 */
import { describe, expect, test } from 'vitest';
import { re2ProgramSize } from '../../src/policy/re2-size.js';
import { parsePolicy } from '../../src/policy/parse.js';
import { httpRuleSpec, policy, raws, rules, yaml } from './helpers.js';

function notesOf(text: string): string[] {
  return policy(yaml(text)).notes ?? [];
}

describe('policy notes', () => {
  test('CIDR host bits are masked, as Cilium does, and said', () => {
    const text = `
      apiVersion: cilium.io/v2
      kind: CiliumNetworkPolicy
      metadata: {name: t, namespace: a}
      spec:
        endpointSelector: {}
        egress:
          - toCIDR: [192.0.2.77/24]
    `;
    const p = policy(yaml(text));
    const peer = rules(p)[0]!.peers![0]!;
    expect(peer.type === 'cidr' && peer.cidr.words[3]).toBe(0xc0000200);
    expect(p.notes).toEqual(['spec.egress[0].toCIDR[0]: 192.0.2.77/24 has host bits set; Cilium masks it to 192.0.2.0/24']);
  });

  test('world-ipv4 / world-ipv6 are accepted with a note about the CRD enum', () => {
    const notes = notesOf(`
      apiVersion: cilium.io/v2
      kind: CiliumClusterwideNetworkPolicy
      metadata: {name: t}
      spec:
        endpointSelector: {}
        egress:
          - toEntities: [world-ipv4, world-ipv6]
    `);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(/^spec\.egress\[0\]\.toEntities\[0\]: entity world-ipv4 .* API server may reject it$/);
  });

  test('a namespaced policy without metadata.namespace lands in default', () => {
    const p = policy(
      yaml(`
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: t}
        spec: {podSelector: {}}
      `),
    );
    expect(p.ref).toEqual({ kind: 'NetworkPolicy', namespace: 'default', name: 't' });
    expect(p.specs[0]!.subject.selector.text).toBe('k8s:io.kubernetes.pod.namespace=default');
    expect(p.notes?.[0]).toContain('using "default"');
  });

  test('a clusterwide policy ignores metadata.namespace', () => {
    const notes = notesOf(`
      apiVersion: cilium.io/v2
      kind: CiliumClusterwideNetworkPolicy
      metadata: {name: t, namespace: a}
      spec: {endpointSelector: {}, ingress: [{}]}
    `);
    expect(notes).toEqual(['metadata.namespace is ignored: a CiliumClusterwideNetworkPolicy has no namespace']);
  });

  test('TLS interception, node selectors and policies without rules', () => {
    const notes = notesOf(`
      apiVersion: cilium.io/v2
      kind: CiliumNetworkPolicy
      metadata: {name: t, namespace: a}
      specs:
        - endpointSelector: {}
          egress:
            - toNodes: [{matchLabels: {role: db}}]
              toPorts:
                - ports: [{port: "443", protocol: TCP}]
                  terminatingTLS: {secret: {name: tls}}
                  rules: {http: [{path: /}]}
        - endpointSelector: {matchLabels: {app: idle}}
    `);
    expect(notes.map((n) => n.split(':')[0])).toEqual(['specs[0].egress[0].toNodes', 'specs[0].egress[0].toPorts[0]', 'specs[1]']);
    expect(notes[1]).toContain('cannot see inside TLS');
    expect(notes[2]).toContain('has no effect');
  });

  test('NetworkPolicy rules in a direction policyTypes leaves out are ignored, with a note', () => {
    const notes = notesOf(`
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: t, namespace: a}
      spec:
        podSelector: {}
        policyTypes: [Ingress]
        egress: [{}]
    `);
    expect(notes).toEqual(['spec.egress: ignored, policyTypes does not list Egress']);
  });
});

describe('HTTP regexes too large for Envoy (cilium/cilium#41314)', () => {
  // Sizes Envoy itself reported for these patterns (cilium/cilium#48773, envoyproxy/gateway#2543
  // and #2576): the addon's RE2 must count the same.
  test.each([
    ['/(dashboard|alerts|calendar|components|metrics|critical_asset_metrics|critical_product_metrics|simple_search|support|celery_status|choices)([/?].*)?', 134],
    ['^/v4/advisory/[0-9a-z-]{36}/clone$', 118],
    ['^/api/v1/object/[\\w]{32}/action$', 107],
  ])('RE2 program size of %s is %i, as Envoy reported it', (pattern, size) => {
    expect(re2ProgramSize(pattern)).toBe(size);
  });

  function httpPolicy(rule: string): string {
    return `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: t, namespace: a}\nspec:\n${httpRuleSpec(rule).replace(/^/gm, '  ')}`;
  }

  test('a path over 100 is accepted and noted with its size', () => {
    const notes = notesOf(httpPolicy(`path: '^/v4/advisory/[0-9a-z-]{36}/clone$'`));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(
      /^spec\.ingress\[0\]\.toPorts\[0\]\.rules\.http\[0\]\.path: RE2 program size 118 > 100 \(Envoy's re2\.max_program_size\.error_level, --envoy-re2-max-program-size\): Envoy rejects this policy's update for the endpoint, .*cilium\/cilium#41314/,
    );
  });

  test('the limit is the cluster\'s (PolicyParseOptions.envoyRe2MaxProgramSize): at 118 and above no note, below one', () => {
    const text = httpPolicy(`path: '^/v4/advisory/[0-9a-z-]{36}/clone$'`);
    expect(parsePolicy(raws(yaml(text))[0]!, { envoyRe2MaxProgramSize: 118 }).notes ?? []).toEqual([]);
    expect(parsePolicy(raws(yaml(text))[0]!, { envoyRe2MaxProgramSize: 117 }).notes).toHaveLength(1);
  });

  test('method and host are Envoy regexes too', () => {
    const method = '[A-Z]{120}';
    const host = '[a-z0-9.-]{64}\\.example\\.com';
    expect(re2ProgramSize(method)).toBeGreaterThan(100);
    expect(re2ProgramSize(host)).toBeGreaterThan(100);
    const notes = notesOf(httpPolicy(`{method: '${method}', host: '${host}', path: '/ok'}`));
    expect(notes.map((n) => n.split(':')[0])).toEqual(['spec.ingress[0].toPorts[0].rules.http[0].method', 'spec.ingress[0].toPorts[0].rules.http[0].host']);
  });

  test('a program RE2 cannot compile within its default memory is Infinity (the policy parser already refuses it)', () => {
    expect(re2ProgramSize('\\pL{1000}')).toBe(Infinity);
    expect(re2ProgramSize('(a')).toBeUndefined();
  });

  test('an ordinary path is not noted', () => {
    expect(re2ProgramSize('/public/.*')).toBeLessThanOrEqual(100);
    expect(notesOf(httpPolicy(`{method: GET, path: '/public/.*'}`))).toEqual([]);
  });
});
