/**
 * The common NetworkPolicy recipes end to end (examples/netpol-recipes): each recipe's own capture
 * replayed against its policy exactly as github.com/ahmetb/kubernetes-network-policy-recipes (01,
 * 06, 07, 09, 11) and kubernetes.io (the example NetworkPolicy, ipBlock with except) give it.
 * Expected verdicts: the recipes' "Try it out" outcomes and the Kubernetes page's explanation of
 * its example, cited entry by entry in each expect.yaml.
 */
import { describe, test } from 'vitest';
import { NETPOL_RECIPE_CASES, caseName, checkCase } from './replay-case.js';

describe('NetworkPolicy recipes', () => {
  test.each(NETPOL_RECIPE_CASES.map((c) => [caseName(c), c] as const))('%s', (_name, c) => {
    checkCase(c);
  });
});
