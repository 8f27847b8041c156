/**
 * ipcache capacity (Cilium's bpf ipcache max_entries, 512,000 by default): a new prefix when
 * full fails and is counted, never replacing another; both families share the one map.
 */
import { expect, test } from 'vitest';
import { DEFAULT_IPCACHE_CAPACITY, Ipcache } from '../../src/maps/ipcache.js';
import { ipv4Words } from '../../src/net/addr.js';
import { del, lookupText, put } from './builders.js';

test('the default capacity is 512,000', () => {
  expect(new Ipcache().capacity).toBe(512_000);
  expect(DEFAULT_IPCACHE_CAPACITY).toBe(512_000);
});

test('a new prefix in a full map fails, is counted and replaces nothing', () => {
  const cache = new Ipcache(2);
  expect(put(cache, '10.0.0.1/32', 1)).toBe(true);
  expect(put(cache, 'fd00::1/128', 2)).toBe(true);
  expect(put(cache, '10.0.0.2/32', 3)).toBe(false);
  expect(put(cache, '0.0.0.0/0', 9)).toBe(false);
  expect(cache.overflow).toBe(2);
  expect(cache.size).toBe(2);
  expect(lookupText(cache, '10.0.0.1')).toBe(1);
  expect(lookupText(cache, 'fd00::1')).toBe(2);
  expect(lookupText(cache, '10.0.0.2')).toBe(-1);
});

test('an update of an existing prefix succeeds in a full map', () => {
  const cache = new Ipcache(1);
  put(cache, '10.0.0.0/24', 1);
  expect(put(cache, '10.0.0.0/24', 5)).toBe(true);
  expect(cache.overflow).toBe(0);
  expect(lookupText(cache, '10.0.0.9')).toBe(5);
});

test('a delete makes room again', () => {
  const cache = new Ipcache(1);
  put(cache, '10.0.0.0/24', 1);
  expect(put(cache, '10.0.1.0/24', 2)).toBe(false);
  expect(del(cache, '10.0.0.0/24')).toBe(true);
  expect(put(cache, '10.0.1.0/24', 2)).toBe(true);
  expect(lookupText(cache, '10.0.1.1')).toBe(2);
});

test('filling the default capacity holds exactly 512,000 prefixes', () => {
  const cache = new Ipcache();
  const words = new Uint32Array(4);
  let ok = 0;
  for (let i = 0; i < DEFAULT_IPCACHE_CAPACITY + 5; i++) if (cache.upsert(4, ipv4Words(0x0a000000 + i, words), 32, 256 + (i & 1023))) ok++;
  expect(ok).toBe(DEFAULT_IPCACHE_CAPACITY);
  expect(cache.overflow).toBe(5);
  expect(cache.lookup4(0x0a000000 + 511_999)).toBe(256 + (511_999 & 1023));
  expect(cache.lookup4(0x0a000000 + 512_000)).toBe(-1);
});
