/**
 * Deny over allow across policy kinds end to end (examples/deny-over-allow): a NetworkPolicy, CNPs
 * and CCNPs allow and deny the same traffic. Expected verdicts: docs.cilium.io "Deny Policies"
 * ("Deny policies take precedence over allow policies, regardless of whether they are a Cilium
 * Network Policy, a Clusterwide Cilium Network Policy or even a Kubernetes Network Policy", the
 * table's second column, the external-lockdown example), cited entry by entry in expect.yaml.
 */
import { describe, expect, test } from 'vitest';
import { checkCase, replayJson } from './replay-case.js';

const c = {
  capture: 'deny-over-allow.pcap',
  cluster: 'deny-over-allow/cluster',
  policy: 'deny-over-allow/policies',
  expect: 'deny-over-allow/expect.yaml',
};

describe('deny over allow', () => {
  test('every connection as the Deny Policies page says', () => {
    checkCase(c);
  });

  test('the denials are deny entries (POLICY_DENY), not a missing allow', () => {
    // Source: the same page: the deny policy, not default deny, is what drops port 80 and world.
    const drops = replayJson(c).filter((l) => l.flow.verdict === 'DROPPED' && l.flow.event_type?.type === 1);
    expect(drops.length).toBeGreaterThan(0);
    const reasons = new Set(drops.map((l) => String(l.flow.drop_reason_desc)));
    expect([...reasons]).toEqual(['POLICY_DENY']);
  });
});
