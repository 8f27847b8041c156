/**
 * What the parser accepts with a caveat is said in PolicyObject.notes: values Cilium rewrites
 * (host bits, missing namespace) and things the API server or hubcap treat specially.
 */
import { describe, expect, test } from 'vitest';
import { policy, rules, yaml } from './helpers.js';

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
