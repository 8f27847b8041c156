/**
 * How Cilium reads a policy from Kubernetes: namespace scoping of subjects and peers
 * (pkg/k8s/apis/cilium.io/utils/utils.go getEndpointSelector / ParseToCiliumRule) and
 * NetworkPolicy translation (pkg/k8s/network_policy.go), checked as tables of policy -> selector.
 */
import { describe, expect, test } from 'vitest';
import { at, peerTexts, policy, rules, yaml } from './helpers.js';

function cnpPeer(peer: string, kind = 'CiliumNetworkPolicy', subject = '{}'): string[] | undefined {
  const ns = kind === 'CiliumNetworkPolicy' ? ', namespace: team-a' : '';
  const p = policy(
    yaml(`
      apiVersion: cilium.io/v2
      kind: ${kind}
      metadata: {name: t${ns}}
      spec:
        endpointSelector: ${subject}
        ingress:
          - fromEndpoints:
              - ${peer}
    `),
  );
  return peerTexts(rules(p)[0]!);
}

describe('CNP/CCNP peer selectors (getEndpointSelector)', () => {
  test.each([
    ['CNP {} selects the policy namespace', 'CiliumNetworkPolicy', '{}', ['endpoints:k8s:io.kubernetes.pod.namespace=team-a']],
    [
      'CNP label without source gets any: and the namespace',
      'CiliumNetworkPolicy',
      '{matchLabels: {app: web}}',
      ['endpoints:any:app=web,k8s:io.kubernetes.pod.namespace=team-a'],
    ],
    [
      'CNP explicit k8s namespace is kept (cross-namespace)',
      'CiliumNetworkPolicy',
      '{matchLabels: {"k8s:io.kubernetes.pod.namespace": other, app: web}}',
      ['endpoints:any:app=web,k8s:io.kubernetes.pod.namespace=other'],
    ],
    [
      'CNP namespace key without source (any:) also counts as a namespace',
      'CiliumNetworkPolicy',
      '{matchLabels: {io.kubernetes.pod.namespace: other}}',
      ['endpoints:any:io.kubernetes.pod.namespace=other'],
    ],
    [
      'CNP namespace in matchExpressions counts too',
      'CiliumNetworkPolicy',
      '{matchExpressions: [{key: "k8s:io.kubernetes.pod.namespace", operator: In, values: [a, b]}]}',
      ['endpoints:k8s:io.kubernetes.pod.namespace in (a,b)'],
    ],
    [
      'CNP namespace-label selector spans namespaces (not scoped)',
      'CiliumNetworkPolicy',
      '{matchLabels: {"k8s:io.cilium.k8s.namespace.labels.team": a}}',
      ['endpoints:k8s:io.cilium.k8s.namespace.labels.team=a'],
    ],
    [
      'CNP any: namespace-label selector spans namespaces too',
      'CiliumNetworkPolicy',
      '{matchLabels: {"io.cilium.k8s.namespace.labels.team": a}}',
      ['endpoints:any:io.cilium.k8s.namespace.labels.team=a'],
    ],
    [
      'CNP reserved selector left alone',
      'CiliumNetworkPolicy',
      '{matchLabels: {"reserved:host": ""}}',
      ['endpoints:reserved:host='],
    ],
    [
      'CCNP {} means every pod (namespace Exists), no reserved identity',
      'CiliumClusterwideNetworkPolicy',
      '{}',
      ['endpoints:k8s:io.kubernetes.pod.namespace'],
    ],
    [
      'CCNP namespace-label selector still gets namespace Exists',
      'CiliumClusterwideNetworkPolicy',
      '{matchLabels: {"k8s:io.cilium.k8s.namespace.labels.exposed": "true"}}',
      ['endpoints:k8s:io.cilium.k8s.namespace.labels.exposed=true,k8s:io.kubernetes.pod.namespace'],
    ],
    [
      'CCNP explicit namespace kept as written',
      'CiliumClusterwideNetworkPolicy',
      '{matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system, "k8s:k8s-app": kube-dns}}',
      ['endpoints:k8s:io.kubernetes.pod.namespace=kube-system,k8s:k8s-app=kube-dns'],
    ],
    [
      'CCNP reserved selector left alone',
      'CiliumClusterwideNetworkPolicy',
      '{matchLabels: {"reserved:world": ""}}',
      ['endpoints:reserved:world='],
    ],
  ])('%s', (_name, kind, peer, want) => {
    expect(cnpPeer(peer, kind)).toEqual(want);
  });

  test('CCNP whose subject selects reserved:init gets no namespace Exists on peers (matchesPodInit)', () => {
    expect(cnpPeer('{}', 'CiliumClusterwideNetworkPolicy', '{matchLabels: {"reserved:init": ""}}')).toEqual(['endpoints:{}']);
  });

  test('fromRequires: scoped like fromEndpoints, reserved selectors left alone', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: t, namespace: team-a}
        spec:
          endpointSelector: {}
          ingress:
            - fromRequires:
                - matchLabels: {team: blue}
                - matchLabels: {"reserved:host": ""}
              fromEndpoints:
                - matchLabels: {"reserved:host": ""}
      `),
    );
    const r = rules(p)[0]!;
    expect(r.requires.map((s) => s.text)).toEqual(['any:team=blue,k8s:io.kubernetes.pod.namespace=team-a', 'reserved:host=']);
    expect(peerTexts(r)).toEqual(['endpoints:reserved:host=']);
  });

  test('fromNodes selectors are node labels: no namespace logic', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: t, namespace: team-a}
        spec:
          endpointSelector: {}
          ingress:
            - fromNodes:
                - matchLabels: {node-role.kubernetes.io/control-plane: ""}
      `),
    );
    expect(peerTexts(rules(p)[0]!)).toEqual(['nodes:any:node-role.kubernetes.io/control-plane=']);
  });
});

