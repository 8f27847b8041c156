/**
 * The common NetworkPolicy recipes end to end (examples/netpol-recipes): each recipe's own capture
 * replayed against its policy exactly as github.com/ahmetb/kubernetes-network-policy-recipes (01,
 * 06, 07, 09, 11) and kubernetes.io (the example NetworkPolicy, ipBlock with except) give it.
 * Expected verdicts: the recipes' "Try it out" outcomes and the Kubernetes page's explanation of
 * its example, cited entry by entry in each expect.yaml.
 */
import { describe, test } from 'vitest';
import { checkCase } from './replay-case.js';

const recipes: Array<[string, string]> = [
  ['01-deny-all-traffic-to-an-application', 'netpol-01-deny-all.pcap'],
  ['06-allow-traffic-from-a-namespace', 'netpol-06-allow-from-namespace.pcap'],
  ['07-allow-traffic-from-some-pods-in-another-namespace', 'netpol-07-namespace-and-pod.pcap'],
  ['09-allow-traffic-only-to-a-port', 'netpol-09-port-only.pcap'],
  ['11-deny-egress-traffic-from-an-application', 'netpol-11-deny-egress.pcap'],
  ['networkpolicy-ipblock-except', 'netpol-ipblock-except.pcap'],
];

describe('NetworkPolicy recipes', () => {
  test.each(recipes)('%s', (recipe, capture) => {
    checkCase({
      capture,
      cluster: 'netpol-recipes/cluster',
      policy: `netpol-recipes/${recipe}/policies`,
      expect: `netpol-recipes/${recipe}/expect.yaml`,
    });
  });
});
