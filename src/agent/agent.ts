/**
 * The control plane: cluster objects + parsed policies -> the maps document.
 *
 * Mirrors what every Cilium agent does for its node (daemon/cmd, pkg/endpoint regeneration):
 * allocate identities, fill the ipcache, and compute each local endpoint's policy map. hubcap
 * runs that for every node at once; node-dependent facts (a node address is `host` on its own
 * node and `remote-node` elsewhere; the host identity's labels) are computed per node view.
 *
 * The output is plain, sorted data (src/maps/document.ts): the datapath loads it without ever
 * seeing YAML or rules.
 */
import type { ClusterObjects } from '../k8s/types.js';
import type { PolicyObject, PolicyRule, PolicySpec } from '../policy/types.js';
import { formatPolicyRef } from '../policy/types.js';
import { ReservedIdentity, type NumericIdentity } from '../identity/reserved.js';
import { formatCidr, formatIp, type Cidr, type IpAddress } from '../net/addr.js';
import type {
  EndpointRecord,
  IdentityRecord,
  IpcacheRecord,
  IpcacheViewRecord,
  MapsDocument,
  PolicyEntryRecord,
  PolicyMapRecord,
  RuleRecord,
  FqdnSelectorRecord,
  L7RuleSetRecord,
} from '../maps/document.js';
import { MAPS_DOCUMENT_VERSION } from '../maps/document.js';
import type { NamedPort } from '../k8s/types.js';
import { buildClusterModel, type AgentPod } from './cluster-model.js';
import { checkPolicyHeap, v8HeapUse } from './heap-guard.js';
import { hostIdentityLabels, IdentityRegistry } from './identities.js';
import { DEFAULT_AGENT_OPTIONS, type AgentOptions } from './options.js';
import { hostCidr, servicesOfPeer, worldIdentityFor } from './peers.js';
import { resolveEndpointPolicy, type ResolvedEndpoint, type RuleIndexer } from './policy-resolver.js';
import { buildServiceFrontends } from './services.js';
import { attachFqdnUses, fqdnSelectorKey, type FqdnSelectorUseOf } from './fqdn.js';

class RuleTable implements RuleIndexer {
  readonly records: RuleRecord[] = [];
  private readonly byKey = new Map<string, number>();

  indexOf(rule: PolicyRule): number {
    const ref = `${formatPolicyRef(rule.ref)}#${rule.index}`;
    return this.add(ref, {
      ref,
      source: `${rule.position.file}:${rule.position.line}`,
      kind: rule.ref.kind,
      ...(rule.ref.namespace !== undefined ? { namespace: rule.ref.namespace } : {}),
      name: rule.ref.name,
    });
  }

  reserved(reason: string): number {
    return this.add(reason, { ref: reason });
  }

  private add(key: string, record: RuleRecord): number {
    let index = this.byKey.get(key);
    if (index === undefined) {
      index = this.records.length;
      this.records.push(record);
      this.byKey.set(key, index);
    }
    return index;
  }
}

/** Every CIDR a policy names (rules and excepts), plus toServices backends without selectors. */
function collectPolicyCidrs(specs: PolicySpec[], objects: ClusterObjects): Cidr[] {
  const out: Cidr[] = [];
  for (const spec of specs) {
    for (const rule of spec.rules) {
      for (const peer of rule.peers ?? []) {
        if (peer.type === 'cidr') out.push(peer.cidr, ...peer.except);
        if (peer.type === 'service') {
          for (const svc of servicesOfPeer(objects, peer)) {
            if (svc.selector) continue;
            for (const b of objects.backends) {
              if (b.namespace === svc.namespace && b.serviceName === svc.name) out.push(...b.addresses.map(hostCidr));
            }
          }
        }
      }
    }
  }
  return out;
}

function namedPortsKey(ports: NamedPort[]): string {
  if (ports.length === 0) return '';
  return ports
    .map((p) => `${p.name}/${p.protocol}/${p.port}`)
    .sort()
    .join(',');
}

function addressText(a: IpAddress): string {
  return formatIp(a.words, a.family);
}

function hostPrefix(a: IpAddress): string {
  return `${addressText(a)}/${a.family === 4 ? 32 : 128}`;
}

function comparePrefix(a: IpcacheRecord, b: IpcacheRecord): number {
  const fa = a.prefix.includes(':') ? 6 : 4;
  const fb = b.prefix.includes(':') ? 6 : 4;
  if (fa !== fb) return fa - fb;
  return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
}