describe('CNP/CCNP subjects (ParseToCiliumRule)', () => {
  test('CNP endpointSelector always gets the policy namespace, overriding another one (with a note)', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: t, namespace: team-a}
        spec:
          endpointSelector:
            matchLabels: {app: web, "k8s:io.kubernetes.pod.namespace": team-b}
          ingress: [{}]
      `),
    );
    const subject = p.specs[0]!.subject;
    expect(subject.type).toBe('endpoints');
    expect(subject.selector.text).toBe('any:app=web,k8s:io.kubernetes.pod.namespace=team-a');
    expect(p.notes?.some((n) => n.includes('team-b') && n.includes('team-a'))).toBe(true);
  });

  test('CCNP endpointSelector is left as written', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: t}
        spec:
          endpointSelector: {matchLabels: {app: web}}
          egress: [{}]
      `),
    );
    expect(p.ref).toEqual({ kind: 'CiliumClusterwideNetworkPolicy', name: 't' });
    expect(p.specs[0]!.subject.selector.text).toBe('any:app=web');
  });

  test('nodeSelector makes a host policy subject, also in a CNP (with a note)', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: t, namespace: team-a}
        spec:
          nodeSelector: {matchLabels: {role: edge}}
          ingress: [{}]
      `),
    );
    expect(p.specs[0]!.subject).toEqual({ type: 'nodes', selector: expect.objectContaining({ text: 'any:role=edge' }) });
    expect(p.notes?.some((n) => n.includes('CiliumClusterwideNetworkPolicy'))).toBe(true);
  });
});

describe('CNP rule items: peers, default deny, indexes', () => {
  const text = yaml(`
    apiVersion: cilium.io/v2
    kind: CiliumNetworkPolicy
    metadata: {name: t, namespace: ns1}
    specs:
      - endpointSelector: {}
        egress:
          - toPorts: [{ports: [{port: "53", protocol: UDP}]}]
        ingress:
          - {}
          - fromEndpoints: []
          - fromEntities: [world]
      - endpointSelector: {matchLabels: {app: db}}
        ingressDeny:
          - fromCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]
        enableDefaultDeny: {ingress: false}
  `);

  test('items are numbered in document order across specs', () => {
    const p = policy(text);
    const r = rules(p);
    expect(r.map((x) => `${x.index}:${x.direction}${x.deny ? '-deny' : ''}`)).toEqual([
      '0:egress',
      '1:ingress',
      '2:ingress',
      '3:ingress',
      '4:ingress-deny',
    ]);
    // An item's position is its node: the `{` after the dash.
    expect(r[1]!.position).toEqual({ file: 'policy.yaml', ...at(text, '{}', 2) });
    expect(p.specs.map((s) => s.specIndex)).toEqual([0, 1]);
  });

  test('ports without peers = every peer; {} and explicit [] allow nothing; entities as peers', () => {
    const r = rules(policy(text));
    expect(r[0]!.peers).toBeUndefined();
    expect(r[1]!.peers).toEqual([]);
    expect(r[1]!.portRules).toEqual([]);
    expect(r[2]!.peers).toEqual([]);
    expect(peerTexts(r[3]!)).toEqual(['entity:world']);
  });

  test('CIDR set with except', () => {
    const peer = rules(policy(text))[4]!.peers![0]!;
    expect(peer.type).toBe('cidr');
    if (peer.type !== 'cidr') return;
    expect(peer.cidr.prefixLen).toBe(8);
    expect(peer.except.map((e) => e.prefixLen)).toEqual([16]);
  });

  test('default deny per spec: a direction with items, unless enableDefaultDeny turns it off', () => {
    const p = policy(text);
    expect(p.specs[0]!.defaultDeny).toEqual({ ingress: true, egress: true });
    // Second spec: ingressDeny items but enableDefaultDeny.ingress false; no egress items.
    expect(p.specs[1]!.defaultDeny).toEqual({ ingress: false, egress: false });
  });

  test('an explicit enableDefaultDeny: true wins even without items in that direction (evaluateDefaultDenyForRule)', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: t, namespace: ns1}
        spec:
          endpointSelector: {}
          egress: [{toEntities: [world]}]
          enableDefaultDeny: {ingress: true, egress: false}
      `),
    );
    expect(p.specs[0]!.defaultDeny).toEqual({ ingress: true, egress: false });
  });

  test('ingressDeny with [{}] still turns default deny on', () => {
    const p = policy(
      yaml(`
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: t}
        spec:
          endpointSelector: {}
          ingressDeny: [{}]
      `),
    );
    expect(p.specs[0]!.defaultDeny).toEqual({ ingress: true, egress: false });
  });
});

