/**
 * toPorts, ICMP and L7 parsing of Cilium policies (pkg/policy/api/l4.go, icmp.go, http.go,
 * rule_validation.go): defaults, ranges, names, and what each L7 block turns into.
 */
import { describe, expect, test } from 'vitest';
import { ICMPV4_TYPES, ICMPV6_TYPES } from '../../src/policy/icmp.js';
import { policy, rules, yaml } from './helpers.js';

function egressItem(item: string) {
  const p = policy(
    yaml(`
      apiVersion: cilium.io/v2
      kind: CiliumNetworkPolicy
      metadata: {name: t, namespace: ns1}
      spec:
        endpointSelector: {}
        egress:
    `) + item.replace(/^/gm, '    '),
  );
  return { p, rule: rules(p)[0]! };
}

describe('CNP ports', () => {
  test('protocol defaults to ANY; string and named ports; 0 is every port', () => {
    const { rule } = egressItem(
      yaml(`
        - toPorts:
            - ports:
                - port: "80"
                - port: "0"
                  protocol: UDP
                - port: HTTP-Alt
                  protocol: TCP
      `),
    );
    expect(rule.portRules[0]!.ports).toEqual([
      { protocol: 'ANY', port: 80 },
      { protocol: 'UDP', port: 0 },
      // Named ports are compared case-insensitively: lowercased as Cilium's Sanitize does.
      { protocol: 'TCP', port: 'http-alt' },
    ]);
  });

  test('a toPorts entry without ports means every port and protocol', () => {
    const { rule } = egressItem('- toPorts:\n    - {}\n');
    expect(rule.portRules[0]!.ports).toEqual([{ protocol: 'ANY', port: 0 }]);
  });

  test('endPort makes a range; endPort equal to port is a single port', () => {
    const { rule } = egressItem(
      yaml(`
        - toPorts:
            - ports:
                - {port: "1024", endPort: 2047, protocol: TCP}
                - {port: "443", endPort: 443, protocol: TCP}
      `),
    );
    expect(rule.portRules[0]!.ports).toEqual([
      { protocol: 'TCP', port: 1024, endPort: 2047 },
      { protocol: 'TCP', port: 443 },
    ]);
  });

  test('an unquoted port number is accepted with a note (the CRD wants a string)', () => {
    const { p, rule } = egressItem('- toPorts:\n    - ports:\n        - {port: 8080, protocol: TCP}\n');
    expect(rule.portRules[0]!.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    expect(p.notes?.some((n) => n.includes('spec.egress[0].toPorts[0].ports[0].port') && n.includes('"8080"'))).toBe(true);
  });

  test('a leading zero is octal, as Go strconv.ParseUint(base 0) reads it in Cilium', () => {
    const { p, rule } = egressItem('- toPorts:\n    - ports:\n        - {port: "010"}\n');
    expect(rule.portRules[0]!.ports[0]!.port).toBe(8);
    expect(p.notes?.some((n) => n.includes('octal'))).toBe(true);
  });
});

describe('ICMP rules (icmp.go name tables)', () => {
  test.each(Object.entries(ICMPV4_TYPES))('IPv4 %s = %i', (name, code) => {
    const { rule } = egressItem(`- icmps:\n    - fields:\n        - type: ${name}\n`);
    expect(rule.portRules).toEqual([{ ports: [{ protocol: 'ICMP', port: code }], position: expect.anything() }]);
  });

  test.each(Object.entries(ICMPV6_TYPES))('IPv6 %s = %i', (name, code) => {
    const { rule } = egressItem(`- icmps:\n    - fields:\n        - {family: IPv6, type: ${name}}\n`);
    expect(rule.portRules[0]!.ports).toEqual([{ protocol: 'ICMPv6', port: code }]);
  });

  test('the tables match the CRD documentation counts (14 IPv4 names, 27 IPv6 names)', () => {
    expect(Object.keys(ICMPV4_TYPES)).toHaveLength(14);
    expect(Object.keys(ICMPV6_TYPES)).toHaveLength(27);
  });

  test('numbers and numeric strings; family defaults to IPv4; each icmps item is one port rule', () => {
    const { rule } = egressItem(
      yaml(`
        - icmps:
            - fields:
                - type: 8
                - type: "0"
                - {type: 128, family: IPv6}
            - fields:
                - type: 3
      `),
    );
    expect(rule.portRules.map((r) => r.ports)).toEqual([
      [
        { protocol: 'ICMP', port: 8 },
        { protocol: 'ICMP', port: 0 },
        { protocol: 'ICMPv6', port: 128 },
      ],
      [{ protocol: 'ICMP', port: 3 }],
    ]);
    // icmps without peers: every peer (wildcard L3), like toPorts.
    expect(rule.peers).toBeUndefined();
  });
});

describe('L7 rules', () => {
  test('HTTP rules keep their fields; headerMatches are parsed', () => {
    const { rule } = egressItem(
      yaml(`
        - toEndpoints: [{}]
          toPorts:
            - ports: [{port: "80", protocol: TCP}]
              rules:
                http:
                  - method: GET
                    path: "/api/v[0-9]+/.*"
                  - method: POST
                    host: "^example\\\\.com$"
                    headers: ["X-Auth"]
                    headerMatches:
                      - {name: X-Env, value: prod, mismatch: LOG}
      `),
    );
    expect(rule.portRules[0]!.l7).toEqual({
      http: [
        { method: 'GET', path: '/api/v[0-9]+/.*' },
        { method: 'POST', host: '^example\\.com$', headers: ['X-Auth'], headerMatches: [{ name: 'X-Env', value: 'prod', mismatch: 'LOG' }] },
      ],
    });
  });

  test('DNS rules on port 53 with protocol ANY are fine (DNS may use UDP and TCP)', () => {
    const { rule } = egressItem(
      yaml(`
        - toEndpoints: [{matchLabels: {"k8s:k8s-app": kube-dns}}]
          toPorts:
            - ports: [{port: "53", protocol: ANY}]
              rules:
                dns:
                  - matchName: cilium.io
                  - matchPattern: "*.cilium.io"
      `),
    );
    expect(rule.portRules[0]!.l7).toEqual({ dns: [{ matchName: 'cilium.io' }, { matchPattern: '*.cilium.io' }] });
  });

  test('Kafka rules', () => {
    const { rule } = egressItem(
      yaml(`
        - toPorts:
            - ports: [{port: "9092", protocol: TCP}]
              rules:
                kafka:
                  - {role: produce, topic: orders}
                  - {apiKey: fetch, apiVersion: "4", clientID: billing}
      `),
    );
    expect(rule.portRules[0]!.l7).toEqual({
      kafka: [
        { role: 'produce', topic: 'orders' },
        { apiKey: 'fetch', apiVersion: '4', clientID: 'billing' },
      ],
    });
  });

  test('toFQDNs peers and authentication', () => {
    const { rule } = egressItem(
      yaml(`
        - toFQDNs:
            - matchName: api.example.com
            - matchPattern: "*.example.org"
          authentication: {mode: required}
      `),
    );
    expect(rule.peers).toEqual([
      { type: 'fqdn', matchName: 'api.example.com' },
      { type: 'fqdn', matchPattern: '*.example.org' },
    ]);
    expect(rule.authRequired).toBe(true);
    expect(rule.authMode).toBe('required');
  });

  test('toServices by name (namespace empty = any) and by selector', () => {
    const { rule } = egressItem(
      yaml(`
        - toServices:
            - k8sService: {serviceName: db}
            - k8sServiceSelector: {selector: {matchLabels: {tier: cache}}, namespace: infra}
      `),
    );
    expect(rule.peers).toEqual([
      { type: 'service', name: 'db', namespace: '' },
      { type: 'service', namespace: 'infra', selector: expect.objectContaining({ text: 'any:tier=cache' }) },
    ]);
  });
});
