/**
 * `hubcap maps`: the views as a user runs them, JSON rows with design.md §3 field names, and bad
 * input as one line with file:line:col and exit 2.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runHubcap } from '../helpers/cli.js';

const SEED = ['--cluster', 'examples/seed-talk/cluster', '--policy', 'examples/seed-talk/policies', '-q'];

describe('hubcap maps on the seed talk', () => {
  test('policy ENDPOINT -o json rows carry the design.md fields', () => {
    const r = runHubcap(['maps', ...SEED, 'policy', 'node/cp-1', '-o', 'json']);
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const api = rows.find((x) => x.port === 6443);
    expect(api).toEqual({
      endpoint: 'node/cp-1',
      direction: 'ingress',
      identity: 0,
      labels: ['reserved:unknown (any)'],
      protocol: 6,
      port: 6443,
      prefix_len: 24,
      verdict: 'allow',
      proxy_port: 0,
      derived_from: ['CiliumClusterwideNetworkPolicy/host-cp#0'],
    });
  });

  test('identities, ipcache --node, pressure and dump', () => {
    const ids = runHubcap(['maps', ...SEED, 'identities', '-o', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(ids.find((i) => i.identity === 7).labels).toEqual(['reserved:kube-apiserver', 'reserved:remote-node']);
    const ipc = runHubcap(['maps', ...SEED, 'ipcache', '--node', 'worker-1', '-o', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(ipc.find((r) => r.prefix === '192.168.10.13/32')).toMatchObject({ node: 'worker-1', identity: 1, labels: ['reserved:host'] });
    const pressure = runHubcap(['maps', ...SEED, 'pressure', '-o', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(Object.keys(pressure[0])).toEqual(['endpoint', 'entries', 'limit', 'percent']);
    expect(pressure[0].entries).toBeGreaterThanOrEqual(pressure.at(-1).entries);
    const dump = JSON.parse(runHubcap(['maps', ...SEED, 'dump']).stdout);
    expect(dump.version).toBe(1);
    expect(dump.policyMaps.length).toBe(dump.endpoints.length);
  });

  test('table view of a policy map reads like cilium bpf policy get', () => {
    const r = runHubcap(['maps', ...SEED, 'policy', 'node/cp-1']);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^DIRECTION\s+IDENTITY\s+LABELS\s+PORT\/PROTO\s+PREFIX\s+VERDICT\s+DERIVED FROM$/);
    expect(lines.some((l) => /^Ingress\s+0\s+.*6443\/TCP\s+24\s+allow\s+CiliumClusterwideNetworkPolicy\/host-cp#0$/.test(l))).toBe(true);
  });

  test('a small policy map limit is reported as overflow, as a full Cilium policy map', () => {
    const r = runHubcap(['maps', ...SEED.slice(0, 4), '--bpf-policy-map-max', '8', 'pressure', '-o', 'json']);
    expect(r.stderr).toMatch(/policy map of node\/cp-1 is full/);
    const cp = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((x) => x.endpoint === 'node/cp-1');
    expect(cp.percent).toBeGreaterThan(100);
  });
});

describe('hubcap maps: bad input is one line and exit 2', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hubcap-maps-'));
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const cluster = file('cluster.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n');

  test.each([
    ['YAML syntax error', 'bad-syntax.yaml', 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x\n', /bad-syntax\.yaml:\d+:\d+/],
    [
      'unknown field in a policy spec',
      'unknown-field.yaml',
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: a\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoint: [{}]\n',
      /unknown-field\.yaml:9:5: spec\.ingress\[0\]\.fromEndpoint/,
    ],
    [
      'invalid CIDR',
      'bad-cidr.yaml',
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: a\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDR: ["10.0.0.0/33"]\n',
      /bad-cidr\.yaml:9:\d+: spec\.egress\[0\]\.toCIDR\[0\]/,
    ],
    [
      'a pod with a malformed IP',
      'bad-pod.yaml',
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: a\nspec:\n  nodeName: n\nstatus:\n  phase: Running\n  podIP: 10.0.0.300\n',
      /bad-pod\.yaml:10:\d+: status\.podIP/,
    ],
  ])('%s', (_name, fileName, text, pattern) => {
    const r = runHubcap(['maps', '--cluster', cluster, '--policy', file(fileName, text), 'identities']);
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^hubcap: /);
    expect(lines[0]).toMatch(pattern);
  });

  test('a missing file, an unknown view and an unknown endpoint', () => {
    for (const args of [
      ['maps', '--cluster', join(dir, 'nope.yaml'), 'identities'],
      ['maps', '--cluster', cluster, 'bogus'],
      ['maps', '--cluster', cluster, 'policy', 'a/nobody'],
      ['maps', '--cluster', cluster, '--enable-policy', 'sometimes', 'identities'],
    ]) {
      const r = runHubcap(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  test('an endpoint or --node beside a view that does not read it is refused, not ignored', () => {
    const cases: Array<[string[], string]> = [
      [['identities', 'default/xwing'], 'hubcap: an endpoint ("default/xwing") is for the policy view, not identities'],
      [['ipcache', 'default/xwing'], 'hubcap: an endpoint ("default/xwing") is for the policy view, not ipcache'],
      [['identities', '--node', 'cp-1'], 'hubcap: --node is for the ipcache view, not identities'],
      [['policy', 'default/xwing', '--node', 'cp-1'], 'hubcap: --node is for the ipcache view, not policy'],
    ];
    for (const [view, message] of cases) {
      const r = runHubcap(['maps', '--cluster', cluster, ...view]);
      expect(r.stdout, view.join(' ')).toBe('');
      expect(r.stderr.trim(), view.join(' ')).toBe(message);
      expect(r.status, view.join(' ')).toBe(2);
    }
  });
});