describe('NetworkPolicy (network_policy.go)', () => {
  function np(spec: string, ns = 'shop') {
    return policy(
      yaml(`
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: np, namespace: ${ns}}
        spec:
      `) + spec.replace(/^/gm, '  '),
    );
  }

  test('podSelector subject gets the namespace; keys are k8s: labels', () => {
    const p = np('podSelector: {matchLabels: {app: web}}\n');
    expect(p.specs[0]!.subject.selector.text).toBe('k8s:app=web,k8s:io.kubernetes.pod.namespace=shop');
  });

  test('podSelector and namespaceSelector in ONE peer are AND-ed into one selector', () => {
    const p = np(
      yaml(`
        podSelector: {}
        ingress:
          - from:
              - namespaceSelector: {matchLabels: {team: a}}
                podSelector: {matchLabels: {app: client}}
      `),
    );
    expect(peerTexts(rules(p)[0]!)).toEqual(['endpoints:k8s:app=client,k8s:io.cilium.k8s.namespace.labels.team=a']);
  });

  test('separate peer items are OR-ed', () => {
    const p = np(
      yaml(`
        podSelector: {}
        ingress:
          - from:
              - namespaceSelector: {matchLabels: {team: a}}
              - podSelector: {matchLabels: {app: client}}
              - ipBlock: {cidr: 192.0.2.0/24, except: [192.0.2.128/25]}
      `),
    );
    expect(peerTexts(rules(p)[0]!)).toEqual([
      'endpoints:k8s:io.cilium.k8s.namespace.labels.team=a',
      'endpoints:k8s:app=client,k8s:io.kubernetes.pod.namespace=shop',
      'cidr',
    ]);
  });

  test('empty namespaceSelector means every namespace', () => {
    const p = np('podSelector: {}\ningress:\n  - from:\n      - namespaceSelector: {}\n');
    expect(peerTexts(rules(p)[0]!)).toEqual(['endpoints:k8s:io.kubernetes.pod.namespace']);
  });

  test('namespaceSelector on kubernetes.io/metadata.name uses the namespace-labels prefix', () => {
    const p = np('podSelector: {}\negress:\n  - to:\n      - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}\n');
    expect(peerTexts(rules(p)[0]!)).toEqual(['endpoints:k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=kube-system']);
  });

  test.each([
    ['no policyTypes, no egress: Ingress only', 'podSelector: {}\n', { ingress: true, egress: false }, 0],
    ['no policyTypes, egress rules: both', 'podSelector: {}\negress:\n  - {}\n', { ingress: true, egress: true }, 1],
    ['no policyTypes, empty egress list: Ingress only', 'podSelector: {}\negress: []\n', { ingress: true, egress: false }, 0],
    ['policyTypes [Egress] with no rules: deny all egress', 'podSelector: {}\npolicyTypes: [Egress]\n', { ingress: false, egress: true }, 0],
    [
      'policyTypes [Egress] ignores ingress rules',
      'podSelector: {}\npolicyTypes: [Egress]\ningress:\n  - {}\n',
      { ingress: false, egress: true },
      0,
    ],
    ['policyTypes [Ingress, Egress], no rules: deny both', 'podSelector: {}\npolicyTypes: [Ingress, Egress]\n', { ingress: true, egress: true }, 0],
  ])('policyTypes: %s', (_name, spec, defaultDeny, ruleCount) => {
    const p = np(spec);
    expect(p.specs[0]!.defaultDeny).toEqual(defaultDeny);
    expect(rules(p)).toHaveLength(ruleCount);
  });

  test('missing or empty from/to allows all peers; missing ports allows all ports', () => {
    const p = np('podSelector: {}\ningress:\n  - {}\n  - from: []\n    ports: []\n');
    const r = rules(p);
    expect(r.map((x) => x.peers)).toEqual([undefined, undefined]);
    expect(r.map((x) => x.portRules)).toEqual([[], []]);
  });

  test('ports: protocol defaults to TCP, no port = all ports of the protocol, endPort is a range, named ports', () => {
    const p = np(
      yaml(`
        podSelector: {}
        ingress:
          - ports:
              - port: 80
              - protocol: UDP
              - port: 32000
                endPort: 32768
              - port: http
                protocol: SCTP
      `),
    );
    expect(rules(p)[0]!.portRules[0]!.ports).toEqual([
      { protocol: 'TCP', port: 80 },
      { protocol: 'UDP', port: 0 },
      { protocol: 'TCP', port: 32000, endPort: 32768 },
      { protocol: 'SCTP', port: 'http' },
    ]);
  });
});
