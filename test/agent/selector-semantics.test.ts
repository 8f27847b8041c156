/**
 * How selectors, ports and kinds turn into policy-map entries, one rule per case. Expected
 * entries follow Cilium's documented semantics: docs.cilium.io "Layer 3 Examples" / "Layer 4
 * Examples" / "Deny Policies" and the Kubernetes NetworkPolicy reference (kubernetes.io), as
 * noted per case; the map layout is bpf/lib/policy.h's.
 */
import { describe, expect, test } from 'vitest';
import { cnp, compile, docs, entryLines, identityOf, node, ns, pod } from '../helpers/agent-cluster.js';

const cluster = docs(
  node('node-a', '192.168.0.1'),
  ns('a', { team: 'blue' }),
  ns('b', { team: 'red' }),
  pod('a', 'web', { app: 'web' }, '10.0.0.10', { ports: [{ name: 'http', containerPort: 8080 }] }),
  pod('a', 'client', { app: 'client' }, '10.0.0.11'),
  pod('b', 'client', { app: 'client' }, '10.0.0.20'),
  pod('b', 'other', { app: 'other' }, '10.0.0.21'),
);

function ccnp(name: string, spec: object): string {
  return JSON.stringify({ apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name }, spec });
}
function netpol(namespace: string, name: string, spec: object): string {
  return JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec });
}

const web = { matchLabels: { app: 'web' } };

describe('peer selectors', () => {
  test('CNP fromEndpoints [{}] means the policy namespace only (Cilium docs: "Ingress allow within namespace")', () => {
    const doc = compile(docs(cluster, cnp('a', 'p', { endpointSelector: web, ingress: [{ fromEndpoints: [{}] }] })));
    const lines = entryLines(doc, 'a/web', 'ingress');
    expect(lines).toContain(`ingress ${identityOf(doc, 'a/client')} ANY/0/0 allow`);
    expect(lines).toContain(`ingress ${identityOf(doc, 'a/web')} ANY/0/0 allow`);
    expect(lines.some((l) => l.startsWith(`ingress ${identityOf(doc, 'b/client')} `))).toBe(false);
  });

  test('CCNP fromEndpoints [{}] means every pod of every namespace but no reserved identity', () => {
    const doc = compile(docs(cluster, ccnp('p', { endpointSelector: web, ingress: [{ fromEndpoints: [{}] }] })));
    const ids = entryLines(doc, 'a/web', 'ingress').map((l) => Number(l.split(' ')[1]));
    for (const p of ['a/client', 'b/client', 'b/other', 'a/web']) expect(ids).toContain(identityOf(doc, p));
    // Only the allow-localhost entry carries identity 1; no world, no wildcard.
    expect(ids.filter((id) => id < 256)).toEqual([1]);
  });

  test('CNP peer selecting namespace labels spans namespaces (utils.go: no namespace injected)', () => {
    const doc = compile(
      docs(
        cluster,
        cnp('a', 'p', {
          endpointSelector: web,
          ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.namespace.labels.team': 'red', app: 'client' } }] }],
        }),
      ),
    );
    expect(entryLines(doc, 'a/web', 'ingress')).toContain(`ingress ${identityOf(doc, 'b/client')} ANY/0/0 allow`);
    expect(entryLines(doc, 'a/web', 'ingress').join('\n')).not.toContain(`ingress ${identityOf(doc, 'a/client')} `);
  });

  test('NetworkPolicy namespaceSelector AND podSelector in one peer (kubernetes.io: "both ... in one element")', () => {
    const doc = compile(
      docs(
        cluster,
        netpol('a', 'p', {
          podSelector: web,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'red' } }, podSelector: { matchLabels: { app: 'client' } } }] }],
        }),
      ),
    );
    const lines = entryLines(doc, 'a/web', 'ingress').join('\n');
    expect(lines).toContain(`ingress ${identityOf(doc, 'b/client')} ANY/0/0 allow`);
    expect(lines).not.toContain(`ingress ${identityOf(doc, 'b/other')} `);
    expect(lines).not.toContain(`ingress ${identityOf(doc, 'a/client')} `);
  });

  test('NetworkPolicy namespaceSelector OR podSelector as two peers', () => {
    const doc = compile(
      docs(
        cluster,
        netpol('a', 'p', {
          podSelector: web,
          ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'red' } } }, { podSelector: { matchLabels: { app: 'client' } } }] }],
        }),
      ),
    );
    const lines = entryLines(doc, 'a/web', 'ingress').join('\n');
    for (const p of ['b/client', 'b/other', 'a/client']) expect(lines).toContain(`ingress ${identityOf(doc, p)} ANY/0/0 allow`);
  });

  test('NetworkPolicy empty namespaceSelector selects pods of all namespaces, not the world', () => {
    const doc = compile(docs(cluster, netpol('a', 'p', { podSelector: web, ingress: [{ from: [{ namespaceSelector: {} }] }] })));
    const ids = entryLines(doc, 'a/web', 'ingress').map((l) => Number(l.split(' ')[1]));
    expect(ids).toContain(identityOf(doc, 'b/other'));
    expect(ids).not.toContain(0);
    expect(ids).not.toContain(2);
  });
});

