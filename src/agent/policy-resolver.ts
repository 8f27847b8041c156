/**
 * Rules -> the policy map of one endpoint.
 *
 * Mirrors: pkg/policy/repository.go (which rules select an endpoint, whether a direction is
 * enforced), pkg/policy/distillery.go + l4.go (rules -> keys), pkg/policy/mapstate.go (the
 * entries, deny precedence, allow-localhost, allow-all when a direction is not enforced).
 *
 *  - An endpoint is selected by a spec's subject: pods by endpointSelector specs (against their
 *    identity labels), host endpoints only by nodeSelector specs (against node labels).
 *  - Enforcement per direction (mode `default`): on as soon as one selecting spec turns default
 *    deny on for it; `always` turns it on everywhere, `never` off everywhere. A direction that is
 *    not enforced gets the allow-all entry (identity 0, any protocol and port), and its rules
 *    still add their entries (denies keep working under `enableDefaultDeny: false`).
 *  - Pods admit their own node (`host`, identity 1) on ingress: Cilium's allow-localhost.
 */
import type { PolicyRule, PolicySpec } from '../policy/types.js';
import { ReservedIdentity, type NumericIdentity } from '../identity/reserved.js';
import type { NamedPort } from '../k8s/types.js';
import type { L7RuleSetRecord } from '../maps/document.js';
import type { LabelSet } from '../identity/labels.js';
import { MapState, portProtoCovers, type MapStateEntry } from './mapstate.js';
import { AUTH_TYPE_SPIRE, L7_PROXY_PORT_PRIORITY, PROXY_PORTS, type PolicyEnforcementMode } from './options.js';
import { applyRequirements, selectPeers, type PeerContext } from './peers.js';
import { expandPortRules, l7ParserOf, type PortKey } from './ports.js';
import { selectorMatches } from './selector-match.js';
import type { Selection } from './identities.js';
import { fqdnSelectorUses, type FqdnSelectorUseOf } from './fqdn.js';

export interface ResolvedEndpoint {
  name: string;
  kind: 'pod' | 'host';
  node: string;
  /** Labels the subject selectors are matched against. */
  subjectLabels: LabelSet;
  namedPorts: NamedPort[];
}

/** Assigns rule table indexes (provenance); shared by all endpoints of one compile. */
export interface RuleIndexer {
  indexOf(rule: PolicyRule): number;
  reserved(reason: 'allow-any-ingress' | 'allow-any-egress' | 'allow-localhost-ingress'): number;
}

export interface EndpointPolicy {
  mapState: MapState;
  l7: L7RuleSetRecord[];
  /** Templates of the entries toFQDNs rules give the identities their selectors will select (src/agent/fqdn.ts). */
  fqdnUses: FqdnSelectorUseOf[];
  policyEnabled: { ingress: boolean; egress: boolean };
}

export interface ResolveContext extends PeerContext {
  enablePolicy: PolicyEnforcementMode;
  rules: RuleIndexer;
  /** Named ports of every pod identity, for egress rules that name a port. */
  namedPortsByIdentity: Map<NumericIdentity, NamedPort[]>;
  allNamedPorts: NamedPort[];
}

const DIRECTIONS = ['ingress', 'egress'] as const;

export function specSelects(spec: PolicySpec, endpoint: ResolvedEndpoint): boolean {
  if (endpoint.kind === 'host') return spec.subject.type === 'nodes' && selectorMatches(spec.subject.selector, endpoint.subjectLabels);
  return spec.subject.type === 'endpoints' && selectorMatches(spec.subject.selector, endpoint.subjectLabels);
}

function uniqueNamedPorts(list: NamedPort[]): NamedPort[] {
  const seen = new Map<string, NamedPort>();
  for (const np of list) seen.set(`${np.name}/${np.protocol}/${np.port}`, np);
  return [...seen.values()];
}

interface PlainAllow {
  selection: Selection;
  keys: PortKey[];
  derivedFrom: number;
}

