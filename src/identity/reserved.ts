/**
 * Reserved security identities.
 *
 * Mirrors: pkg/identity/numericidentity.go (the numbers and names) and pkg/identity/reserved.go
 * (their labels). kube-apiserver (7) also carries `reserved:remote-node`, so the `remote-node`
 * entity selects it too.
 */
import { LabelSet, LabelSource, type Label } from './labels.js';

/** A numeric security identity (u32 in the kernel maps). */
export type NumericIdentity = number;

export const ReservedIdentity = {
  UNKNOWN: 0,
  HOST: 1,
  WORLD: 2,
  UNMANAGED: 3,
  HEALTH: 4,
  INIT: 5,
  REMOTE_NODE: 6,
  KUBE_APISERVER: 7,
  INGRESS: 8,
  WORLD_IPV4: 9,
  WORLD_IPV6: 10,
} as const;

/** First identity of the cluster-local range (ClusterID 0): 256..65535. */
export const MIN_CLUSTER_IDENTITY = 256;
export const MAX_CLUSTER_IDENTITY = 65535;

/** Node-local identities (CIDR, FQDN) have the local scope bit set: 1<<24 | n. */
export const LOCAL_IDENTITY_SCOPE = 1 << 24;

export const RESERVED_IDENTITY_NAMES: Readonly<Record<number, string>> = {
  0: 'unknown',
  1: 'host',
  2: 'world',
  3: 'unmanaged',
  4: 'health',
  5: 'init',
  6: 'remote-node',
  7: 'kube-apiserver',
  8: 'ingress',
  9: 'world-ipv4',
  10: 'world-ipv6',
};

export function reservedLabel(name: string): Label {
  return { source: LabelSource.RESERVED, key: name, value: '' };
}

/** The label set each reserved identity has (host gains kube-apiserver per node; see agent). */
export function reservedIdentityLabels(id: NumericIdentity): LabelSet {
  switch (id) {
    case ReservedIdentity.KUBE_APISERVER:
      return new LabelSet([reservedLabel('kube-apiserver'), reservedLabel('remote-node')]);
    default: {
      const name = RESERVED_IDENTITY_NAMES[id];
      return new LabelSet(name ? [reservedLabel(name)] : []);
    }
  }
}

export function isReservedIdentity(id: NumericIdentity): boolean {
  return id > 0 && id < MIN_CLUSTER_IDENTITY;
}

export function isLocalIdentity(id: NumericIdentity): boolean {
  return (id & LOCAL_IDENTITY_SCOPE) !== 0;
}

/** Hubble prints reserved identities by name (`world`), others as numbers. */
export function identityDisplayName(id: NumericIdentity): string | undefined {
  return isReservedIdentity(id) ? RESERVED_IDENTITY_NAMES[id] : undefined;
}