describe('default deny', () => {
  test('NetworkPolicy without policyTypes: ingress enforced, egress not (kubernetes.io default)', () => {
    const doc = compile(docs(cluster, netpol('a', 'p', { podSelector: web, ingress: [{ from: [{ podSelector: {} }] }] })));
    expect(doc.endpoints.find((e) => e.name === 'a/web')!.policyEnabled).toEqual({ ingress: true, egress: false });
    expect(entryLines(doc, 'a/web', 'egress')).toEqual(['egress 0 ANY/0/0 allow']);
  });

  test('NetworkPolicy policyTypes [Egress] with no rules denies all egress', () => {
    const doc = compile(docs(cluster, netpol('a', 'p', { podSelector: web, policyTypes: ['Egress'] })));
    expect(doc.endpoints.find((e) => e.name === 'a/web')!.policyEnabled).toEqual({ ingress: false, egress: true });
    expect(entryLines(doc, 'a/web', 'egress')).toEqual([]);
  });

  test('a deny-only policy still turns default deny on (Cilium docs: Deny Policies)', () => {
    const doc = compile(
      docs(cluster, cnp('a', 'p', { endpointSelector: web, ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }] })),
    );
    expect(doc.endpoints.find((e) => e.name === 'a/web')!.policyEnabled.ingress).toBe(true);
    expect(entryLines(doc, 'a/web', 'ingress')).toEqual([
      'ingress 1 ANY/0/0 allow',
      `ingress ${identityOf(doc, 'a/client')} ANY/0/0 deny`,
    ]);
  });

  test('enableDefaultDeny.ingress false keeps the allow-all entry while rules still add theirs', () => {
    const doc = compile(
      docs(
        cluster,
        cnp('a', 'p', {
          endpointSelector: web,
          enableDefaultDeny: { ingress: false },
          ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }] }],
        }),
      ),
    );
    const lines = entryLines(doc, 'a/web', 'ingress');
    expect(lines).toContain('ingress 0 ANY/0/0 allow');
    expect(lines).toContain(`ingress ${identityOf(doc, 'a/client')} ANY/0/0 deny`);
  });

  test('--enable-policy always enforces endpoints no policy selects; never ignores policies', () => {
    const always = compile(cluster, { enablePolicy: 'always' });
    expect(entryLines(always, 'b/other')).toEqual(['ingress 1 ANY/0/0 allow']);
    const never = compile(docs(cluster, netpol('a', 'p', { podSelector: web, policyTypes: ['Ingress', 'Egress'] })), { enablePolicy: 'never' });
    expect(entryLines(never, 'a/web')).toEqual(['ingress 0 ANY/0/0 allow', 'ingress 1 ANY/0/0 allow', 'egress 0 ANY/0/0 allow']);
  });
});

describe('deny over allow across kinds', () => {
  test('CNP ingressDeny of port 80 beats a NetworkPolicy allowing everything from the peer', () => {
    const doc = compile(
      docs(
        cluster,
        netpol('a', 'allow', { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }] }),
        cnp('a', 'deny', {
          endpointSelector: web,
          ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }] }] }],
        }),
      ),
    );
    const id = identityOf(doc, 'a/client');
    expect(entryLines(doc, 'a/web', 'ingress')).toEqual(expect.arrayContaining([`ingress ${id} ANY/0/0 allow`, `ingress ${id} TCP/80/24 deny`]));
  });

  test('a CCNP deny of the whole peer removes a NetworkPolicy allow of one port', () => {
    const doc = compile(
      docs(
        cluster,
        netpol('a', 'allow', {
          podSelector: web,
          ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080 }] }],
        }),
        ccnp('deny', { endpointSelector: web, ingressDeny: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'a', app: 'client' } }] }] }),
      ),
    );
    const id = identityOf(doc, 'a/client');
    const lines = entryLines(doc, 'a/web', 'ingress').filter((l) => l.startsWith(`ingress ${id} `));
    expect(lines).toEqual([`ingress ${id} ANY/0/0 deny`]);
  });
});

