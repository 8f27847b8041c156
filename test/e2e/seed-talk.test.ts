/**
 * The seed talk's cluster end to end (examples/seed-talk): host firewall, infra namespaces and the
 * user workload default rule against traffic recorded between four nodes. Expected verdicts: the
 * talk ("Turn Your Kubernetes Cluster Into a Castle Using Advanced Cilium Network Policies",
 * Philip Schmid), slide by slide, cited in expect.yaml.
 */
import { describe, expect, test } from 'vitest';
import { checkCase, replayJson } from './replay-case.js';

const c = {
  capture: 'seed-talk.pcap',
  cluster: 'seed-talk/cluster',
  policy: 'seed-talk/policies',
  expect: 'seed-talk/expect.yaml',
};

describe('seed talk', () => {
  test('every connection as the talk intends', () => {
    checkCase(c);
  });

  test("the nodes' VXLAN headers are let in by host-all's data plane rule", () => {
    // Source: slide "Securing the Nodes using Cilium Host Firewall", "All nodes – part 2":
    // "# Data plane inter-node connectivity" (fromEntities host, remote-node; 8472/UDP).
    type Verdict = { flow: { traffic_direction?: string; ingress_allowed_by?: Array<{ kind: string; name: string }> } };
    const ingress = replayJson(c).filter(
      (l) => l.flow.event_type?.type === 5 && l.flow.l4?.UDP?.destination_port === 8472 && (l as Verdict).flow.traffic_direction === 'INGRESS',
    ) as unknown as Verdict[];
    expect(ingress.length).toBeGreaterThan(0);
    for (const v of ingress) {
      expect(v.flow.ingress_allowed_by).toContainEqual(expect.objectContaining({ kind: 'CiliumClusterwideNetworkPolicy', name: 'host-all' }));
    }
  });
});
