/**
 * Datapath edge cases end to end (examples/edge): the node reaching its own pod (Kubernetes and
 * Cilium's allow-localhost), a remote node, IPv4 fragments with and without their first fragment,
 * IPv6. Sources are cited entry by entry in the expect files: kubernetes.io Network Policies
 * ("traffic to and from the node where a Pod is running is always allowed"), docs.cilium.io
 * cilium-agent --allow-localhost, "Fragment Handling", Cilium's bpf/lib/ipv4.h. A large ping is in the
 * capture without an expectation: no documented outcome covers ICMP fragments.
 */
import { describe, expect, test } from 'vitest';
import { checkCase, replayJson } from './replay-case.js';

const base = { cluster: 'edge/cluster', policy: 'edge/policies' };

describe('edge cases', () => {
  test('host to local pod, remote node, fragments, IPv6', () => {
    checkCase({ ...base, capture: 'edge.pcap', expect: 'edge/expect.yaml' });
  });

  test('fragments whose first fragment never arrived', () => {
    checkCase({ ...base, capture: 'edge-frag-first-lost.pcap', expect: 'edge/expect-frag-first-lost.yaml' });
  });

  test('every fragment without its first fragment is dropped with reason 175', () => {
    // Source: Cilium bpf/lib/ipv4.h ipv4_handle_fragmentation() returns DROP_FRAG_NOT_FOUND
    // (-175); Hubble names reason 175 FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND (flow.proto).
    const lines = replayJson({ ...base, capture: 'edge-frag-first-lost.pcap', expect: 'edge/expect-frag-first-lost.yaml' });
    const finals = lines.filter((l) => l.flow.event_type?.type === 1 || l.flow.event_type?.type === 4);
    expect(finals.length).toBe(4);
    expect(finals.map((l) => [l.flow.verdict, l.flow.drop_reason_desc])).toEqual(
      Array(4).fill(['DROPPED', 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND']),
    );
  });
});
