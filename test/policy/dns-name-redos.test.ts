/**
 * DNS names (toFQDNs, rules.dns) and TLS server names are checked against the CRD's patterns
 * (pkg/policy/api/fqdn.go: `^([-a-zA-Z0-9_]+[.]?)+$`, and the `*` variant). Those nested
 * quantifiers are exponential for a backtracking RegExp: fuzzing a policy with a 30-character
 * name ending in a bad character stalled hubcap for minutes. The API server runs them with Go's
 * RE2, linear; so does hubcap now. Each case must be decided, and refused, at once.
 */
import { describe, expect, test } from 'vitest';
import { PolicyError } from '../../src/errors.js';
import { at, expectPositionedError, policy, yaml } from './helpers.js';

const FILE = 'bad.yaml';
const HOSTILE = `${'a'.repeat(200)}!`;

function cnp(spec: string): string {
  return `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: ns1}\nspec:\n${yaml(spec).replace(/^/gm, '  ')}`;
}

function timed(fn: () => void): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

describe('DNS and server names that backtrack a RegExp', () => {
  test.each([
    [
      'toFQDNs matchName',
      `
      endpointSelector: {}
      egress:
        - toFQDNs:
            - matchName: "${HOSTILE}"
      `,
      'spec.egress[0].toFQDNs[0].matchName',
      /invalid DNS name/,
    ],
    [
      'rules.dns matchPattern',
      `
      endpointSelector: {}
      egress:
        - toPorts:
            - ports: [{port: "53", protocol: UDP}]
              rules:
                dns:
                  - matchPattern: "*.${HOSTILE}"
      `,
      'spec.egress[0].toPorts[0].rules.dns[0].matchPattern',
      /invalid DNS pattern/,
    ],
    [
      'toPorts serverNames',
      `
      endpointSelector: {}
      egress:
        - toPorts:
            - ports: [{port: "443", protocol: TCP}]
              serverNames: ["${HOSTILE}"]
      `,
      'spec.egress[0].toPorts[0].serverNames[0]',
      /invalid server name/,
    ],
  ])('%s', (_name, spec, path, reason) => {
    const text = cnp(spec);
    // The error points at the quoted scalar (its opening quote).
    const needle = text.includes('"*.') ? '"*.' : `"${HOSTILE.slice(0, 8)}`;
    const ms = timed(() => expectPositionedError(() => policy(text, FILE), { file: FILE, ...at(text, needle), path, reason, kind: PolicyError }));
    expect(ms).toBeLessThan(1000);
  });

  test('valid names still pass the same patterns', () => {
    const text = cnp(`
      endpointSelector: {}
      egress:
        - toFQDNs:
            - matchName: api.example.com.
            - matchPattern: "*.cilium.io"
          toPorts:
            - ports: [{port: "443", protocol: TCP}]
              serverNames: ["**.example.com", "docs.cilium.io"]
    `);
    expect(() => policy(text, FILE)).not.toThrow();
  });
});
