/**
 * Verdict codes and their text: the numbers of bpf/lib/drop_reasons.h, the text of
 * pkg/monitor/api/drop.go and the enum names of api/v1/flow/flow.proto (what Hubble JSON prints
 * as drop_reason_desc), plus the policy match type names of pkg/monitor/api/types.go.
 */
import { describe, expect, test } from 'vitest';
import * as codes from '../../src/maps/codes.js';

describe('drop codes (bpf/lib/drop_reasons.h)', () => {
  test.each([
    ['DROP_POLICY', -133],
    ['DROP_INVALID', -134],
    ['DROP_CT_INVALID_HDR', -135],
    ['DROP_UNKNOWN_L3', -139],
    ['DROP_UNKNOWN_L4', -142],
    ['DROP_CT_CREATE_FAILED', -155],
    ['DROP_FRAG_NOSUPPORT', -157],
    ['DROP_NO_SERVICE', -158],
    ['DROP_UNSUPPORTED_L2', -166],
    ['DROP_ENCAP_PROHIBITED', -170],
    ['DROP_FRAG_NOT_FOUND', -175],
    ['DROP_POLICY_DENY', -181],
    ['DROP_POLICY_AUTH_REQUIRED', -189],
    ['DROP_CT_NO_MAP_FOUND', -190],
  ])('%s is %d', (name, value) => {
    expect((codes as unknown as Record<string, number>)[name]).toBe(value);
  });

  test('every DROP_* constant is negative, in 130..206, and unique', () => {
    const drops = Object.entries(codes).filter(([k]) => k.startsWith('DROP_') && typeof (codes as Record<string, unknown>)[k] === 'number');
    expect(drops.length).toBeGreaterThan(60);
    const values = drops.map(([, v]) => v as number);
    for (const v of values) {
      expect(v).toBeLessThanOrEqual(-130);
      expect(v).toBeGreaterThanOrEqual(-206);
    }
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('drop reason text (pkg/monitor/api/drop.go) and enum name (flow.proto)', () => {
  test.each([
    [codes.DROP_POLICY, 'Policy denied', 'POLICY_DENIED'],
    [codes.DROP_POLICY_DENY, 'Policy denied by denylist', 'POLICY_DENY'],
    [codes.DROP_POLICY_AUTH_REQUIRED, 'Authentication required', 'AUTH_REQUIRED'],
    [codes.DROP_FRAG_NOT_FOUND, 'First logical datagram fragment not found', 'FIRST_LOGICAL_DATAGRAM_FRAGMENT_NOT_FOUND'],
    [codes.DROP_FRAG_NOSUPPORT, 'IP fragmentation not supported', 'IP_FRAGMENTATION_NOT_SUPPORTED'],
    [codes.DROP_FRAG_NEEDED, 'Fragmentation needed', 'CT_MISSING_TCP_ACK_FLAG'],
    [codes.DROP_INVALID, 'Invalid packet', 'INVALID_PACKET_DROPPED'],
    [codes.DROP_CT_INVALID_HDR, 'CT: Truncated or invalid header', 'CT_TRUNCATED_OR_INVALID_HEADER'],
    [codes.DROP_UNKNOWN_L3, 'Unsupported L3 protocol', 'UNSUPPORTED_L3_PROTOCOL'],
    [codes.DROP_UNKNOWN_L4, 'Unknown L4 protocol', 'UNKNOWN_L4_PROTOCOL'],
    [codes.DROP_NO_SERVICE, 'Service backend not found', 'SERVICE_BACKEND_NOT_FOUND'],
    [codes.DROP_ENCAP_PROHIBITED, 'Encapsulation traffic is prohibited', 'ENCAPSULATION_TRAFFIC_IS_PROHIBITED'],
    [codes.DROP_UNSUPPORTED_L2, 'Unsupported L2 protocol', 'UNSUPPORTED_L2_PROTOCOL'],
    [codes.DROP_CT_CREATE_FAILED, 'CT: Map insertion failed', 'CT_MAP_INSERTION_FAILED'],
    [codes.DROP_CT_NO_MAP_FOUND, 'No conntrack map found', 'CT_NO_MAP_FOUND'],
  ])('code %d reads "%s" / %s', (code, text, name) => {
    expect(codes.dropReasonText(code)).toBe(text);
    expect(codes.dropReasonText(-code)).toBe(text);
    expect(codes.dropReasonName(code)).toBe(name);
    expect(codes.DROP_REASON_TEXT.get(-code)).toBe(text);
  });

  test('a reason drop.go does not know prints as its number; an unknown enum value has no name', () => {
    expect(codes.dropReasonText(-250)).toBe('250');
    expect(codes.dropReasonName(-250)).toBeUndefined();
    expect(codes.dropReasonName(codes.DROP_UNSUPP_SERVICE_PROTO)).toBeUndefined();
  });

  test('every named reason has a DROP_* constant, except those the datapath no longer uses', () => {
    const constants = new Set<unknown>(Object.entries(codes).filter(([k]) => k.startsWith('DROP_')).map(([, v]) => v));
    for (const reason of codes.DROP_REASON_NAME.keys()) {
      if (reason === 0 || reason === 130 || reason === 131 || reason === 138 || reason === 148 || reason === 149 || reason === 152) continue; // unused in the datapath
      expect(constants.has(-reason), `reason ${reason}`).toBe(true);
    }
  });
});

describe('policy match types (bpf/lib/policy.h, pkg/monitor/api/types.go)', () => {
  test.each([
    [codes.POLICY_MATCH_NONE, 0, 'none'],
    [codes.POLICY_MATCH_L3_ONLY, 1, 'L3-Only'],
    [codes.POLICY_MATCH_L3_L4, 2, 'L3-L4'],
    [codes.POLICY_MATCH_L4_ONLY, 3, 'L4-Only'],
    [codes.POLICY_MATCH_ALL, 4, 'all'],
    [codes.POLICY_MATCH_L3_PROTO, 5, 'L3-Proto'],
    [codes.POLICY_MATCH_PROTO_ONLY, 6, 'Proto-Only'],
  ])('match type %d (= %d) prints %s', (constant, value, name) => {
    expect(constant).toBe(value);
    expect(codes.policyMatchTypeName(constant)).toBe(name);
  });

  test('an unknown match type prints "unknown"', () => {
    expect(codes.policyMatchTypeName(7)).toBe('unknown');
  });
});
