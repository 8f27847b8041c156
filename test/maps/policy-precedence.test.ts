/**
 * The two-lookup precedence of bpf/lib/policy.h `__policy_can_access` and `__policy_check`:
 * (1) the peer's (L3) entry, a deny wins at once; (2) the any-peer (L4-only) entry wins if it is
 * a deny, or (1) missed, or its proxy port priority is higher, or the priority is equal and its
 * prefix strictly longer; otherwise (1). Auth type comes from the chosen entry or, when that one
 * has no explicit auth type, from the other if greater. No entry: POLICY_DENIED (133).
 */
import { describe, expect, test } from 'vitest';
import {
  DROP_FRAG_NOSUPPORT,
  DROP_POLICY,
  DROP_POLICY_AUTH_REQUIRED,
  DROP_POLICY_DENY,
  POLICY_MATCH_ALL,
  POLICY_MATCH_L3_L4,
  POLICY_MATCH_L3_ONLY,
  POLICY_MATCH_L3_PROTO,
  POLICY_MATCH_L4_ONLY,
  POLICY_MATCH_NONE,
  POLICY_MATCH_PROTO_ONLY,
} from '../../src/maps/codes.js';
import { PolicyMap, PolicyVerdict, type PolicyEntry } from '../../src/maps/policy-map.js';
import { TCP, ingressAny, ingressMasked, ingressPort, ingressProto, refPolicyCanAccess } from './builders.js';

const PEER = 1000;

function decide(entries: PolicyEntry[], remote = PEER, port = 80): PolicyVerdict {
  const map = new PolicyMap();
  for (const e of entries) expect(map.set(e)).toBe(true);
  const out = new PolicyVerdict();
  const ret = map.lookup(remote, 0, TCP, port, out);
  expect(ret).toBe(out.verdict);
  // The plain re-reading of policy.h agrees on every case of the table.
  const ref = refPolicyCanAccess(entries, remote, 0, TCP, port);
  expect({ verdict: out.verdict, matchType: out.matchType, cookie: out.cookie, authType: out.authType, matchedIdentity: out.matchedIdentity }).toEqual(ref);
  return out;
}

describe('which entry is chosen (policy.h precedence)', () => {
  test.each<[string, PolicyEntry[], number, number, number]>([
    // [rule, entries, verdict, match type, matched identity]
    ['1. an L3 deny wins at once, even over a longer L4-only allow', [ingressAny(PEER, { deny: true, cookie: 1 }), ingressPort(0, TCP, 80, { cookie: 2 })], DROP_POLICY_DENY, POLICY_MATCH_L3_ONLY, PEER],
    ['1. an L3 deny wins over an L4-only redirect with higher priority', [ingressProto(PEER, TCP, { deny: true }), ingressPort(0, TCP, 80, { proxyPort: 15001, proxyPortPriority: 9 })], DROP_POLICY_DENY, POLICY_MATCH_L3_PROTO, PEER],
    ['1. an L4-only deny wins over an L3 allow with a longer prefix', [ingressPort(PEER, TCP, 80), ingressAny(0, { deny: true })], DROP_POLICY_DENY, POLICY_MATCH_ALL, 0],
    ['1. an L4-only deny wins over an L3 redirect with higher priority', [ingressPort(PEER, TCP, 80, { proxyPort: 15001, proxyPortPriority: 200 }), ingressProto(0, TCP, { deny: true })], DROP_POLICY_DENY, POLICY_MATCH_PROTO_ONLY, 0],
    ['2. higher proxy port priority wins: L4-only redirect over a longer L3 allow', [ingressPort(PEER, TCP, 80), ingressProto(0, TCP, { proxyPort: 15002, proxyPortPriority: 1 })], 15002, POLICY_MATCH_PROTO_ONLY, 0],
    ['2. higher proxy port priority wins: L3 redirect over a longer L4-only redirect', [ingressAny(PEER, { proxyPort: 15003, proxyPortPriority: 5 }), ingressPort(0, TCP, 80, { proxyPort: 15004, proxyPortPriority: 4 })], 15003, POLICY_MATCH_L3_ONLY, PEER],
    ['3. equal priority: a strictly longer L4-only prefix wins', [ingressProto(PEER, TCP, { cookie: 7 }), ingressPort(0, TCP, 80, { proxyPort: 0, cookie: 8 })], 0, POLICY_MATCH_L4_ONLY, 0],
    ['3. equal priority: a longer masked L4-only prefix wins over protocol-only L3', [ingressProto(PEER, TCP), ingressMasked(0, TCP, 64, 18, { proxyPort: 15005 })], 15005, POLICY_MATCH_L4_ONLY, 0],
    ['4. equal priority and equal prefix: the L3 entry wins', [ingressPort(PEER, TCP, 80, { proxyPort: 15006 }), ingressPort(0, TCP, 80, { proxyPort: 15007 })], 15006, POLICY_MATCH_L3_L4, PEER],
    ['4. a longer L3 prefix wins over a shorter L4-only one', [ingressPort(PEER, TCP, 80, { proxyPort: 15008 }), ingressAny(0)], 15008, POLICY_MATCH_L3_L4, PEER],
    ['only the L4-only entry matches', [ingressPort(0, TCP, 80), ingressPort(PEER, TCP, 443)], 0, POLICY_MATCH_L4_ONLY, 0],
    ['only the L3 entry matches', [ingressProto(PEER, TCP), ingressPort(0, TCP, 443)], 0, POLICY_MATCH_L3_PROTO, PEER],
    ['no entry matches: POLICY_DENIED', [ingressPort(PEER, TCP, 443), ingressPort(0, 17, 80), ingressPort(PEER + 1, TCP, 80)], DROP_POLICY, POLICY_MATCH_NONE, 0],
    ['an empty map drops with POLICY_DENIED', [], DROP_POLICY, POLICY_MATCH_NONE, 0],
  ])('%s', (_rule, entries, verdict, matchType, matchedIdentity) => {
    const out = decide(entries);
    expect(out.verdict).toBe(verdict);
    expect(out.matchType).toBe(matchType);
    expect(out.matchedIdentity).toBe(matchedIdentity);
  });

  test('the cookie is the chosen entry\'s, also on a deny', () => {
    expect(decide([ingressPort(PEER, TCP, 80, { cookie: 11 }), ingressAny(0, { deny: true, cookie: 22 })]).cookie).toBe(22);
    expect(decide([ingressPort(PEER, TCP, 80, { cookie: 11 }), ingressAny(0, { cookie: 22 })]).cookie).toBe(11);
    expect(decide([ingressPort(PEER, TCP, 80, { cookie: 0xfffffff0 })]).cookie).toBe(0xfffffff0);
  });

  test('the chosen entry\'s prefix length and slot are reported', () => {
    const map = new PolicyMap();
    map.set(ingressMasked(PEER, TCP, 64, 18));
    const out = new PolicyVerdict();
    map.lookup(PEER, 0, TCP, 80, out);
    expect(out.prefixLen).toBe(18);
    expect(map.entryAt(out.slot)).toMatchObject({ identity: PEER, port: 64, prefixLen: 18 });
    map.lookup(PEER, 0, TCP, 200, out);
    expect(out.slot).toBe(-1);
    expect(out.prefixLen).toBe(0);
  });

  test('an untracked fragment that matches nothing is DROP_FRAG_NOSUPPORT', () => {
    const map = new PolicyMap();
    map.set(ingressPort(PEER, TCP, 80));
    const out = new PolicyVerdict();
    expect(map.lookup(PEER, 0, TCP, 0, out, true)).toBe(DROP_FRAG_NOSUPPORT);
    map.set(ingressProto(PEER, TCP));
    expect(map.lookup(PEER, 0, TCP, 0, out, true)).toBe(0);
  });

  test('identity 0 as the peer makes both lookups hit the same entries', () => {
    const out = decide([ingressPort(0, TCP, 80, { proxyPort: 15009 })], 0);
    expect(out.verdict).toBe(15009);
    // Both lookups find the same entry; equal priority and prefix keep the first (L3) one.
    expect(out.matchType).toBe(POLICY_MATCH_L3_L4);
  });

  test('direction is part of the key: an egress entry does not answer ingress', () => {
    const map = new PolicyMap();
    map.set({ ...ingressPort(PEER, TCP, 80), direction: 1 });
    const out = new PolicyVerdict();
    expect(map.lookup(PEER, 0, TCP, 80, out)).toBe(DROP_POLICY);
    expect(map.lookup(PEER, 1, TCP, 80, out)).toBe(0);
  });
});

