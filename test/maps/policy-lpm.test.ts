/**
 * The policy map as an LPM over protocol and port (bpf/lib/policy.h `struct policy_key`): the
 * longest stored prefix of one (identity, direction) that covers (protocol, port) answers; bits
 * beyond a prefix are ignored; identity and direction are exact. Checked against a brute-force
 * reference under random inserts, updates and deletes, with invariants after every mutation.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PolicyMap, PolicyVerdict, type PolicyEntry } from '../../src/maps/policy-map.js';
import {
  TCP,
  UDP,
  checkPolicyMapInvariants,
  ingressAny,
  ingressMasked,
  ingressPort,
  ingressProto,
  normalised,
  policyEntry,
  policyKeyString,
  refLookupExact,
  refPolicyCanAccess,
} from './builders.js';

describe('longest proto/port prefix', () => {
  const map = new PolicyMap();
  map.set(ingressAny(7, { cookie: 0 }));
  map.set(ingressProto(7, TCP, { cookie: 8 }));
  map.set(ingressMasked(7, TCP, 8192, 12, { cookie: 12 })); // 8192..12287
  map.set(ingressMasked(7, TCP, 8080, 21, { cookie: 21 })); // 8080..8087
  map.set(ingressPort(7, TCP, 8081, { cookie: 24 }));

  test.each([
    ['the exact port beats every shorter prefix', TCP, 8081, 24],
    ['a masked port covers its block', TCP, 8084, 21],
    ['outside the narrow block, the wider block answers', TCP, 9000, 12],
    ['outside every port block, protocol only answers', TCP, 22, 8],
    ['another protocol falls to any protocol and port', UDP, 8081, 0],
  ])('%s', (_rule, proto, port, expectedPrefix) => {
    expect(map.lookupExact(7, 0, proto, port)?.cookie).toBe(expectedPrefix);
  });

  test('identity and direction are matched exactly', () => {
    expect(map.lookupExact(8, 0, TCP, 8081)).toBeUndefined();
    expect(map.lookupExact(7, 1, TCP, 8081)).toBeUndefined();
    expect(map.lookupSlot(7, 0, TCP, 8081)).toBeGreaterThanOrEqual(0);
    expect(map.lookupSlot(7, 1, TCP, 8081)).toBe(-1);
  });
});

describe('keys as the kernel stores them', () => {
  test('bits beyond the prefix are ignored: protocol is cleared below 8, the port masked', () => {
    const map = new PolicyMap();
    map.set(policyEntry(5, 0, TCP, 80, 0));
    map.set(policyEntry(5, 0, UDP, 53, 8));
    map.set(policyEntry(5, 0, TCP, 0x1234, 16));
    expect([...map.entries()].map((e) => [e.protocol, e.port, e.prefixLen])).toEqual([
      [0, 0, 0],
      [TCP, 0x1200, 16],
      [UDP, 0, 8],
    ]);
    // The same key with other ignored bits is the same entry.
    expect(map.set(policyEntry(5, 0, UDP, 9999, 0, { cookie: 3 }))).toBe(true);
    expect(map.size).toBe(3);
    expect(map.get(5, 0, 0, 0, 0)?.cookie).toBe(3);
    expect(map.delete(5, 0, TCP, 0x12ff, 16)).toBe(true);
    expect(map.size).toBe(2);
  });

  test('an update replaces the value in place', () => {
    const map = new PolicyMap();
    map.set(ingressPort(5, TCP, 80, { proxyPort: 1 }));
    map.set(ingressPort(5, TCP, 80, { deny: true, cookie: 9 }));
    expect(map.size).toBe(1);
    expect(map.get(5, 0, TCP, 80, 24)).toEqual(ingressPort(5, TCP, 80, { deny: true, cookie: 9 }));
  });

  test('delete of an absent key is false and changes nothing', () => {
    const map = new PolicyMap();
    map.set(ingressPort(5, TCP, 80));
    expect(map.delete(5, 0, TCP, 81, 24)).toBe(false);
    expect(map.delete(6, 0, TCP, 80, 24)).toBe(false);
    expect(map.size).toBe(1);
  });

  test.each([
    ['a prefix length of 1..7 (protocol is never partially wildcarded)', policyEntry(1, 0, TCP, 0, 4)],
    ['a prefix length over 24', policyEntry(1, 0, TCP, 80, 25)],
    ['a protocol over 255', policyEntry(1, 0, 256, 80, 24)],
    ['a port over 65535', policyEntry(1, 0, TCP, 65536, 24)],
    ['a negative identity', policyEntry(-1, 0, TCP, 80, 24)],
    ['an auth type over 127', policyEntry(1, 0, TCP, 80, 24, { authType: 128 })],
    ['a direction other than 0 or 1', { ...policyEntry(1, 0, TCP, 80, 24), direction: 2 as 0 }],
  ])('refuses %s', (_what, e) => {
    expect(() => new PolicyMap().set(e)).toThrow(RangeError);
  });

  test('clear empties the map', () => {
    const map = new PolicyMap();
    map.set(ingressPort(5, TCP, 80));
    map.clear();
    expect(map.size).toBe(0);
    expect([...map.entries()]).toEqual([]);
    expect(map.lookupSlot(5, 0, TCP, 80)).toBe(-1);
    expect(map.set(ingressPort(5, TCP, 80))).toBe(true);
    expect(map.lookupExact(5, 0, TCP, 80)?.identity).toBe(5);
  });
});

// Small domains so that random entries and probes collide often.
const prefixArb = fc.constantFrom(0, 8, 9, 12, 16, 20, 23, 24);
const protoArb = fc.constantFrom(TCP, UDP, 132);
const portArb = fc.oneof(fc.constantFrom(0, 53, 80, 443, 8080, 8081, 65535), fc.integer({ min: 0, max: 65535 }));
const entryArbFor = (identityArb: fc.Arbitrary<number>): fc.Arbitrary<PolicyEntry> =>
  fc
  .record({
    identity: identityArb,
    direction: fc.constantFrom(0 as const, 1 as const),
    protocol: protoArb,
    port: portArb,
    prefixLen: prefixArb,
    deny: fc.boolean(),
    proxyPort: fc.constantFrom(0, 0, 15001, 15002),
    proxyPortPriority: fc.constantFrom(0, 0, 1, 5),
    authType: fc.constantFrom(0, 0, 0, 1, 2),
    hasExplicitAuthType: fc.boolean(),
    cookie: fc.nat(),
  })
  .map(normalised);

describe.each([
  // Many identities: small groups, scanned. Two identities: groups of dozens, probed per length.
  ['small groups', fc.constantFrom(0, 1, 2, 300, 0x1000001)],
  ['large groups', fc.constantFrom(0, 300)],
])('against a brute-force reference (%s)', (_name, identityArb) => {
  const entryArb = entryArbFor(identityArb);
  const opArb = fc.oneof(
    { weight: 3, arbitrary: entryArb.map((e) => ({ kind: 'set' as const, e })) },
    { weight: 1, arbitrary: entryArb.map((e) => ({ kind: 'delete' as const, e })) },
  );
  const probeArb = fc.record({ identity: identityArb, direction: fc.constantFrom(0 as const, 1 as const), protocol: protoArb, port: portArb });

  test('lookupExact and lookup agree with the reference under random mutations', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), fc.array(probeArb, { minLength: 1, maxLength: 40, size: 'max' }), (ops, probes) => {
        const map = new PolicyMap();
        const model = new Map<string, PolicyEntry>();
        const out = new PolicyVerdict();
        for (const op of ops) {
          const key = policyKeyString(op.e);
          if (op.kind === 'set') {
            expect(map.set(op.e)).toBe(true);
            model.set(key, op.e);
          } else {
            expect(map.delete(op.e.identity, op.e.direction, op.e.protocol, op.e.port, op.e.prefixLen)).toBe(model.delete(key));
          }
          checkPolicyMapInvariants(map, model);
        }
        const all = [...model.values()];
        const got: unknown[] = [];
        const want: unknown[] = [];
        for (const p of probes) {
          got.push(map.lookupExact(p.identity, p.direction, p.protocol, p.port));
          want.push(refLookupExact(all, p.identity, p.direction, p.protocol, p.port));
          map.lookup(p.identity, p.direction, p.protocol, p.port, out);
          got.push({ verdict: out.verdict, matchType: out.matchType, cookie: out.cookie, authType: out.authType, matchedIdentity: out.matchedIdentity });
          want.push(refPolicyCanAccess(all, p.identity, p.direction, p.protocol, p.port));
        }
        expect(got).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

});

describe('growth', () => {
  test('entries, sizes and lookups survive growth past the initial tables and many deletes', () => {
    const map = new PolicyMap();
    const model = new Map<string, PolicyEntry>();
    for (let id = 1; id <= 300; id++) {
      for (const port of [80, 443, 8080]) {
        const e = ingressPort(id, TCP, port, { cookie: id * 10 + (port % 7) });
        map.set(e);
        model.set(policyKeyString(e), e);
      }
    }
    for (let id = 1; id <= 300; id += 2) {
      map.delete(id, 0, TCP, 443, 24);
      model.delete(policyKeyString(ingressPort(id, TCP, 443)));
    }
    checkPolicyMapInvariants(map, model);
    for (let id = 1; id <= 300; id++) {
      expect(map.lookupExact(id, 0, TCP, 443)?.cookie).toBe(id % 2 === 1 ? undefined : id * 10 + (443 % 7));
      expect(map.lookupExact(id, 0, TCP, 80)?.cookie).toBe(id * 10 + (80 % 7));
    }
  });
});
