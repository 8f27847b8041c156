/**
 * Malformed policies: each is refused with ONE line `file:line:col: field.path: reason`, pointing
 * at the offending node, as `kubectl apply --validate=strict` against the CRD schema (plus
 * Cilium's own rule validation, pkg/policy/api/rule_validation.go) would refuse it.
 */
import { describe, expect, test } from 'vitest';
import { InputError, PolicyError, isHubcapError } from '../../src/errors.js';
import { at, expectPositionedError, httpRuleSpec, policy, yaml } from './helpers.js';

const FILE = 'bad.yaml';

function cnp(spec: string, kind = 'CiliumNetworkPolicy'): string {
  const ns = kind === 'CiliumNetworkPolicy' ? ', namespace: ns1' : '';
  return `apiVersion: cilium.io/v2\nkind: ${kind}\nmetadata: {name: bad${ns}}\nspec:\n${yaml(spec).replace(/^/gm, '  ')}`;
}

function np(spec: string): string {
  return `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: ns1}\nspec:\n${yaml(spec).replace(/^/gm, '  ')}`;
}

/** Parses `text` and expects a PolicyError at the `nth` occurrence of `needle`. */
function expectPolicyError(text: string, needle: string, path: string, reason: string | RegExp, nth = 1): void {
  const pos = at(text, needle, nth);
  expectPositionedError(() => policy(text, FILE), { file: FILE, ...pos, path, reason, kind: PolicyError });
}