describe('auth type (policy.h __policy_check)', () => {
  test.each<[string, PolicyEntry[], number, number]>([
    // [rule, entries, verdict, auth type]
    ['the chosen entry\'s auth type requires authentication', [ingressPort(PEER, TCP, 80, { authType: 1 })], DROP_POLICY_AUTH_REQUIRED, 1],
    ['a greater auth type propagates from the L4-only entry to a chosen L3 entry without explicit auth', [ingressPort(PEER, TCP, 80), ingressAny(0, { authType: 2 })], DROP_POLICY_AUTH_REQUIRED, 2],
    ['a greater auth type propagates from the L3 entry to a chosen L4-only entry', [ingressProto(PEER, TCP, { authType: 1 }), ingressPort(0, TCP, 80)], DROP_POLICY_AUTH_REQUIRED, 1],
    ['an explicit auth type of 0 on the chosen entry blocks propagation', [ingressPort(PEER, TCP, 80, { hasExplicitAuthType: true }), ingressAny(0, { authType: 2 })], 0, 0],
    ['an explicit auth type on the chosen entry is kept over a greater one', [ingressPort(PEER, TCP, 80, { authType: 1, hasExplicitAuthType: true }), ingressAny(0, { authType: 2 })], DROP_POLICY_AUTH_REQUIRED, 1],
    ['a smaller auth type does not propagate', [ingressPort(PEER, TCP, 80, { authType: 2 }), ingressAny(0, { authType: 1 })], DROP_POLICY_AUTH_REQUIRED, 2],
    ['a deny ignores auth types', [ingressPort(PEER, TCP, 80, { deny: true, authType: 1 }), ingressAny(0, { authType: 2 })], DROP_POLICY_DENY, 0],
    ['no propagation when the other lookup was skipped by an L3 deny', [ingressAny(PEER, { deny: true }), ingressAny(0, { authType: 2 })], DROP_POLICY_DENY, 0],
    ['the non-chosen entry\'s auth type only propagates when both match', [ingressPort(PEER, TCP, 80), ingressPort(0, TCP, 443, { authType: 2 })], 0, 0],
  ])('%s', (_rule, entries, verdict, authType) => {
    const out = decide(entries);
    expect(out.verdict).toBe(verdict);
    expect(out.authType).toBe(authType);
  });

  test('the proxy port is read before the auth check, as in policy.h', () => {
    const out = decide([ingressPort(PEER, TCP, 80, { proxyPort: 15010, authType: 1 })]);
    expect(out.verdict).toBe(DROP_POLICY_AUTH_REQUIRED);
    expect(out.proxyPort).toBe(15010);
  });
});
