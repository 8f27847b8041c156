/**
 * Deny precedence in the desired policy map (pkg/policy/mapstate.go insertWithChanges), checked
 * against the datapath's two-lookup arbitration (bpf/lib/policy.h): whatever the insertion order,
 * a deny covering a narrower allow of the same (or the wildcard) identity must win.
 */
import { describe, expect, test } from 'vitest';
import { MapState, portProtoCovers, type MapStateEntry } from '../../src/agent/mapstate.js';

const INGRESS = 0;

function key(identity: number, proto = 0, port = 0, prefixLen = proto === 0 ? 0 : port === 0 ? 8 : 24) {
  return { identity, direction: INGRESS, protocol: proto, port, prefixLen };
}

function allow(identity: number, proto?: number, port?: number, extra: Partial<MapStateEntry> = {}): MapStateEntry {
  return { ...key(identity, proto, port), deny: false, proxyPort: 0, proxyPortPriority: 0, authType: 0, hasExplicitAuthType: false, derivedFrom: [1], ...extra };
}

function deny(identity: number, proto?: number, port?: number): MapStateEntry {
  return { ...allow(identity, proto, port), deny: true, derivedFrom: [2] };
}

function redirect(identity: number, proto: number, port: number): MapStateEntry {
  return allow(identity, proto, port, { proxyPort: 10001, proxyPortPriority: 1, derivedFrom: [3] });
}

function build(entries: MapStateEntry[]): string[] {
  const ms = new MapState();
  for (const e of entries) ms.insert(e);
  return ms.entries().map((e) => `${e.identity}:${e.protocol}/${e.port}/${e.prefixLen}:${e.deny ? 'deny' : e.proxyPort ? 'redirect' : 'allow'}`);
}

describe('mapstate deny precedence', () => {
  test.each<[string, MapStateEntry[], string[]]>([
    ['deny X:ANY removes allow X:80/TCP', [allow(300, 6, 80), deny(300)], ['300:0/0/0:deny']],
    ['allow X:80 under deny X:ANY is not inserted', [deny(300), allow(300, 6, 80)], ['300:0/0/0:deny']],
    ['deny 0:ANY removes allows of every identity', [allow(300, 6, 80), allow(0, 6, 443), deny(0)], ['0:0/0/0:deny']],
    ['deny 0:80 keeps allow X:ANY (the datapath arbitrates across identities)', [allow(300), deny(0, 6, 80)], ['0:6/80/24:deny', '300:0/0/0:allow']],
    ['equal keys: deny overwrites allow', [allow(300, 6, 80), deny(300, 6, 80)], ['300:6/80/24:deny']],
    ['equal keys: allow after deny is dropped', [deny(300, 6, 80), allow(300, 6, 80)], ['300:6/80/24:deny']],
    ['narrower deny under broader deny is redundant', [deny(300), deny(300, 6, 80)], ['300:0/0/0:deny']],
    ['narrower allow survives a broader allow', [allow(300), allow(300, 6, 80)], ['300:0/0/0:allow', '300:6/80/24:allow']],
    ['redirect 0:80 removes plain allow X:80', [allow(300, 6, 80), redirect(0, 6, 80)], ['0:6/80/24:redirect']],
    ['plain allow X:80 under redirect 0:80 is not inserted', [redirect(0, 6, 80), allow(300, 6, 80)], ['0:6/80/24:redirect']],
    ['equal keys: redirect upgrades allow', [allow(300, 6, 80), redirect(300, 6, 80)], ['300:6/80/24:redirect']],
  ])('%s', (_name, entries, expected) => {
    expect(build(entries)).toEqual(expected);
    // Insertion order never matters.
    expect(build([...entries].reverse())).toEqual(expected);
  });

  test('merging equal allows keeps every rule they came from', () => {
    const ms = new MapState();
    ms.insert(allow(300, 6, 80, { derivedFrom: [4] }));
    ms.insert(allow(300, 6, 80, { derivedFrom: [7] }));
    expect([...ms.entries()[0]!.derivedFrom]).toEqual([4, 7]);
  });

  test.each([
    [key(0), key(300, 6, 80), true],
    [key(0, 6), key(0, 6, 80), true],
    [key(0, 6), key(0, 17, 53), false],
    [{ ...key(0, 6, 8000), prefixLen: 22 }, key(0, 6, 8003), true],
    [{ ...key(0, 6, 8000), prefixLen: 22 }, key(0, 6, 8004), false],
    [key(0, 6, 80), key(0, 6), false],
  ])('portProtoCovers %#', (a, b, expected) => {
    expect(portProtoCovers(a, b)).toBe(expected);
  });
});