describe('malformed policies', () => {
  test('bad YAML syntax: yaml position, InputError', () => {
    const text = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n\tname: x\n';
    expectPositionedError(() => policy(text, FILE), { file: FILE, line: 4, col: 1, reason: 'invalid YAML: Tabs are not allowed as indentation' });
  });

  test('unknown field in spec (fromEndpoint)', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - fromEndpoint:
            - {}
    `);
    expectPolicyError(text, 'fromEndpoint:', 'spec.ingress[0].fromEndpoint', 'unknown field "fromEndpoint"');
  });

  test('mistyped field: a string where a list is expected', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toEntities: world
    `);
    expectPolicyError(text, 'world', 'spec.egress[0].toEntities', 'must be a list, not a string');
  });

  test('mistyped field: a mapping where a list is expected', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress: {fromEntities: [world]}
    `);
    expectPolicyError(text, '{fromEntities', 'spec.ingress', 'must be a list, not a mapping');
  });

  test('bad selector operator', () => {
    const text = cnp(`
      endpointSelector:
        matchExpressions:
          - {key: app, operator: Equals, values: [web]}
    `);
    expectPolicyError(text, 'Equals', 'spec.endpointSelector.matchExpressions[0].operator', 'unsupported operator "Equals"');
  });

  test('In without values', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - fromEndpoints:
            - matchExpressions:
                - key: app
                  operator: In
    `);
    // The missing `values` is reported at its expression.
    expectPolicyError(text, 'key: app', 'spec.ingress[0].fromEndpoints[0].matchExpressions[0].values', 'operator In needs at least one value');
  });

  test('Exists with values', () => {
    const text = cnp(`
      endpointSelector:
        matchExpressions:
          - key: app
            operator: Exists
            values: [web]
    `);
    expectPolicyError(text, '[web]', 'spec.endpointSelector.matchExpressions[0].values', 'operator Exists must not have values');
  });

  test('invalid label value in matchLabels', () => {
    const text = cnp(`
      endpointSelector:
        matchLabels: {app: "web server"}
    `);
    expectPolicyError(text, '"web server"', 'spec.endpointSelector.matchLabels.app', 'invalid label value "web server"');
  });

  test('bad CIDR', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toCIDR: [10.0.0.300/24]
    `);
    expectPolicyError(text, '10.0.0.300/24', 'spec.egress[0].toCIDR[0]', 'not a valid CIDR: "10.0.0.300/24"');
  });

  test('CIDR without a prefix length', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toCIDR: [192.0.2.1]
    `);
    expectPolicyError(text, '192.0.2.1', 'spec.egress[0].toCIDR[0]', 'needs a prefix length, e.g. "192.0.2.1/32"');
  });

  test('except outside its CIDR', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toCIDRSet:
            - cidr: 10.0.0.0/16
              except: [10.1.0.0/24]
    `);
    expectPolicyError(text, '10.1.0.0/24', 'spec.egress[0].toCIDRSet[0].except[0]', 'does not contain exclude CIDR prefix 10.1.0.0/24');
  });

  test('cidrGroupRef is refused clearly', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toCIDRSet:
            - cidrGroupRef: office-ranges
    `);
    expectPolicyError(text, 'cidrGroupRef', 'spec.egress[0].toCIDRSet[0].cidrGroupRef', 'needs CiliumCIDRGroup objects');
  });

  test('port 70000', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports: [{port: "70000", protocol: TCP}]
    `);
    expectPolicyError(text, '"70000"', 'spec.ingress[0].toPorts[0].ports[0].port', 'port 70000 is out of range 0..65535');
  });

  test('endPort < port', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports:
                - port: "8080"
                  endPort: 8000
    `);
    expectPolicyError(text, '8000', 'spec.ingress[0].toPorts[0].ports[0].endPort', 'endPort 8000 must be greater than or equal to port 8080');
  });

  test('endPort with a named port', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports:
                - port: http
                  endPort: 9000
    `);
    expectPolicyError(text, '9000', 'spec.ingress[0].toPorts[0].ports[0].endPort', 'endPort needs a numeric port, not the named port "http"');
  });

  test('lower-case protocol (the CRD enum is upper case)', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports: [{port: "80", protocol: tcp}]
    `);
    expectPolicyError(text, 'tcp', 'spec.ingress[0].toPorts[0].ports[0].protocol', 'write "TCP"');
  });

  test('unknown entity', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - fromEntities: [world, internet]
    `);
    expectPolicyError(text, 'internet', 'spec.ingress[0].fromEntities[1]', 'unsupported entity "internet"');
  });

  test('ICMP name not in its family', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - icmps:
            - fields:
                - family: IPv6
                  type: Echo
    `);
    expectPolicyError(text, 'Echo', 'spec.ingress[0].icmps[0].fields[0].type', 'ICMP type Echo not found in IPv6');
  });

  test('ICMP beside toPorts in one item', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts: [{ports: [{port: "80"}]}]
          icmps: [{fields: [{type: 8}]}]
    `);
    expectPolicyError(text, '[{fields', 'spec.ingress[0].icmps', 'the ICMPs block may only be present without toPorts');
  });

  test.each([
    ['HTTP path that RE2 cannot compile (backreference)', '{path: "/(a)\\\\1"}'],
    ['HTTP method and path both invalid: the path is reported, as PortRuleHTTP.Sanitize checks it first', '{method: "(GET", path: "/(a)\\\\1"}'],
  ])('%s', (_name, rule) => {
    const text = cnp(httpRuleSpec(rule));
    expectPolicyError(text, '"/(a)', 'spec.ingress[0].toPorts[0].rules.http[0].path', 'not a valid RE2 regular expression');
  });

  test('both endpointSelector and nodeSelector', () => {
    const text = cnp(
      `
      endpointSelector: {}
      nodeSelector: {}
      ingress: [{}]
    `,
      'CiliumClusterwideNetworkPolicy',
    );
    expectPolicyError(text, 'nodeSelector', 'spec.nodeSelector', 'endpointSelector and nodeSelector are mutually exclusive');
  });

  test('neither endpointSelector nor nodeSelector', () => {
    const text = cnp(`
      description: no subject
      ingress: [{}]
    `);
    expectPolicyError(text, 'description', 'spec', 'one of endpointSelector or nodeSelector is required');
  });

  test('http and dns in one rules block', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toPorts:
            - ports: [{port: "53", protocol: UDP}]
              rules:
                http: [{method: GET}]
                dns: [{matchPattern: "*"}]
    `);
    expectPolicyError(text, '[{matchPattern', 'spec.egress[0].toPorts[0].rules.dns', 'multiple L7 protocol rule types');
  });

  test('DNS rules on ingress', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports: [{port: "53", protocol: UDP}]
              rules:
                dns: [{matchName: example.com}]
    `);
    expectPolicyError(text, '[{matchName', 'spec.ingress[0].toPorts[0].rules.dns', 'DNS rules are not allowed on ingress');
  });

  test('HTTP rules on a port without protocol TCP', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - toPorts:
            - ports: [{port: "80"}]
              rules:
                http: [{method: GET}]
    `);
    expectPolicyError(text, '{port: "80"}', 'spec.ingress[0].toPorts[0].ports[0]', 'L7 rules can only apply to TCP (not ANY)');
  });

  test('fromGroups needs a cloud provider', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - fromGroups:
            - aws: {securityGroupsIds: [sg-1]}
    `);
    expectPolicyError(text, 'fromGroups', 'spec.ingress[0].fromGroups', 'fromGroups needs a cloud provider');
  });

  test('listener is refused clearly', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toPorts:
            - ports: [{port: "80", protocol: TCP}]
              listener: {envoyConfig: {name: cec}, name: l}
    `);
    expectPolicyError(text, 'listener', 'spec.egress[0].toPorts[0].listener', 'listener needs a CiliumEnvoyConfig');
  });

  test('two kinds of peers in one item are not supported', () => {
    const text = cnp(`
      endpointSelector: {}
      ingress:
        - fromEndpoints: [{}]
          fromCIDR: [192.0.2.0/24]
    `);
    expectPolicyError(text, 'fromCIDR', 'spec.ingress[0].fromCIDR', 'combining fromEndpoints and fromCIDR is not supported yet');
  });

  test('rules in an ingressDeny toPorts entry', () => {
    const text = cnp(`
      endpointSelector: {}
      ingressDeny:
        - toPorts:
            - ports: [{port: "80", protocol: TCP}]
              rules: {http: [{}]}
    `);
    expectPolicyError(text, 'rules', 'spec.ingressDeny[0].toPorts[0].rules', 'not allowed in ingressDeny rules');
  });

  test('a CNP with neither spec nor specs', () => {
    const text = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: ns1}\n';
    expectPolicyError(text, 'apiVersion', '', 'needs spec or specs');
  });

  test('wrong apiVersion for the kind', () => {
    const text = 'apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: bad}\nspec: {endpointSelector: {}}\n';
    expectPolicyError(text, 'cilium.io/v1', 'apiVersion', 'is served as cilium.io/v2');
  });

  test('NetworkPolicy: unknown field in a rule', () => {
    const text = np(`
      podSelector: {}
      ingress:
        - form:
            - podSelector: {}
    `);
    expectPolicyError(text, 'form', 'spec.ingress[0].form', 'unknown field "form"');
  });

  test('NetworkPolicy: ipBlock beside podSelector in one peer', () => {
    const text = np(`
      podSelector: {}
      egress:
        - to:
            - podSelector: {}
              ipBlock: {cidr: 10.0.0.0/8}
    `);
    expectPolicyError(text, 'ipBlock', 'spec.egress[0].to[0].ipBlock', 'may not specify both ipBlock and another peer');
  });

  test('NetworkPolicy: a quoted number is a (bad) port name', () => {
    const text = np(`
      podSelector: {}
      ingress:
        - ports: [{port: "80"}]
    `);
    expectPolicyError(text, '"80"', 'spec.ingress[0].ports[0].port', 'must contain at least one letter');
  });

  test('NetworkPolicy: endPort without a numeric port', () => {
    const text = np(`
      podSelector: {}
      ingress:
        - ports: [{port: http, endPort: 9000}]
    `);
    expectPolicyError(text, '9000', 'spec.ingress[0].ports[0].endPort', 'endPort needs a numeric port');
  });

  test('NetworkPolicy: except not strictly inside the block', () => {
    const text = np(`
      podSelector: {}
      ingress:
        - from:
            - ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}
    `);
    expectPolicyError(text, '10.0.0.0/8]', 'spec.ingress[0].from[0].ipBlock.except[0]', 'must be a strict subset of cidr 10.0.0.0/8');
  });

  test('every policy error is a HubcapError with code HUBCAP_ERR_POLICY; YAML errors are HUBCAP_ERR_INPUT', () => {
    let policyErr: unknown;
    try {
      policy(cnp('endpointSelector: {}\nbogus: 1\n'), FILE);
    } catch (e) {
      policyErr = e;
    }
    expect(isHubcapError(policyErr)).toBe(true);
    expect((policyErr as PolicyError).code).toBe('HUBCAP_ERR_POLICY');
    let yamlErr: unknown;
    try {
      policy('a: [1,\n', FILE);
    } catch (e) {
      yamlErr = e;
    }
    expect(yamlErr).toBeInstanceOf(InputError);
    expect(yamlErr).not.toBeInstanceOf(PolicyError);
    expect((yamlErr as InputError).code).toBe('HUBCAP_ERR_INPUT');
  });
});
