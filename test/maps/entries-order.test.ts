/**
 * entries() order is deterministic whatever the insertion order (the agent's document and
 * `hubcap maps` output must be the same bytes for the same input): policy entries by
 * (direction, identity, protocol, port, prefix length); ipcache entries by family, address,
 * prefix length.
 */
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { Ipcache } from '../../src/maps/ipcache.js';
import { formatCidr } from '../../src/net/addr.js';
import { PolicyMap, type PolicyEntry } from '../../src/maps/policy-map.js';
import { TCP, UDP, egressPort, ingressAny, ingressMasked, ingressPort, ingressProto, put } from './builders.js';

test('policy entries are ordered by direction, identity, protocol, port, prefix length', () => {
  const entries: PolicyEntry[] = [
    egressPort(1, TCP, 53),
    ingressPort(300, UDP, 53),
    ingressAny(0),
    ingressProto(300, TCP),
    ingressMasked(300, TCP, 0x1f00, 16),
    ingressPort(300, TCP, 0x1f00),
    ingressPort(2, TCP, 80),
    ingressPort(0x1000001, TCP, 80),
  ];
  const expected = [
    [0, 0, 0, 0, 0],
    [0, 2, TCP, 80, 24],
    [0, 300, TCP, 0, 8],
    [0, 300, TCP, 0x1f00, 16],
    [0, 300, TCP, 0x1f00, 24],
    [0, 300, UDP, 53, 24],
    [0, 0x1000001, TCP, 80, 24],
    [1, 1, TCP, 53, 24],
  ];
  fc.assert(
    fc.property(fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }), (order) => {
      const map = new PolicyMap();
      for (const e of order) map.set(e);
      expect([...map.entries()].map((e) => [e.direction, e.identity, e.protocol, e.port, e.prefixLen])).toEqual(expected);
    }),
    { numRuns: 50 },
  );
});

test('ipcache entries are ordered by family, address (unsigned), prefix length', () => {
  const prefixes = ['255.0.0.0/8', '10.0.0.0/8', '10.0.0.0/24', '10.0.0.1/32', 'fd00::/8', '::/0', '0.0.0.0/0', '2001:db8::1/128', 'ff02::1/128'];
  const expected = ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/24', '10.0.0.1/32', '255.0.0.0/8', '::/0', '2001:db8::1/128', 'fd00::/8', 'ff02::1/128'];
  fc.assert(
    fc.property(fc.shuffledSubarray(prefixes, { minLength: prefixes.length, maxLength: prefixes.length }), (order) => {
      const cache = new Ipcache();
      for (const p of order) put(cache, p, 1);
      expect([...cache.entries()].map((e) => formatCidr(e))).toEqual(expected);
    }),
    { numRuns: 50 },
  );
});
