/**
 * Numeric identities for label sets.
 *
 * Cilium allocates cluster identities (256..65535 for ClusterID 0) through CiliumIdentity
 * objects or the kvstore, and node-local identities (CIDR, FQDN) as 1<<24 | n
 * (pkg/identity/numericidentity.go, pkg/identity/cache/local.go). A capture replay has no
 * allocator history, so hubcap:
 *   1. keeps every number the cluster dump gives (CiliumIdentity, CiliumEndpoint): real numbers win;
 *   2. hashes the canonical label text of every other set into its range and probes upward on a
 *      collision, visiting sets in (home slot, label text) order.
 * The number of a set therefore depends only on its labels and on sets that collide with it:
 * adding a pod with new labels never renumbers the others unless the hashes collide (rare in a
 * 65,280-slot range; the probe order keeps even that deterministic).
 */
import type { LabelSet } from './labels.js';
import { LOCAL_IDENTITY_SCOPE, MAX_CLUSTER_IDENTITY, MIN_CLUSTER_IDENTITY, type NumericIdentity } from './reserved.js';

/** FNV-1a over UTF-16 code units: small, stable across runs and platforms. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export interface IdentityRange {
  first: number;
  last: number;
}

export const CLUSTER_RANGE: IdentityRange = { first: MIN_CLUSTER_IDENTITY, last: MAX_CLUSTER_IDENTITY };
/** Local scope: 0x01000001 .. 0x01ffffff. */
export const LOCAL_RANGE: IdentityRange = { first: LOCAL_IDENTITY_SCOPE + 1, last: LOCAL_IDENTITY_SCOPE + 0xffffff };

export class IdentityRangeExhausted extends Error {}

/**
 * Assigns numbers to label sets within one range. `preassigned` numbers are kept as given.
 * Returns canonical label text -> number.
 */
export function allocateIdentities(
  sets: Iterable<LabelSet>,
  range: IdentityRange,
  preassigned: ReadonlyMap<string, NumericIdentity> = new Map(),
): Map<string, NumericIdentity> {
  const result = new Map<string, NumericIdentity>();
  const used = new Set<NumericIdentity>();
  for (const [key, id] of preassigned) {
    result.set(key, id);
    used.add(id);
  }
  const size = range.last - range.first + 1;
  const pending: Array<{ key: string; home: number }> = [];
  const seen = new Set<string>();
  for (const set of sets) {
    const key = set.key();
    if (result.has(key) || seen.has(key)) continue;
    seen.add(key);
    pending.push({ key, home: fnv1a32(key) % size });
  }
  pending.sort((a, b) => a.home - b.home || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  if (pending.length + used.size > size) {
    throw new IdentityRangeExhausted(`identity range ${range.first}..${range.last} exhausted`);
  }
  for (const { key, home } of pending) {
    let slot = home;
    while (used.has(range.first + slot)) slot = (slot + 1) % size;
    const id = range.first + slot;
    used.add(id);
    result.set(key, id);
  }
  return result;
}
