/**
 * Match types of a policy verdict (bpf/lib/policy.h, the numbered comments in
 * __policy_can_access): an L3 entry gives L3-L4 / L3-Proto / L3-Only by its prefix; an L4-only
 * entry gives L4-Only / Proto-Only / all.
 */
import { expect, test } from 'vitest';
import { policyMatchTypeName } from '../../src/maps/codes.js';
import { PolicyMap, PolicyVerdict } from '../../src/maps/policy-map.js';
import { TCP, ingressMasked } from './builders.js';

const PEER = 4242;

test.each([
  // [identity of the entry, prefix length, expected name]
  ['L3 entry, exact port: L3-L4', PEER, 24, 'L3-L4'],
  ['L3 entry, masked port: L3-L4', PEER, 9, 'L3-L4'],
  ['L3 entry, protocol only: L3-Proto', PEER, 8, 'L3-Proto'],
  ['L3 entry, any protocol: L3-Only', PEER, 0, 'L3-Only'],
  ['L4-only entry, exact port: L4-Only', 0, 24, 'L4-Only'],
  ['L4-only entry, masked port: L4-Only', 0, 9, 'L4-Only'],
  ['L4-only entry, protocol only: Proto-Only', 0, 8, 'Proto-Only'],
  ['L4-only entry, any protocol: all', 0, 0, 'all'],
])('%s', (_rule, identity, prefixLen, name) => {
  const map = new PolicyMap();
  map.set(ingressMasked(identity, prefixLen === 0 ? 0 : TCP, 443, prefixLen));
  const out = new PolicyVerdict();
  expect(map.lookup(PEER, 0, TCP, 443, out)).toBe(0);
  expect(policyMatchTypeName(out.matchType)).toBe(name);
  expect(out.prefixLen).toBe(prefixLen);
});

test('a miss has match type none', () => {
  const out = new PolicyVerdict();
  new PolicyMap().lookup(PEER, 0, TCP, 443, out);
  expect(policyMatchTypeName(out.matchType)).toBe('none');
});