export function resolveEndpointPolicy(endpoint: ResolvedEndpoint, specs: PolicySpec[], ctx: ResolveContext): EndpointPolicy {
  const selecting = specs.filter((s) => specSelects(s, endpoint));
  const mapState = new MapState();
  const l7: L7RuleSetRecord[] = [];
  const fqdnUses: FqdnSelectorUseOf[] = [];
  const policyEnabled = { ingress: false, egress: false };

  for (const [dirIndex, dir] of DIRECTIONS.entries()) {
    const enforced =
      ctx.enablePolicy === 'always' || (ctx.enablePolicy === 'default' && selecting.some((s) => s.defaultDeny[dir]));
    policyEnabled[dir] = enforced;
    if (!enforced) {
      mapState.insert(entry(0, dirIndex, { protocol: 0, port: 0, prefixLen: 0 }, ctx.rules.reserved(`allow-any-${dir}`)));
    }
    if (ctx.enablePolicy === 'never') continue;

    const rules = selecting.flatMap((s) => s.rules.filter((r) => r.direction === dir));
    const requirements = rules.flatMap((r) => r.requires);
    const plainAllows: PlainAllow[] = [];
    const l7Here: L7RuleSetRecord[] = [];

    for (const rule of rules) {
      const derivedFrom = ctx.rules.indexOf(rule);
      // toFQDNs peers select nothing yet: keep what they will give the identities they select.
      if (rule.peers?.some((p) => p.type === 'fqdn')) fqdnUses.push(...fqdnSelectorUses(endpoint.name, rule, derivedFrom));
      const selection = applyRequirements(ctx, selectPeers(ctx, rule.peers, endpoint.node, rule.position), requirements, endpoint.node);
      if (!selection.wildcard && selection.ids.size === 0) continue;
      const identities: NumericIdentity[] = selection.wildcard ? [0] : [...selection.ids].sort((a, b) => a - b);
      const resolveNamed = (name: string): NamedPort[] => {
        if (dir === 'ingress') return endpoint.namedPorts.filter((np) => np.name === name);
        // Egress: the port the selected peers give this name (Cilium resolves named ports on
        // the destination; with a wildcard peer, every pod's ports of that name).
        const pool = selection.wildcard
          ? ctx.allNamedPorts
          : identities.flatMap((id) => ctx.namedPortsByIdentity.get(id) ?? []);
        return uniqueNamedPorts(pool.filter((np) => np.name === name));
      };
      const expanded = expandPortRules(rule.portRules, resolveNamed);
      const plainKeys: PortKey[] = [];
      for (const { key, portRule } of expanded) {
        let parser = rule.deny ? undefined : l7ParserOf(portRule);
        // Proxies terminate TCP (HTTP, Kafka) or TCP/UDP (DNS); other protocols stay at L4.
        if (parser && !(key.protocol === 6 || (parser === 'dns' && key.protocol === 17))) parser = undefined;
        const proxyPort = parser ? PROXY_PORTS[`${parser}/${dir}`] : 0;
        for (const id of identities) {
          const e = entry(id, dirIndex, key, derivedFrom);
          e.deny = rule.deny;
          if (proxyPort) {
            e.proxyPort = proxyPort;
            e.proxyPortPriority = L7_PROXY_PORT_PRIORITY;
          }
          if (rule.authRequired && !rule.deny) {
            e.authType = AUTH_TYPE_SPIRE;
            e.hasExplicitAuthType = true;
          }
          mapState.insert(e);
        }
        if (parser) {
          const rulesList = (portRule!.l7![parser] ?? []) as unknown[];
          l7Here.push({
            endpoint: endpoint.name,
            direction: dir,
            protocol: key.protocol,
            port: key.rangeStart,
            endPort: key.rangeEnd,
            parser,
            proxyPort,
            peers: identities,
            rules: rulesList,
            derivedFrom: [derivedFrom],
          });
        } else if (!rule.deny) {
          plainKeys.push(key);
        }
      }
      if (plainKeys.length > 0) plainAllows.push({ selection, keys: plainKeys, derivedFrom });
    }

    // An L3/L4 allow for a peer on a redirected port lets every request of that peer through
    // the proxy (Cilium: a nil L7 rule for a selector allows all; rules from several policies
    // for the same port and peer are OR'ed).
    for (const rec of dedupeL7(l7Here)) {
      l7.push(rec);
      const probe = { protocol: rec.protocol, port: rec.port, prefixLen: 24, identity: 0, direction: dirIndex };
      for (const allow of plainAllows) {
        if (!allow.keys.some((k) => portProtoCovers({ ...k, identity: 0, direction: dirIndex }, probe))) continue;
        l7.push({
          ...rec,
          peers: allow.selection.wildcard ? [0] : [...allow.selection.ids].sort((a, b) => a - b),
          rules: [],
          derivedFrom: [allow.derivedFrom],
        });
      }
    }
  }

  if (endpoint.kind === 'pod') {
    // pkg/policy/mapstate.go determineAllowLocalhostIngress.
    mapState.insert(entry(ReservedIdentity.HOST, 0, { protocol: 0, port: 0, prefixLen: 0 }, ctx.rules.reserved('allow-localhost-ingress')));
  }
  return { mapState, l7, fqdnUses, policyEnabled };
}

function entry(
  identity: NumericIdentity,
  direction: number,
  key: { protocol: number; port: number; prefixLen: number },
  derivedFrom: number,
): MapStateEntry {
  return {
    identity,
    direction,
    protocol: key.protocol,
    port: key.port,
    prefixLen: key.prefixLen,
    deny: false,
    proxyPort: 0,
    proxyPortPriority: 0,
    authType: 0,
    hasExplicitAuthType: false,
    derivedFrom: [derivedFrom],
  };
}

/** One record per (port range, parser, peers, rule): a port listed twice must not double the rules. */
function dedupeL7(records: L7RuleSetRecord[]): L7RuleSetRecord[] {
  const seen = new Map<string, L7RuleSetRecord>();
  for (const r of records) {
    const k = `${r.protocol}/${r.port}/${r.endPort}/${r.parser}/${r.peers.join(',')}/${r.derivedFrom.join(',')}`;
    if (!seen.has(k)) seen.set(k, r);
  }
  return [...seen.values()];
}

