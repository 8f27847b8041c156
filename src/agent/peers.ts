/**
 * Peers of a rule -> the identities they select, as one node sees them.
 *
 * Mirrors: pkg/policy/api/entity.go (entity -> reserved label selectors; `cluster` adds every
 * pod of this cluster), pkg/policy/api/cidr.go + pkg/labels/cidr.go (a CIDR rule selects the
 * CIDR identities inside its prefix but not inside an `except`; a /0 selects the family's world
 * identity), pkg/policy/api/service.go (toServices: a service with a selector selects its pods,
 * one without selects its Endpoints addresses as CIDRs), pkg/policy/rule.go (fromRequires is
 * AND'ed into every peer of every rule selecting the same endpoint).
 *
 * CIDR rules never select pods or nodes: those addresses have their own identities in the
 * ipcache, which always win the longest-prefix match over a policy CIDR.
 */
import { PolicyError, type SourcePosition } from '../errors.js';
import { K8sLabel, LabelSource } from '../identity/labels.js';
import { ReservedIdentity, type NumericIdentity } from '../identity/reserved.js';
import { cidrContains, type Cidr, type IpAddress } from '../net/addr.js';
import type { ServiceBackends, ServiceInfo } from '../k8s/types.js';
import type { EndpointSelector, EntityName, Peer, SelectorRequirement } from '../policy/types.js';
import type { AgentNode } from './cluster-model.js';
import { SELECT_NOTHING, type IdentityRegistry, type Selection } from './identities.js';
import { selectorMatches } from './selector-match.js';

function makeSelector(requirements: SelectorRequirement[]): EndpointSelector {
  const text = requirements
    .map((r) => `${r.source}:${r.key} ${r.operator} (${[...r.values].sort().join(',')})`)
    .sort()
    .join(', ');
  return { requirements, text };
}

function reservedSelector(name: string): EndpointSelector {
  return makeSelector([{ source: LabelSource.RESERVED, key: name, operator: 'Exists', values: [] }]);
}

const CLUSTER_RESERVED = ['host', 'remote-node', 'init', 'ingress', 'health', 'unmanaged', 'kube-apiserver'];

/** The label selectors an entity stands for (entity.go EntitySelectorMapping). */
export function entitySelectors(entity: EntityName, clusterName: string): EndpointSelector[] | 'all' {
  switch (entity) {
    case 'all':
      return 'all';
    case 'none':
      return [];
    case 'world':
      return [reservedSelector('world'), reservedSelector('world-ipv4'), reservedSelector('world-ipv6')];
    case 'cluster':
      return [
        ...CLUSTER_RESERVED.map(reservedSelector),
        makeSelector([{ source: LabelSource.K8S, key: K8sLabel.CLUSTER, operator: 'In', values: [clusterName] }]),
      ];
    default:
      return [reservedSelector(entity)];
  }
}

export interface PeerContext {
  registry: IdentityRegistry;
  clusterName: string;
  dualStack: boolean;
  nodes: AgentNode[];
  services: ServiceInfo[];
  backends: ServiceBackends[];
}

function unionInto(target: Set<NumericIdentity>, sel: Selection): boolean {
  if (sel.wildcard) return true;
  for (const id of sel.ids) target.add(id);
  return false;
}

/** The world identity an address family falls back to (0.0.0.0/0, ::/0). */
export function worldIdentityFor(family: 4 | 6, dualStack: boolean): NumericIdentity {
  if (!dualStack) return ReservedIdentity.WORLD;
  return family === 4 ? ReservedIdentity.WORLD_IPV4 : ReservedIdentity.WORLD_IPV6;
}

function selectCidr(ctx: PeerContext, cidr: Cidr, except: Cidr[]): Selection {
  const ids = new Set<NumericIdentity>();
  if (cidr.prefixLen === 0) ids.add(worldIdentityFor(cidr.family, ctx.dualStack));
  for (const info of ctx.registry.cidrIdentitiesWithin(cidr)) {
    const c = info.cidr!;
    if (except.some((e) => e.prefixLen <= c.prefixLen && cidrContains(e, c.family, c.words))) continue;
    ids.add(info.id);
  }
  return { wildcard: false, ids };
}

/** Host prefix of an address (a service backend named by toServices). */
export function hostCidr(a: IpAddress): Cidr {
  return { family: a.family, words: a.words, prefixLen: a.family === 4 ? 32 : 128 };
}

/** The services a toServices peer names. */
export function servicesOfPeer(ctx: Pick<PeerContext, 'services'>, peer: Extract<Peer, { type: 'service' }>): ServiceInfo[] {
  return ctx.services.filter((s) => {
    if (s.namespace !== peer.namespace) return false;
    if (peer.name !== undefined) return s.name === peer.name;
    if (peer.selector) {
      const labels = (s as ServiceInfo & { labels?: Record<string, string> }).labels ?? {};
      return peer.selector.requirements.every((r) => {
        const has = Object.prototype.hasOwnProperty.call(labels, r.key);
        const v = labels[r.key];
        switch (r.operator) {
          case 'Exists':
            return has;
          case 'DoesNotExist':
            return !has;
          case 'In':
            return has && r.values.includes(v!);
          case 'NotIn':
            return !has || !r.values.includes(v!);
        }
      });
    }
    return false;
  });
}

