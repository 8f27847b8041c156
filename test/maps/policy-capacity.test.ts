/**
 * Policy map capacity (Cilium's bpf-policy-map-max, 16384 by default): a new key when the map is
 * full fails and is counted; updates of existing keys still work; nothing is silently replaced.
 */
import { expect, test } from 'vitest';
import { DEFAULT_POLICY_MAP_CAPACITY, PolicyMap } from '../../src/maps/policy-map.js';
import { TCP, ingressPort } from './builders.js';

test('the default capacity is Cilium\'s bpf-policy-map-max', () => {
  expect(new PolicyMap().capacity).toBe(16384);
  expect(DEFAULT_POLICY_MAP_CAPACITY).toBe(16384);
});

test('a new key in a full map fails, is counted and changes nothing', () => {
  const map = new PolicyMap(3);
  for (const port of [80, 81, 82]) expect(map.set(ingressPort(1, TCP, port))).toBe(true);
  expect(map.set(ingressPort(1, TCP, 83))).toBe(false);
  expect(map.set(ingressPort(2, TCP, 80))).toBe(false);
  expect(map.overflow).toBe(2);
  expect(map.size).toBe(3);
  expect(map.lookupExact(1, 0, TCP, 83)).toBeUndefined();
  expect(map.lookupExact(2, 0, TCP, 80)).toBeUndefined();
  expect([...map.entries()].map((e) => e.port)).toEqual([80, 81, 82]);
});

test('an update of an existing key succeeds in a full map', () => {
  const map = new PolicyMap(2);
  map.set(ingressPort(1, TCP, 80));
  map.set(ingressPort(1, TCP, 81));
  expect(map.set(ingressPort(1, TCP, 80, { deny: true }))).toBe(true);
  expect(map.overflow).toBe(0);
  expect(map.get(1, 0, TCP, 80, 24)?.deny).toBe(true);
});

test('a delete makes room again', () => {
  const map = new PolicyMap(1);
  map.set(ingressPort(1, TCP, 80));
  expect(map.set(ingressPort(1, TCP, 81))).toBe(false);
  expect(map.delete(1, 0, TCP, 80, 24)).toBe(true);
  expect(map.set(ingressPort(1, TCP, 81))).toBe(true);
  expect(map.lookupExact(1, 0, TCP, 81)?.port).toBe(81);
  expect(map.overflow).toBe(1);
});

test('a capacity filled to the default limit holds exactly that many entries', () => {
  const map = new PolicyMap();
  let ok = 0;
  for (let i = 0; i < DEFAULT_POLICY_MAP_CAPACITY + 10; i++) if (map.set(ingressPort(1 + (i >> 8), TCP, i & 255))) ok++;
  expect(ok).toBe(DEFAULT_POLICY_MAP_CAPACITY);
  expect(map.size).toBe(DEFAULT_POLICY_MAP_CAPACITY);
  expect(map.overflow).toBe(10);
});

test.each([0, -1, 1.5])('capacity %d is refused', (capacity) => {
  expect(() => new PolicyMap(capacity)).toThrow(RangeError);
});
