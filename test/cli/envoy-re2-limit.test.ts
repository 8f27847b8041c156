/**
 * `--envoy-re2-max-program-size` (Envoy's runtime key re2.max_program_size.error_level, 100 by
 * default; Cilium's Helm value envoy.staticRuntimeConfig can raise it): an HTTP rule regex whose
 * RE2 program is larger gets a note, since Envoy rejects such a policy update
 * (cilium/cilium#41314); a raised limit takes the note away; a bad value is a usage error.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'hubcap-re2-limit-'));
const POLICY = join(dir, 'big-path.yaml');
// Envoy reported this path's program size as 118 (envoyproxy/gateway#2543).
writeFileSync(
  POLICY,
  `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: big-path, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
    - toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - path: '^/v4/advisory/[0-9a-z-]{36}/clone$'
`,
);
const MAPS = ['maps', '--cluster', 'examples/starwars/cluster', '--policy', POLICY, 'identities'];

function re2Notes(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.includes('RE2 program size'));
}

describe('--envoy-re2-max-program-size', () => {
  test('by default (100) the path is noted with its size, its field and the policy', () => {
    const r = runHubcap(MAPS);
    expect(r.status, r.stderr).toBe(0);
    expect(re2Notes(r.stderr)).toEqual([
      `hubcap: note: CiliumNetworkPolicy/default/big-path (${POLICY}:1): spec.ingress[0].toPorts[0].rules.http[0].path: RE2 program size 118 > 100 ` +
        "(Envoy's re2.max_program_size.error_level, --envoy-re2-max-program-size): Envoy rejects this policy's update for the endpoint, " +
        'so Cilium leaves its L7 policy unapplied (cilium/cilium#41314); hubcap enforces the rule as written. ' +
        'Simplify the regex or raise the limit (Helm envoy.staticRuntimeConfig)',
    ]);
  });

  test('a limit at or above the size takes the note away', () => {
    for (const limit of ['118', '1000']) {
      const r = runHubcap([...MAPS, '--envoy-re2-max-program-size', limit]);
      expect(r.status, r.stderr).toBe(0);
      expect(re2Notes(r.stderr)).toEqual([]);
    }
    expect(re2Notes(runHubcap([...MAPS, '--envoy-re2-max-program-size', '117']).stderr)).toHaveLength(1);
  });

  test.each(['0', '-1', '4294967296', 'lots'])('%s is a usage error, before any input is read', (value) => {
    const r = runHubcap(['maps', '--cluster', '/nonexistent', '--envoy-re2-max-program-size', value, 'identities']);
    expect(r.stderr.trim()).toBe(`hubcap: --envoy-re2-max-program-size must be a whole number between 1 and 4294967295, got "${value}"`);
    expect(r.status).toBe(2);
  });
});