export function compileMaps(objects: ClusterObjects, policies: PolicyObject[], partial: Partial<AgentOptions> = {}): MapsDocument {
  const options: AgentOptions = { ...DEFAULT_AGENT_OPTIONS, ...partial };
  const notes = [...objects.notes];
  // What the policy parser accepted with a caveat (host bits Cilium masks, a rule with no effect,
  // an entity the CRD does not list, ...), each named by its policy and where it starts.
  for (const p of policies) for (const n of p.notes ?? []) notes.push(`${formatPolicyRef(p.ref)} (${p.position.file}:${p.position.line}): ${n}`);
  const model = buildClusterModel(objects, options.clusterName);
  notes.push(...model.notes);
  const specs = policies.flatMap((p) => p.specs);
  const hasHostPolicies = specs.some((s) => s.subject.type === 'nodes');
  const hostFirewall = options.hostFirewall ?? hasHostPolicies;
  if (hasHostPolicies && !hostFirewall) {
    notes.push('host policies are loaded but the host firewall is off (--no-host-firewall): they are not enforced');
  }

  const registry = new IdentityRegistry(model, collectPolicyCidrs(specs, objects));
  const rules = new RuleTable();

  // --- endpoints: per node (sorted), the host endpoint first, then its pods.
  const podIdentity = new Map<AgentPod, NumericIdentity>();
  for (const pod of model.pods) podIdentity.set(pod, registry.podIdentity(pod.identityLabels));
  const namedPortsByIdentity = new Map<NumericIdentity, NamedPort[]>();
  for (const pod of model.pods) {
    const id = podIdentity.get(pod)!;
    const list = namedPortsByIdentity.get(id);
    if (list) list.push(...pod.namedPorts);
    else namedPortsByIdentity.set(id, [...pod.namedPorts]);
  }
  const allNamedPorts = model.pods.flatMap((p) => p.namedPorts);

  interface Pending {
    resolved: ResolvedEndpoint;
    record: Omit<EndpointRecord, 'policyEnabled'>;
  }
  const pending: Pending[] = [];
  let nextId = 1;
  const nodeNames = [...new Set([...model.nodes.map((n) => n.name), ...model.pods.map((p) => p.node)])].sort();
  const podsByNode = new Map<string, AgentPod[]>();
  for (const pod of model.pods) {
    const list = podsByNode.get(pod.node);
    if (list) list.push(pod);
    else podsByNode.set(pod.node, [pod]);
  }
  for (const nodeName of nodeNames) {
    const node = model.nodes.find((n) => n.name === nodeName);
    if (node && hostFirewall) {
      pending.push({
        resolved: { name: `node/${node.name}`, kind: 'host', node: node.name, subjectLabels: node.hostEndpointLabels, namedPorts: [] },
        record: {
          id: nextId++,
          name: `node/${node.name}`,
          kind: 'host',
          node: node.name,
          identity: ReservedIdentity.HOST,
          labels: node.hostEndpointLabels.toStrings(),
          addresses: node.addresses.map(addressText),
          namedPorts: [],
        },
      });
    }
    for (const pod of podsByNode.get(nodeName) ?? []) {
      const name = `${pod.namespace}/${pod.name}`;
      pending.push({
        resolved: { name, kind: 'pod', node: pod.node, subjectLabels: pod.identityLabels, namedPorts: pod.namedPorts },
        record: {
          id: nextId++,
          name,
          kind: 'pod',
          namespace: pod.namespace,
          pod: pod.name,
          node: pod.node,
          identity: podIdentity.get(pod)!,
          labels: pod.identityLabels.toStrings(),
          addresses: pod.addresses.map(addressText),
          namedPorts: pod.namedPorts.map((np) => ({ ...np })),
        },
      });
    }
  }

  // --- policy maps
  const peerContext = {
    registry,
    clusterName: options.clusterName,
    dualStack: model.dualStack,
    nodes: model.nodes,
    services: objects.services,
    backends: objects.backends,
  };
  const endpoints: EndpointRecord[] = [];
  const policyMaps: PolicyMapRecord[] = [];
  const l7: L7RuleSetRecord[] = [];
  const fqdnUses: FqdnSelectorUseOf[] = [];
  const usesNodePeers = specs.some((s) => s.rules.some((r) => r.peers?.some((p) => p.type === 'nodes')));
  const hostLabelsKeyByNode = new Map(model.nodes.map((n) => [n.name, hostIdentityLabels(n).key()]));
  const policyCache = new Map<
    string,
    {
      policyEnabled: EndpointRecord['policyEnabled'];
      total: number;
      entries: PolicyEntryRecord[];
      l7: L7RuleSetRecord[];
      fqdnUses: FqdnSelectorUseOf[];
    }
  >();
  const heapUse = options.heapUse ?? v8HeapUse;
  let distinctEntries = 0;
  for (const { resolved, record } of pending) {
    // Cilium computes policy per identity and shares it among endpoints (pkg/policy
    // distillery.go selectorPolicy); what still differs per endpoint is its node's view
    // (the host identity's labels, node selectors) and its named ports.
    const cacheKey =
      resolved.kind === 'pod'
        ? `${record.identity}|${usesNodePeers ? record.node : (hostLabelsKeyByNode.get(record.node) ?? '')}|${namedPortsKey(resolved.namedPorts)}`
        : undefined;
    let computed = cacheKey !== undefined ? policyCache.get(cacheKey) : undefined;
    if (!computed) {
      const policy = resolveEndpointPolicy(resolved, specs, {
        ...peerContext,
        enablePolicy: options.enablePolicy,
        rules,
        namedPortsByIdentity,
        allNamedPorts,
      });
      const all = policy.mapState.entries();
      computed = {
        policyEnabled: policy.policyEnabled,
        total: all.length,
        l7: policy.l7,
        fqdnUses: policy.fqdnUses,
        entries: all.slice(0, options.policyMapMax).map(
          (e): PolicyEntryRecord => ({
            direction: e.direction === 0 ? 'ingress' : 'egress',
            identity: e.identity,
            protocol: e.protocol,
            port: e.port,
            prefixLen: e.prefixLen,
            verdict: e.deny ? 'deny' : e.proxyPort > 0 ? 'redirect' : 'allow',
            proxyPort: e.proxyPort,
            proxyPortPriority: e.proxyPortPriority,
            authType: e.authType,
            hasExplicitAuthType: e.hasExplicitAuthType,
            derivedFrom: e.derivedFrom,
          }),
        ),
      };
      if (cacheKey !== undefined) policyCache.set(cacheKey, computed);
      distinctEntries += computed.entries.length;
      checkPolicyHeap(heapUse(), endpoints.length + 1, pending.length, distinctEntries);
    }
    endpoints.push({ ...record, policyEnabled: computed.policyEnabled });
    const overflow = computed.total - computed.entries.length;
    if (overflow > 0) {
      notes.push(
        `policy map of ${record.name} is full: ${computed.total} entries for ${options.policyMapMax} slots ` +
          `(--bpf-policy-map-max); ${overflow} entries are not installed, as Cilium fails to regenerate such an endpoint`,
      );
    }
    // Endpoints with the same policy share one (read-only) entries array.
    policyMaps.push({ endpoint: record.name, endpointId: record.id, capacity: options.policyMapMax, overflow, entries: computed.entries });
    for (const rec of computed.l7) l7.push(rec.endpoint === record.name ? rec : { ...rec, endpoint: record.name });
    for (const u of computed.fqdnUses) fqdnUses.push(u.use.endpoint === record.name ? u : { ...u, use: { ...u.use, endpoint: record.name } });
  }

  // --- ipcache: shared entries, then each node's own view of node addresses.
  const shared: IpcacheRecord[] = [];
  const worldFamilies: Array<4 | 6> = [4, 6];
  for (const family of worldFamilies) {
    shared.push({ prefix: family === 4 ? '0.0.0.0/0' : '::/0', identity: worldIdentityFor(family, model.dualStack) });
  }
  for (const pod of model.pods) {
    for (const a of pod.addresses) shared.push({ prefix: hostPrefix(a), identity: podIdentity.get(pod)! });
  }
  for (const info of registry.cidrIdentities()) shared.push({ prefix: formatCidr(info.cidr!), identity: info.id });
  for (const a of model.externalApiserverAddresses) shared.push({ prefix: hostPrefix(a), identity: ReservedIdentity.KUBE_APISERVER });
  const dedupedShared = dedupePrefixes(shared, notes);
  dedupedShared.sort(comparePrefix);

  const views: IpcacheViewRecord[] = model.nodes.map((self) => {
    const entries: IpcacheRecord[] = [];
    for (const other of model.nodes) {
      const identity =
        other.name === self.name
          ? ReservedIdentity.HOST
          : other.hostsApiserver
            ? ReservedIdentity.KUBE_APISERVER
            : ReservedIdentity.REMOTE_NODE;
      for (const a of other.addresses) entries.push({ prefix: hostPrefix(a), identity });
    }
    return { node: self.name, entries: entries.sort(comparePrefix) };
  });
  const largestView = Math.max(0, ...views.map((v) => v.entries.length));
  const ipcacheOverflow: string[] = [];
  if (dedupedShared.length + largestView > options.ipcacheMax) {
    // Node entries are inserted first (the agent learns nodes before pods); what does not fit
    // is reported, and the datapath resolves those addresses by the next shorter prefix.
    const room = Math.max(0, options.ipcacheMax - largestView);
    for (const r of dedupedShared.slice(room)) ipcacheOverflow.push(r.prefix);
    dedupedShared.length = room;
    notes.push(
      `ipcache is full: ${ipcacheOverflow.length} prefixes do not fit in ${options.ipcacheMax} entries (--ipcache-max); ` +
        'traffic to them gets the identity of a shorter prefix, as in Cilium',
    );
  }

  // --- identities
  const identityEndpoints = new Map<NumericIdentity, string[]>();
  for (const ep of endpoints) {
    const list = identityEndpoints.get(ep.identity);
    if (list) list.push(ep.name);
    else identityEndpoints.set(ep.identity, [ep.name]);
  }
  const identities: IdentityRecord[] = [];
  for (const info of registry.all(model.nodes[0]?.name ?? '')) {
    const record: IdentityRecord = {
      identity: info.id,
      labels: info.id === ReservedIdentity.HOST ? ['reserved:host'] : info.labels.toStrings(),
      endpoints: (identityEndpoints.get(info.id) ?? []).sort(),
    };
    identities.push(record);
  }

  // --- services
  const rawPodLabels = new Map(objects.pods.map((p) => [`${p.namespace}/${p.name}`, p.labels]));
  const services = buildServiceFrontends(
    objects.services,
    objects.backends,
    model.pods.map((pod) => ({ pod, labels: rawPodLabels.get(`${pod.namespace}/${pod.name}`) ?? {} })),
    model.nodes,
  );

  // --- FQDN selectors
  const fqdn = new Map<string, FqdnSelectorRecord>();
  for (const spec of specs) {
    for (const rule of spec.rules) {
      for (const peer of rule.peers ?? []) {
        if (peer.type !== 'fqdn') continue;
        const key = fqdnSelectorKey(peer);
        const rec = fqdn.get(key) ?? {
          ...(peer.matchName !== undefined ? { matchName: peer.matchName } : {}),
          ...(peer.matchPattern !== undefined ? { matchPattern: peer.matchPattern } : {}),
          derivedFrom: [],
        };
        const idx = rules.indexOf(rule);
        if (!rec.derivedFrom.includes(idx)) rec.derivedFrom.push(idx);
        fqdn.set(key, rec);
      }
    }
  }

  attachFqdnUses(fqdn, fqdnUses);

  return {
    version: MAPS_DOCUMENT_VERSION,
    generator: 'hubcap',
    options: {
      clusterName: options.clusterName,
      enablePolicy: options.enablePolicy,
      hostFirewall,
      policyMapMax: options.policyMapMax,
      ipcacheMax: options.ipcacheMax,
      dualStack: model.dualStack,
    },
    nodes: model.nodes.map((n) => ({
      name: n.name,
      labels: n.labels,
      addresses: n.addresses.map(addressText),
      hostIdentityLabels: hostIdentityLabels(n).toStrings(),
    })),
    identities,
    endpoints,
    ipcache: { shared: dedupedShared, views, capacity: options.ipcacheMax, overflow: ipcacheOverflow },
    policyMaps,
    rules: rules.records,
    services,
    l7,
    fqdnSelectors: [...fqdn.values()],
    notes,
  };
}

/** Two objects claiming one prefix (a pod IP reused, a CIDR equal to a pod IP): the first wins. */
function dedupePrefixes(records: IpcacheRecord[], notes: string[]): IpcacheRecord[] {
  const seen = new Map<string, IpcacheRecord>();
  for (const r of records) {
    const prev = seen.get(r.prefix);
    if (prev) {
      if (prev.identity !== r.identity) {
        notes.push(`ipcache: ${r.prefix} is claimed by identities ${prev.identity} and ${r.identity}; keeping ${prev.identity}`);
      }
      continue;
    }
    seen.set(r.prefix, r);
  }
  return [...seen.values()];
}
