/**
 * One end-to-end case: replay a capture of pcaps/ against a cluster and policies of examples/
 * with `hubcap replay -o json`, check every expectation of its expect file connection by
 * connection with the independent checker (expect-check.ts), then let hubcap check the same file
 * itself (`--expect`, exit 0).
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, runHubcap } from '../helpers/cli.js';
import { checkExpectations, connectionsOf, loadCluster, loadExpectations, type FlowLine } from './expect-check.js';

export interface ReplayCase {
  /** capture under pcaps/ */
  capture: string;
  /** cluster folder under examples/ */
  cluster: string;
  /** policy folder under examples/ */
  policy: string;
  /** expectations file under examples/ */
  expect: string;
}

/**
 * The `cilium connectivity test` scenarios (examples/connectivity), each with the capture that
 * exercises it: the e2e suite checks their expectations, backends.test.ts replays them on both
 * backends.
 */
export const CONNECTIVITY_CASES: ReadonlyArray<ReplayCase> = (
  [
    ['client-egress', 'connectivity-pod-to-pod.pcap'],
    ['echo-ingress-from-other-client-deny', 'connectivity-pod-to-pod-client-to-client.pcap'],
    ['client-ingress-from-other-client-icmp-deny', 'connectivity-pod-to-pod-client-to-client.pcap'],
    ['client-ingress-icmp', 'connectivity-client-to-client.pcap'],
    ['to-entities-world', 'connectivity-pod-to-world.pcap'],
    ['to-cidr-external', 'connectivity-pod-to-cidr.pcap'],
    ['host-entity-egress', 'connectivity-pod-to-host.pcap'],
    ['all-ingress-deny', 'connectivity-pod-to-pod-pod-to-cidr.pcap'],
  ] as const
).map(([name, capture]) => ({ capture, cluster: 'connectivity/cluster', policy: `connectivity/${name}/policies`, expect: `connectivity/${name}/expect.yaml` }));

/** The NetworkPolicy recipes (examples/netpol-recipes), each with its own capture. */
export const NETPOL_RECIPE_CASES: ReadonlyArray<ReplayCase> = (
  [
    ['01-deny-all-traffic-to-an-application', 'netpol-01-deny-all.pcap'],
    ['06-allow-traffic-from-a-namespace', 'netpol-06-allow-from-namespace.pcap'],
    ['07-allow-traffic-from-some-pods-in-another-namespace', 'netpol-07-namespace-and-pod.pcap'],
    ['09-allow-traffic-only-to-a-port', 'netpol-09-port-only.pcap'],
    ['11-deny-egress-traffic-from-an-application', 'netpol-11-deny-egress.pcap'],
    ['networkpolicy-ipblock-except', 'netpol-ipblock-except.pcap'],
  ] as const
).map(([recipe, capture]) => ({ capture, cluster: 'netpol-recipes/cluster', policy: `netpol-recipes/${recipe}/policies`, expect: `netpol-recipes/${recipe}/expect.yaml` }));

/** A case's name in test titles: the folder of its policy (`connectivity/client-egress`). */
export function caseName(c: ReplayCase): string {
  return c.policy.replace(/\/policies$/, '');
}

function args(c: ReplayCase): string[] {
  return [
    'replay',
    join('pcaps', c.capture),
    '--cluster',
    join('examples', c.cluster),
    '--policy',
    join('examples', c.policy),
  ];
}

/** The replay's Hubble lines. */
export function replayJson(c: ReplayCase, extra: string[] = []): FlowLine[] {
  const r = runHubcap([...args(c), '-o', 'json', ...extra]);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as FlowLine);
}

/** Every expectation holds in the JSON flows (checked here) and under `hubcap --expect`. */
export function checkCase(c: ReplayCase, extra: string[] = []): void {
  const lines = replayJson(c, extra);
  const cluster = loadCluster(join(ROOT, 'examples', c.cluster));
  const result = checkExpectations(loadExpectations(join(ROOT, 'examples', c.expect)), connectionsOf(lines), cluster);
  expect(result.failures, result.lines.join('\n')).toBe(0);

  const own = runHubcap([...args(c), '--expect', join('examples', c.expect), '-o', 'summary', ...extra]);
  expect(own.status, `${own.stdout}\n${own.stderr}`).toBe(0);
}

