/**
 * Identity numbers: CiliumIdentity numbers win; others are hashed into Cilium's ranges so that
 * adding a label set does not renumber the others (pkg/identity/numericidentity.go ranges).
 */
import { describe, expect, test } from 'vitest';
import { allocateIdentities, CLUSTER_RANGE, LOCAL_RANGE } from '../../src/identity/allocator.js';
import { cidrIdentityLabels, cidrLabelKey } from '../../src/identity/identity-labels.js';
import { LabelSet } from '../../src/identity/labels.js';
import { parseCidr } from '../../src/net/addr.js';

const sets = (n: number): LabelSet[] => Array.from({ length: n }, (_, i) => LabelSet.of(`k8s:app=a${i}`));

describe('identity allocation', () => {
  test('cluster identities fall in 256..65535 and are unique', () => {
    const ids = allocateIdentities(sets(2000), CLUSTER_RANGE);
    const values = [...ids.values()];
    expect(new Set(values).size).toBe(2000);
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(256);
      expect(v).toBeLessThanOrEqual(65535);
    }
  });

  test('adding a label set keeps every other number (no collision case)', () => {
    const before = allocateIdentities(sets(50), CLUSTER_RANGE);
    const after = allocateIdentities([...sets(50), LabelSet.of('k8s:app=newcomer')], CLUSTER_RANGE);
    for (const [key, id] of before) expect(after.get(key)).toBe(id);
  });

  test('order of input does not matter', () => {
    const a = allocateIdentities(sets(300), CLUSTER_RANGE);
    const b = allocateIdentities(sets(300).reverse(), CLUSTER_RANGE);
    expect([...a].sort()).toEqual([...b].sort());
  });

  test('preassigned numbers (CiliumIdentity) win and are not reused', () => {
    const all = sets(10);
    const pre = new Map([[all[0]!.key(), 4242]]);
    const ids = allocateIdentities(all, CLUSTER_RANGE, pre);
    expect(ids.get(all[0]!.key())).toBe(4242);
    expect([...ids.values()].filter((v) => v === 4242)).toHaveLength(1);
  });

  test('local identities carry the scope bit 1<<24', () => {
    const c = parseCidr('10.0.0.0/8')!;
    const ids = allocateIdentities([cidrIdentityLabels(c, false)], LOCAL_RANGE);
    const id = [...ids.values()][0]!;
    expect(id & (1 << 24)).toBe(1 << 24);
    expect(id).toBeGreaterThan(1 << 24);
  });
});

describe('CIDR labels (pkg/labels/cidr.go)', () => {
  test.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['2001:db8::/32', '2001-db8--0/32'],
    ['::/0', '0--0/0'],
    ['fd00::1/128', 'fd00--1/128'],
  ])('%s -> cidr:%s', (text, key) => {
    expect(cidrLabelKey(parseCidr(text)!)).toBe(key);
  });

  test('dual stack CIDR identities carry world-ipv4 / world-ipv6', () => {
    expect(cidrIdentityLabels(parseCidr('10.0.0.0/8')!, true).toStrings()).toEqual(['cidr:10.0.0.0/8', 'reserved:world-ipv4']);
    expect(cidrIdentityLabels(parseCidr('10.0.0.0/8')!, false).toStrings()).toEqual(['cidr:10.0.0.0/8', 'reserved:world']);
  });
});
