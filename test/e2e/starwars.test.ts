/**
 * The Star Wars demo end to end (examples/starwars): rule1 lets tiefighter land and silently drops
 * xwing. Expected verdicts: docs.cilium.io "Getting Started with the Star Wars Demo", section
 * "Apply an L3/L4 Policy" ("only the tiefighter pods with the label org=empire will succeed. The
 * xwing pods will be blocked!", "This request will hang"); each entry of the expect files names its
 * source.
 */
import { describe, expect, test } from 'vitest';
import { checkCase, replayJson, type ReplayCase } from './replay-case.js';

const base = { cluster: 'starwars/cluster', policy: 'starwars/policies' };

describe('Star Wars demo, L3/L4 policy', () => {
  test.each<[string, ReplayCase]>([
    ['the deathstar pod', { ...base, capture: 'starwars-deathstar.pcap', expect: 'starwars/expect.yaml' }],
    ['the node, tcpdump -i any (every packet twice)', { ...base, capture: 'starwars-node-sll2.pcap', expect: 'starwars/expect.yaml' }],
    ['the clients, through the deathstar ClusterIP', { ...base, capture: 'starwars-service.pcap', expect: 'starwars/expect-service.yaml' }],
  ])('%s', (_name, c) => {
    checkCase(c);
  });

  test('in policy audit mode nothing is dropped and xwing is reported as would-be dropped', () => {
    // Source: docs.cilium.io "Creating Policies from Verdicts" (the Star Wars demo in audit mode):
    // "Policy Audit Mode configures Cilium to allow all traffic while logging all connections
    // that would otherwise be dropped by network policies." The expectations still hold: an AUDIT
    // verdict counts as would-be dropped (issue 4).
    const c = { ...base, capture: 'starwars-deathstar.pcap', expect: 'starwars/expect.yaml' };
    checkCase(c, ['--audit']);
    const lines = replayJson(c, ['--audit']);
    expect(lines.some((l) => l.flow.verdict === 'DROPPED')).toBe(false);
    expect(lines.some((l) => l.flow.verdict === 'AUDIT' && l.flow.IP?.source === '10.0.1.30')).toBe(true);
  });

  test('xwing is dropped silently: no packet of its connection is delivered', () => {
    // Source: the demo page, "This request will hang" (an L3/L4 denial is a drop, not a reset).
    const lines = replayJson({ ...base, capture: 'starwars-deathstar.pcap', expect: 'starwars/expect.yaml' });
    const xwing = lines.filter(
      (l) => (l.flow.IP?.source === '10.0.1.30' || l.flow.IP?.destination === '10.0.1.30') && l.flow.l4?.TCP && (l.flow.event_type?.type === 1 || l.flow.event_type?.type === 4),
    );
    expect(xwing.length).toBeGreaterThan(0);
    expect(xwing.every((l) => l.flow.verdict === 'DROPPED')).toBe(true);
  });
});