export interface ExampleReplay {
  capture: string;
  cluster: string;
  policy: string;
  /** Expectations under examples/, checked with --expect on both backends. */
  expect?: string;
  extra?: string[];
}

const STARWARS = { cluster: 'starwars/cluster' };
const EDGE = { cluster: 'edge/cluster', policy: 'edge/policies' };
const L7 = { cluster: 'l7/cluster' };

/**
 * Every example capture the e2e suite replays, with the cluster, policies, expectations and
 * flags it uses: backends.test.ts runs them on both backends, fast-path.test.ts with and without
 * the native fast path: the captures and arguments of seed-talk, starwars, l7-starwars,
 * deny-over-allow, edge, l7-*, connectivity and netpol-recipes.
 */
export const EXAMPLE_REPLAYS: Array<[string, ExampleReplay]> = [
  ['seed-talk', { capture: 'seed-talk.pcap', cluster: 'seed-talk/cluster', policy: 'seed-talk/policies', expect: 'seed-talk/expect.yaml' }],
  ['starwars: the deathstar pod', { ...STARWARS, capture: 'starwars-deathstar.pcap', policy: 'starwars/policies', expect: 'starwars/expect.yaml' }],
  [
    'starwars: the deathstar pod, --audit',
    { ...STARWARS, capture: 'starwars-deathstar.pcap', policy: 'starwars/policies', expect: 'starwars/expect.yaml', extra: ['--audit'] },
  ],
  ['starwars: the node, -i any (SLL2)', { ...STARWARS, capture: 'starwars-node-sll2.pcap', policy: 'starwars/policies', expect: 'starwars/expect.yaml' }],
  ['starwars: through the ClusterIP', { ...STARWARS, capture: 'starwars-service.pcap', policy: 'starwars/policies', expect: 'starwars/expect-service.yaml' }],
  ['starwars L7: the deathstar pod', { ...STARWARS, capture: 'starwars-deathstar.pcap', policy: 'starwars/policies-l7', expect: 'starwars/expect-l7.yaml' }],
  ['starwars L7: the node, -i any (SLL2)', { ...STARWARS, capture: 'starwars-node-sll2.pcap', policy: 'starwars/policies-l7', expect: 'starwars/expect-l7.yaml' }],
  ['deny-over-allow', { capture: 'deny-over-allow.pcap', cluster: 'deny-over-allow/cluster', policy: 'deny-over-allow/policies', expect: 'deny-over-allow/expect.yaml' }],
  ['edge', { ...EDGE, capture: 'edge.pcap', expect: 'edge/expect.yaml' }],
  ['edge: first fragment lost', { ...EDGE, capture: 'edge-frag-first-lost.pcap', expect: 'edge/expect-frag-first-lost.yaml' }],
  ['l7 http', { ...L7, capture: 'l7-http.pcap', policy: 'l7/policies/http', expect: 'l7/expect-http.yaml' }],
  ['l7 dns', { ...L7, capture: 'l7-dns.pcap', policy: 'l7/policies/dns', expect: 'l7/expect-dns.yaml' }],
  // FQDN identities learned from DNS answers: ipcache upserts and copied policy maps mid-replay.
  ['l7 fqdn', { ...L7, capture: 'l7-fqdn.pcap', policy: 'l7/policies/fqdn' }],
  ['l7 fqdn, --fqdn-min-ttl 0', { ...L7, capture: 'l7-fqdn.pcap', policy: 'l7/policies/fqdn', extra: ['--fqdn-min-ttl', '0'] }],
  ...CONNECTIVITY_CASES.map((c): [string, ExampleReplay] => [caseName(c), c]),
  ...NETPOL_RECIPE_CASES.map((c): [string, ExampleReplay] => [caseName(c), c]),
];
