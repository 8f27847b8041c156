/**
 * A node's view of the ipcache: node-specific entries over the shared map. A node address is
 * host (1) in its own node's view and remote-node (6) in every other view (design.md §4). The
 * answer equals one merged LPM map: longest prefix over both, the local entry on a tie.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Ipcache, IpcacheView, type IpcacheEntry } from '../../src/maps/ipcache.js';
import { ipv4Words } from '../../src/net/addr.js';
import { ip, lookupText, put, refIpcacheLookup } from './builders.js';

const HOST = 1;
const WORLD_V4 = 9;
const REMOTE_NODE = 6;

describe('node views', () => {
  const shared = new Ipcache();
  put(shared, '0.0.0.0/0', WORLD_V4);
  put(shared, '10.0.1.10/32', 40000); // a pod
  put(shared, '192.168.0.0/16', 16777217); // a CIDR identity
  const node1 = new Ipcache();
  put(node1, '192.168.1.1/32', HOST);
  put(node1, '192.168.1.2/32', REMOTE_NODE);
  const node2 = new Ipcache();
  put(node2, '192.168.1.1/32', REMOTE_NODE);
  put(node2, '192.168.1.2/32', HOST);
  const view1 = new IpcacheView(shared, node1);
  const view2 = new IpcacheView(shared, node2);

  test.each([
    ['a node address is host in its own view', view1, '192.168.1.1', HOST],
    ['the same address is remote-node in another view', view2, '192.168.1.1', REMOTE_NODE],
    ['the other node sees its own address as host', view2, '192.168.1.2', HOST],
    ['shared entries answer in every view (pod)', view1, '10.0.1.10', 40000],
    ['shared entries answer in every view (CIDR)', view2, '192.168.7.7', 16777217],
    ['shared defaults answer what nothing else covers', view1, '8.8.8.8', WORLD_V4],
  ])('%s', (_rule, view, addr, identity) => {
    expect(lookupText(view, addr)).toBe(identity);
    const a = ip(addr);
    expect(view.lookup4(a.words[3]!)).toBe(identity);
    expect(view.lookupEntry(a.family, a.words)?.identity).toBe(identity);
  });

  test('a longer shared prefix beats a shorter local one; the local entry wins a tie', () => {
    const s = new Ipcache();
    put(s, '10.0.0.0/24', 1);
    put(s, '10.0.0.5/32', 2);
    put(s, 'fd00::/64', 3);
    const l = new Ipcache();
    put(l, '10.0.0.0/16', 4);
    put(l, '10.0.0.0/24', 5);
    put(l, 'fd00::/64', 6);
    const v = new IpcacheView(s, l);
    expect(lookupText(v, '10.0.0.5')).toBe(2);
    expect(lookupText(v, '10.0.0.6')).toBe(5);
    expect(lookupText(v, '10.0.9.9')).toBe(4);
    expect(lookupText(v, 'fd00::1')).toBe(6);
    expect(lookupText(v, '11.0.0.1')).toBe(-1);
  });

  test('entries() is the merged map, sorted, local values replacing equal prefixes', () => {
    const rows = [...view1.entries()].map((e) => `${e.words[3]}/${e.prefixLen}=${e.identity}`);
    const expected = [
      [0, 0, WORLD_V4],
      [ip('10.0.1.10').words[3], 32, 40000],
      [ip('192.168.0.0').words[3], 16, 16777217],
      [ip('192.168.1.1').words[3], 32, HOST],
      [ip('192.168.1.2').words[3], 32, REMOTE_NODE],
    ].map(([a, p, id]) => `${a}/${p}=${id}`);
    expect(rows).toEqual(expected);
    const s = new Ipcache();
    put(s, '10.0.0.1/32', 40000);
    const l = new Ipcache();
    put(l, '10.0.0.1/32', HOST);
    expect([...new IpcacheView(s, l).entries()].map((e) => e.identity)).toEqual([HOST]);
  });
});

describe('against a merged brute-force map', () => {
  test('random shared and local prefixes', () => {
    const v4 = fc.tuple(fc.constantFrom(0x0a000000, 0x0a000105, 0xc0a80101), fc.integer({ min: 0, max: 0x3ff })).map(([b, r]) => (b ^ r) >>> 0);
    const prefix = fc.record({ addr: v4, prefixLen: fc.integer({ min: 0, max: 32 }), identity: fc.integer({ min: 1, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(prefix, { maxLength: 30, size: 'max' }), fc.array(prefix, { maxLength: 30, size: 'max' }), fc.array(v4, { minLength: 1, maxLength: 40, size: 'max' }), (sp, lp, addrs) => {
        const s = new Ipcache();
        const l = new Ipcache();
        for (const p of sp) s.upsert(4, ipv4Words(p.addr), p.prefixLen, p.identity);
        for (const p of lp) l.upsert(4, ipv4Words(p.addr), p.prefixLen, p.identity);
        const merged = new Map<string, IpcacheEntry>();
        for (const e of s.entries()) merged.set(`${e.words[3]}/${e.prefixLen}`, e);
        for (const e of l.entries()) merged.set(`${e.words[3]}/${e.prefixLen}`, e);
        const view = new IpcacheView(s, l);
        expect([...view.entries()]).toEqual([...merged.values()].sort((a, b) => a.words[3]! - b.words[3]! || a.prefixLen - b.prefixLen));
        for (const a of addrs) {
          const ref = refIpcacheLookup(merged.values(), 4, ipv4Words(a));
          expect(view.lookup4(a)).toBe(ref ? ref.identity : -1);
        }
      }),
      { numRuns: 200 },
    );
  });
});
