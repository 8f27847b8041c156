/**
 * `cilium connectivity test` cases end to end (examples/connectivity): each test's recorded
 * actions replayed against the policies the test applies. Expected verdicts: each test's
 * definition in cilium-cli's connectivity/builder (its WithExpectations function, or success when
 * it has none), cited in each expect.yaml.
 */
import { describe, test } from 'vitest';
import { checkCase } from './replay-case.js';

const tests: Array<[string, string]> = [
  ['client-egress', 'connectivity-pod-to-pod.pcap'],
  ['echo-ingress-from-other-client-deny', 'connectivity-pod-to-pod-client-to-client.pcap'],
  ['client-ingress-from-other-client-icmp-deny', 'connectivity-pod-to-pod-client-to-client.pcap'],
  ['client-ingress-icmp', 'connectivity-client-to-client.pcap'],
  ['to-entities-world', 'connectivity-pod-to-world.pcap'],
  ['to-cidr-external', 'connectivity-pod-to-cidr.pcap'],
  ['host-entity-egress', 'connectivity-pod-to-host.pcap'],
  ['all-ingress-deny', 'connectivity-pod-to-pod-pod-to-cidr.pcap'],
];

describe('cilium connectivity test', () => {
  test.each(tests)('%s', (name, capture) => {
    checkCase({
      capture,
      cluster: 'connectivity/cluster',
      policy: `connectivity/${name}/policies`,
      expect: `connectivity/${name}/expect.yaml`,
    });
  });
});