function selectService(ctx: PeerContext, peer: Extract<Peer, { type: 'service' }>, node: string): Selection {
  const ids = new Set<NumericIdentity>();
  for (const svc of servicesOfPeer(ctx, peer)) {
    if (svc.selector) {
      const sel = makeSelector([
        ...Object.entries(svc.selector).map(
          ([key, value]): SelectorRequirement => ({ source: LabelSource.K8S, key, operator: 'In', values: [value] }),
        ),
        { source: LabelSource.K8S, key: K8sLabel.POD_NAMESPACE, operator: 'In', values: [svc.namespace] },
      ]);
      unionInto(ids, ctx.registry.select(sel, node));
    } else {
      for (const b of ctx.backends) {
        if (b.namespace !== svc.namespace || b.serviceName !== svc.name) continue;
        for (const a of b.addresses) {
          const info = ctx.registry.cidrIdentity(hostCidr(a));
          if (info) ids.add(info.id);
        }
      }
    }
  }
  return { wildcard: false, ids };
}

function selectNodes(ctx: PeerContext, selector: EndpointSelector, node: string, position: SourcePosition): Selection {
  const ids = new Set<NumericIdentity>();
  const matches = (n: AgentNode): boolean => selectorMatches(selector, n.hostEndpointLabels);
  const self = ctx.nodes.find((n) => n.name === node);
  if (self && matches(self)) ids.add(ReservedIdentity.HOST);
  // Remote nodes share one identity per kind: kube-apiserver (7) where the apiserver runs,
  // remote-node (6) elsewhere. Telling nodes of one kind apart needs Cilium's per-node
  // identities (--enable-node-selector-labels), which hubcap does not model.
  const groups: Array<[NumericIdentity, AgentNode[]]> = [
    [ReservedIdentity.REMOTE_NODE, ctx.nodes.filter((n) => n.name !== node && !n.hostsApiserver)],
    [ReservedIdentity.KUBE_APISERVER, ctx.nodes.filter((n) => n.name !== node && n.hostsApiserver)],
  ];
  for (const [id, group] of groups) {
    const selected = group.filter(matches).length;
    if (selected === 0) continue;
    if (selected < group.length) {
      throw new PolicyError(
        position,
        `selects ${selected} of the ${group.length} nodes that share identity ${id} as seen from ${node}; ` +
          'hubcap gives remote nodes one identity per kind (remote-node, kube-apiserver), so a node selector must select all or none of them',
        'fromNodes/toNodes',
      );
    }
    ids.add(id);
  }
  return { wildcard: false, ids };
}

/** Identities one peer selects on `node`. */
export function selectPeer(ctx: PeerContext, peer: Peer, node: string, position: SourcePosition): Selection {
  switch (peer.type) {
    case 'endpoints':
      return ctx.registry.select(peer.selector, node);
    case 'entity': {
      const selectors = entitySelectors(peer.entity, ctx.clusterName);
      if (selectors === 'all') return { wildcard: true, ids: new Set() };
      const ids = new Set<NumericIdentity>();
      for (const s of selectors) unionInto(ids, ctx.registry.select(s, node));
      return { wildcard: false, ids };
    }
    case 'cidr':
      return selectCidr(ctx, peer.cidr, peer.except);
    case 'service':
      return selectService(ctx, peer, node);
    case 'nodes':
      return selectNodes(ctx, peer.selector, node, position);
    case 'fqdn':
      // Selects the addresses learned from allowed DNS answers; none before the DNS proxy runs.
      return SELECT_NOTHING;
  }
}

/** Union of the peers of a rule; `undefined` peers = wildcard. */
export function selectPeers(ctx: PeerContext, peers: Peer[] | undefined, node: string, position: SourcePosition): Selection {
  if (peers === undefined) return { wildcard: true, ids: new Set() };
  const ids = new Set<NumericIdentity>();
  for (const peer of peers) {
    if (unionInto(ids, selectPeer(ctx, peer, node, position))) return { wildcard: true, ids: new Set() };
  }
  return { wildcard: false, ids };
}

/** fromRequires/toRequires: keep only identities every requirement selects (a wildcard narrows). */
export function applyRequirements(
  ctx: PeerContext,
  selection: Selection,
  requirements: EndpointSelector[],
  node: string,
): Selection {
  if (requirements.length === 0) return selection;
  let allowed: Set<NumericIdentity> | undefined;
  for (const req of requirements) {
    const sel = ctx.registry.select(req, node);
    if (sel.wildcard) continue;
    allowed = allowed ? new Set([...allowed].filter((id) => sel.ids.has(id))) : new Set(sel.ids);
  }
  if (!allowed) return selection;
  if (selection.wildcard) return { wildcard: false, ids: allowed };
  return { wildcard: false, ids: new Set([...selection.ids].filter((id) => allowed!.has(id))) };
}