describe('ports', () => {
  test.each([
    [1, 65535, 16],
    [1, 65534, 30],
    [1, 1023, 10],
    [8080, 8080, 1],
  ])('endPort %i-%i gives %i masked entries', (port, endPort, count) => {
    const doc = compile(
      docs(
        cluster,
        netpol('a', 'p', { podSelector: web, ingress: [{ ports: [{ protocol: 'TCP', port, ...(endPort !== port ? { endPort } : {}) }] }] }),
      ),
    );
    expect(entryLines(doc, 'a/web', 'ingress').filter((l) => l.startsWith('ingress 0 TCP/'))).toHaveLength(count);
  });

  test('a named port resolves to the subject container port on ingress', () => {
    const doc = compile(docs(cluster, cnp('a', 'p', { endpointSelector: web, ingress: [{ toPorts: [{ ports: [{ port: 'http', protocol: 'TCP' }] }] }] })));
    expect(entryLines(doc, 'a/web', 'ingress')).toContain('ingress 0 TCP/8080/24 allow');
  });

  test('a named port resolves to the destination pod port on egress', () => {
    const doc = compile(
      docs(cluster, cnp('a', 'p', { endpointSelector: { matchLabels: { app: 'client' } }, egress: [{ toEndpoints: [web], toPorts: [{ ports: [{ port: 'http' }] }] }] })),
    );
    expect(entryLines(doc, 'a/client', 'egress')).toEqual([`egress ${identityOf(doc, 'a/web')} TCP/8080/24 allow`]);
  });

  test('ANY with a port means TCP and UDP; without a port, every protocol', () => {
    const doc = compile(docs(cluster, cnp('a', 'p', { endpointSelector: web, ingress: [{ toPorts: [{ ports: [{ port: '53', protocol: 'ANY' }] }] }] })));
    expect(entryLines(doc, 'a/web', 'ingress').filter((l) => l.startsWith('ingress 0'))).toEqual(['ingress 0 TCP/53/24 allow', 'ingress 0 UDP/53/24 allow']);
  });

  test.each([
    ['IPv4', 'EchoRequest', 'ICMP/8/24'],
    ['IPv4', 8, 'ICMP/8/24'],
    ['IPv6', 'EchoRequest', 'ICMPv6/128/24'],
    ['IPv6', 'NeighborSolicitation', 'ICMPv6/135/24'],
  ])('icmps %s type %s -> %s', (family, type, key) => {
    const doc = compile(docs(cluster, cnp('a', 'p', { endpointSelector: web, ingress: [{ icmps: [{ fields: [{ family, type }] }] }] })));
    expect(entryLines(doc, 'a/web', 'ingress')).toContain(`ingress 0 ${key} allow`);
  });
});

describe('entities and CIDRs', () => {
  test('fromEntities all is the wildcard identity; world is world plus CIDR identities', () => {
    const doc = compile(
      docs(
        cluster,
        cnp('a', 'p', {
          endpointSelector: web,
          ingress: [{ fromEntities: ['world'] }, { fromCIDR: ['203.0.113.0/24'], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] }],
          egress: [{ toEntities: ['all'] }],
        }),
      ),
    );
    expect(entryLines(doc, 'a/web', 'egress')).toEqual(['egress 0 ANY/0/0 allow']);
    const cidrId = doc.identities.find((i) => i.labels.includes('cidr:203.0.113.0/24'))!.identity;
    expect(cidrId & (1 << 24)).toBe(1 << 24);
    const lines = entryLines(doc, 'a/web', 'ingress');
    expect(lines).toEqual(expect.arrayContaining(['ingress 2 ANY/0/0 allow', `ingress ${cidrId} ANY/0/0 allow`, `ingress ${cidrId} TCP/443/24 allow`]));
  });

  test('CIDR except carves an identity out (the except prefix gets its own ipcache entry)', () => {
    const doc = compile(
      docs(cluster, cnp('a', 'p', { endpointSelector: web, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.96.0.0/12'] }] }] })),
    );
    const idOf = (label: string): number => doc.identities.find((i) => i.labels.includes(label))!.identity;
    const lines = entryLines(doc, 'a/web', 'egress');
    expect(lines).toContain(`egress ${idOf('cidr:10.0.0.0/8')} ANY/0/0 allow`);
    expect(lines.join('\n')).not.toContain(`egress ${idOf('cidr:10.96.0.0/12')} `);
    // Pods inside 10.0.0.0/8 keep their own identities: CIDR rules never select them.
    expect(lines.join('\n')).not.toContain(`egress ${identityOf(doc, 'a/client')} `);
    expect(doc.ipcache.shared.find((e) => e.prefix === '10.96.0.0/12')).toBeDefined();
  });
});

describe('policy notes reach the maps document', () => {
  test('what the parser accepted with a caveat is a note naming the policy and its line', () => {
    const doc = compile(docs(cluster, cnp('a', 'masked', { endpointSelector: web, egress: [{ toCIDR: ['10.1.2.3/8'] }] })));
    const note = doc.notes.find((n) => n.includes('host bits'));
    expect(note).toMatch(/^CiliumNetworkPolicy\/a\/masked \(test\.yaml:\d+\): spec\.egress\[0\]\.toCIDR\[0\]: 10\.1\.2\.3\/8 has host bits set; Cilium masks it to 10\.0\.0\.0\/8$/);
  });
});
